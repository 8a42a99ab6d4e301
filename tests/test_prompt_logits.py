"""The focal loss skips the logits of positions that are prompt in every row of the batch.

With Qwen's 152k vocabulary those logits (and their fp32 copies) are the largest tensors of a step,
and the loss never reads them. The trainer passes ``logits_to_keep`` from the first position a
label needs and cuts the labels to match: the loss and every gradient stay the same.
"""

from __future__ import annotations

from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from piifactory import lf_compat
from plugins.focal_loss import answer_window
from plugins.options import parse_options
from plugins.trainer import plugin_trainer_class


def test_answer_window_is_the_last_position_before_the_first_label() -> None:
    labels = torch.full((3, 10), -100)
    labels[0, 6:9] = 5
    labels[1, 4:7] = 5  # the earliest answer of the batch: its logits start at position 3
    labels[2, 8:] = 5
    assert answer_window(labels) == 3
    assert answer_window(torch.full((2, 4), -100)) == 0  # nothing supervised: keep everything
    assert answer_window(torch.tensor([[7, 7, -100]])) == 0


def _trainer(tiny_model: Path, tmp_path: Path):
    from llamafactory.hparams import FinetuningArguments, TrainingArguments

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM"))
    options = parse_options(
        {"focal_loss": {"gamma": 1.0, "entity_token_weight": 2.0}, "entity_metrics": {"enabled": False}}
    )
    trainer = plugin_trainer_class(lf_compat.SFT_TRAINER.get(), options)(
        finetuning_args=FinetuningArguments(),
        processor=None,
        gen_kwargs={},
        model=model,
        args=TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none"),
        tokenizer=tokenizer,
    )
    return trainer, model, tokenizer


def test_the_trainer_skips_prompt_logits_and_keeps_loss_and_gradients(tiny_model: Path, tmp_path: Path) -> None:
    trainer, model, tokenizer = _trainer(tiny_model, tmp_path)
    assert trainer.skips_prompt_logits
    prompts = ["李娜的电话是多少？请回答。", "邮箱", "今天天气很好，张伟在家。"]
    answer = '{"entities": [{"type": "PERSON", "value": "张伟"}]}'
    rows = [(tokenizer.encode(p), tokenizer.encode(answer)) for p in prompts]
    width = max(len(p) + len(a) for p, a in rows)
    input_ids = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full_like(input_ids, -100)
    for i, (prompt, target) in enumerate(rows):
        input_ids[i, : len(prompt) + len(target)] = torch.tensor(prompt + target)
        labels[i, len(prompt) : len(prompt) + len(target)] = torch.tensor(target)
    inputs = {"input_ids": input_ids, "attention_mask": (input_ids != 0).long(), "labels": labels}
    shortest_prompt = min(len(p) for p, _ in rows)
    assert answer_window(labels) == shortest_prompt - 1 > 0

    seen: list[int] = []
    hook = model.get_base_model().lm_head.register_forward_hook(lambda _m, args, _o: seen.append(args[0].size(1)))
    items = torch.tensor(int((labels[:, 1:] != -100).sum()))
    trimmed = trainer.compute_loss(model, dict(inputs), num_items_in_batch=items)
    trimmed.backward()
    trimmed_grads = [p.grad.clone() for p in model.parameters() if p.requires_grad]
    model.zero_grad()
    trainer.skips_prompt_logits = False
    full = trainer.compute_loss(model, dict(inputs), num_items_in_batch=items)
    full.backward()
    hook.remove()
    assert seen == [width - shortest_prompt + 1, width]  # the head saw only the answer window, then all
    torch.testing.assert_close(trimmed, full, rtol=1e-6, atol=1e-7)
    for ours, stock in zip(trimmed_grads, (p.grad for p in model.parameters() if p.requires_grad)):
        torch.testing.assert_close(ours, stock, rtol=1e-5, atol=1e-8)
