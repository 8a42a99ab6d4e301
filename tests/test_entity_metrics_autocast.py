"""The entity metric generates under the trainer's mixed precision (found on the H200 check).

LLaMA-Factory's QLoRA recipes set ``upcast_layernorm``: the norms are fp32 while the 16-bit
``lm_head`` is not, so the final norm hands the head fp32 hidden states. The Trainer's own forwards
run under accelerate's autocast and never notice; ``model.generate`` called outside it failed in
the first evaluation (``expected scalar type Float but found BFloat16``). bf16 runs on CPU here, so
the same evaluation goes through the SFT trainer with the plugin on the tiny Qwen3, its norms
upcast the way LLaMA-Factory upcasts them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq

from piifactory import lf_compat
from piifactory.answer import target_text
from piifactory.schema import DEFAULT_INSTRUCTION
from piifactory.synth import generate
from plugins.options import parse_options
from plugins.trainer import plugin_trainer_class


@pytest.mark.slow
def test_entity_metrics_generate_under_bf16_with_upcast_norms(tiny_model: Path, tmp_path: Path) -> None:
    from llamafactory.extras.constants import LAYERNORM_NAMES
    from llamafactory.hparams import FinetuningArguments, TrainingArguments

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.bfloat16)
    for name, param in model.named_parameters():  # what upcast_layernorm does in prepare_model_for_training
        if param.ndim == 1 and any(norm in name for norm in LAYERNORM_NAMES):
            param.data = param.data.to(torch.float32)
    assert model.lm_head.weight.dtype == torch.bfloat16 and model.model.norm.weight.dtype == torch.float32
    # the LoRA wrapper, as in training: accelerate's autocast then wraps the PeftModel's forward
    # only, while generate reaches the inner model's forward through peft's own generate
    model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM"))
    rows = []
    for sample in generate(2, seed=5):
        prompt = tokenizer.encode(
            f"<|im_start|>user\n{DEFAULT_INSTRUCTION}\n{sample.text}<|im_end|>\n<|im_start|>assistant\n"
        )
        target = tokenizer.encode(target_text(sample.entities) + "<|im_end|>\n")
        rows.append(
            {
                "input_ids": prompt + target,
                "attention_mask": [1] * (len(prompt) + len(target)),
                "labels": [-100] * len(prompt) + target,
            }
        )
    options = parse_options({"entity_metrics": {"eval_samples": 2, "batch_size": 2, "max_new_tokens": 8}})
    trainer_class = plugin_trainer_class(lf_compat.SFT_TRAINER.get(), options)
    args = TrainingArguments(
        output_dir=str(tmp_path), bf16=True, use_cpu=True, per_device_eval_batch_size=2, report_to="none"
    )
    trainer = trainer_class(
        finetuning_args=FinetuningArguments(),
        processor=None,
        gen_kwargs={"eos_token_id": [tokenizer.convert_tokens_to_ids("<|im_end|>")]},
        model=model,
        args=args,
        tokenizer=tokenizer,
        eval_dataset=rows,
        data_collator=DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100),
    )
    metrics = trainer.evaluate()
    assert 0.0 <= metrics["eval_entity_f1"] <= 1.0 and "eval_loss" in metrics
