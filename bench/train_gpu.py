"""On a CUDA machine: tokens/s of a Qwen-sized LoRA training step, and HF vs vLLM prediction.

No hub is needed: the model is Qwen3-0.6B's shape (``plugins.preflight.models.config_json``, the
preflight's shape table; random bf16 weights: speed does not depend on the weights). Each figure names the
device. Without CUDA the module returns no row (a CPU figure would not be this benchmark) and
leaves a line in ``NOTES``; without vLLM installed (it lives in a separate serving environment)
the vLLM figure is left out the same way.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from bench.common import Row, scaled
from plugins.preflight.models import QWEN_SPECS, config_json

QWEN3_06B = config_json(QWEN_SPECS["qwen3-0.6b"])
NOTES: list[str] = []


def _note(line: str) -> None:
    NOTES.append(line)
    print(f"[bench] training-gpu: {line}", file=sys.stderr, flush=True)


def qwen_model(shape: dict, device: str, dtype):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(AutoConfig.for_model(**shape)).to(device=device, dtype=dtype)


def lora_tokens_per_s(model, batch: int, seq: int, steps: int) -> float:
    """LoRA r16 on all linear layers, AdamW, fwd+bwd+step on full ``batch x seq`` rows."""
    import torch
    from peft import LoraConfig, get_peft_model

    device = next(model.parameters()).device
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"))
    model.gradient_checkpointing_enable()
    model.enable_input_require_grads()
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(0, model.config.vocab_size, (batch, seq), device=device)

    def step() -> None:
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optim.step()
        optim.zero_grad(set_to_none=True)

    step()  # warm-up
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return batch * seq * steps / (time.perf_counter() - start)


def hf_generate_tokens_per_s(model, prompts: int, prompt_len: int, new_tokens: int) -> float:
    import torch

    device = next(model.parameters()).device
    ids = torch.randint(0, model.config.vocab_size, (prompts, prompt_len), device=device)
    with torch.no_grad():
        model.generate(ids[:, :8], max_new_tokens=4, do_sample=False)  # warm-up
        _sync(device)
        start = time.perf_counter()
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
        )
        _sync(device)
    return (out.shape[1] - prompt_len) * prompts / (time.perf_counter() - start)


def vllm_tokens_per_s(model_dir: Path, prompts: int, prompt_len: int, new_tokens: int) -> float:
    import random

    from vllm import LLM, SamplingParams

    llm = LLM(model=str(model_dir), dtype="bfloat16", skip_tokenizer_init=True, gpu_memory_utilization=0.5, seed=0)
    rng = random.Random(0)
    batch = [{"prompt_token_ids": [rng.randrange(1000, 100_000) for _ in range(prompt_len)]} for _ in range(prompts)]
    params = SamplingParams(
        temperature=0.0, max_tokens=new_tokens, min_tokens=new_tokens, ignore_eos=True, detokenize=False
    )
    llm.generate(batch[:2], params)  # warm-up
    start = time.perf_counter()
    outs = llm.generate(batch, params)
    seconds = time.perf_counter() - start
    return sum(len(o.outputs[0].token_ids) for o in outs) / seconds


def _sync(device) -> None:
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def run(scale: float) -> list[Row]:
    import torch

    NOTES.clear()
    if not torch.cuda.is_available():
        _note("skipped: no CUDA (Qwen-sized LoRA step and HF vs vLLM prediction need a GPU)")
        return []
    device = torch.cuda.get_device_name(0)
    steps, prompts = scaled(20, scale, 5), scaled(64, scale, 16)
    batch, seq, prompt_len, new_tokens = 4, 1024, 256, 128
    model = qwen_model(QWEN3_06B, "cuda", torch.bfloat16)
    rows = [
        Row(
            "training-gpu",
            "Qwen3-0.6B-shaped LoRA r16 step",
            lora_tokens_per_s(model, batch, seq, steps),
            "tokens/s",
            f"{device}; bf16, batch {batch}x{seq}, all-linear LoRA, gradient checkpointing, AdamW, {steps} steps",
        )
    ]
    del model
    torch.cuda.empty_cache()
    model = qwen_model(QWEN3_06B, "cuda", torch.bfloat16).eval()
    hf = hf_generate_tokens_per_s(model, prompts, prompt_len, new_tokens)
    what = f"{device}; bf16 Qwen3-0.6B shape, {prompts} prompts x {prompt_len} tokens, {new_tokens} new tokens each, greedy"
    rows.append(Row("training-gpu", "HF generate (one batch)", hf, "tokens/s", what))
    try:
        import vllm  # noqa: F401
    except ImportError:
        _note("vLLM prediction skipped: vllm is not installed in this environment (install it in a serving venv)")
        return rows
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        model.save_pretrained(tmp)
        del model
        torch.cuda.empty_cache()
        vl = vllm_tokens_per_s(Path(tmp), prompts, prompt_len, new_tokens)
    rows += [
        Row("training-gpu", "vLLM generate", vl, "tokens/s", what),
        Row("training-gpu", "vLLM / HF prediction", vl / hf, "ratio", what),
    ]
    return rows
