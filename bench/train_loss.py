"""Focal loss against LLaMA-Factory's default loss on the tiny model: step time and peak memory.

Step time: one interpreter, one model, one fixed batch; each step is ``zero_grad`` + forward +
loss + backward, the two variants alternate step by step (the order flips every round) after a
warm-up step each, and the ratio is of the medians. The default loss is the model's own
``loss_function`` (transformers' ``ForCausalLMLoss``, what LLaMA-Factory trains with); the focal
loss is ``plugins.focal_loss.make_loss_func`` with the recipes' settings (gamma 2, weight 1),
both given the same ``num_items_in_batch``.

Peak memory: torch has no allocator statistics on CPU (tracemalloc does not see its buffers),
so each variant runs in a fresh interpreter with glibc's mmap threshold fixed at 64 KiB (large
buffers are returned to the system when freed, so RSS follows live tensors), does warm-up steps,
resets the kernel's RSS high-water mark (``/proc/self/clear_refs``), and reports ``VmHWM`` over
the measured steps minus ``VmRSS`` just before them: the memory a step adds on top of the loaded
model and batch (logits, activations, loss intermediates, gradients). The ratio is focal over
default.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import bench.train_loss
from bench.common import Row, scaled
from piifactory.child import python_m

REPO = Path(__file__).resolve().parents[1]
BATCH, SEQ = 8, 256
GAMMA = 2.0
WARMUP = 3  # the first steps on CPU are several times slower (allocator, kernel selection)


def build_model(where: Path) -> Path:
    from piifactory.models.tiny_model import build

    return build(where / "tiny-qwen3")


def make_batch(model_dir: Path, batch: int = BATCH, seq: int = SEQ):
    """Prompt + answer of synthetic samples, prompt tokens masked out of the labels, right-padded."""
    import torch
    from transformers import AutoTokenizer

    from piifactory.answer import target_text
    from piifactory.schema import DEFAULT_INSTRUCTION
    from piifactory.synth import generate

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    ids = torch.full((batch, seq), tokenizer.pad_token_id or 0)
    labels = torch.full((batch, seq), -100)
    mask = torch.zeros((batch, seq), dtype=torch.long)
    for row, sample in enumerate(generate(batch, seed=7)):
        prompt = tokenizer.encode(f"{DEFAULT_INSTRUCTION}\n{sample.text}\n")
        answer = tokenizer.encode(target_text(sample.entities, sample.text))
        tokens = (prompt + answer)[:seq]
        ids[row, : len(tokens)] = torch.tensor(tokens)
        mask[row, : len(tokens)] = 1
        labels[row, len(prompt) : len(tokens)] = torch.tensor(tokens[len(prompt) :])
    return {"input_ids": ids, "attention_mask": mask}, labels


def load(model_dir: Path):
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.train()
    return model


# "default": the model's own loss (LLaMA-Factory's); "focal": the plugin's loss on every position's
# logits; "focal-answer": the same loss with the forward skipping the logits of positions that are
# prompt in every row (``focal_loss.skip_prompt_logits``, what the plugin's trainer does).
VARIANTS = ("default", "focal", "focal-answer")


def step_fn(model, inputs, labels, variant: str):
    """One zero_grad + forward + loss + backward with the variant's loss."""
    from plugins.focal_loss import answer_window, make_loss_func

    focal = make_loss_func(GAMMA, 1.0)
    items = int((labels[:, 1:] != -100).sum())
    start = answer_window(labels)

    def step() -> float:
        model.zero_grad(set_to_none=True)
        if variant == "focal-answer":
            outputs = model(**inputs, logits_to_keep=labels.size(1) - start)
            loss = focal(outputs, labels[:, start:], num_items_in_batch=items)
        elif variant == "focal":
            loss = focal(model(**inputs), labels, num_items_in_batch=items)
        else:
            outputs = model(**inputs)
            loss = model.loss_function(
                outputs.logits, labels, vocab_size=model.config.vocab_size, num_items_in_batch=items
            )
        loss.backward()
        return float(loss.detach())

    return step


def time_steps(
    model_dir: Path, steps: int, batch: int = BATCH, variants: tuple[str, ...] = ("default", "focal")
) -> dict[str, float]:
    """Median seconds per step of each variant, interleaved (the order reverses every round)."""
    model = load(model_dir)
    inputs, labels = make_batch(model_dir, batch)
    fns = {v: step_fn(model, inputs, labels, v) for v in variants}
    for _ in range(WARMUP):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {v: [] for v in fns}
    for round_ in range(steps):
        for variant in variants if round_ % 2 == 0 else variants[::-1]:
            start = time.perf_counter()
            fns[variant]()
            times[variant].append(time.perf_counter() - start)
    return {v: statistics.median(t) for v, t in times.items()}


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith(field + ":"))


def child(model_dir: Path, variant: str, steps: int, batch: int = BATCH) -> dict[str, float]:
    """In a fresh interpreter: RSS added by ``steps`` steps of one variant (high-water minus before)."""
    model = load(model_dir)
    inputs, labels = make_batch(model_dir, batch)
    fn = step_fn(model, inputs, labels, variant)
    for _ in range(WARMUP):
        fn()
    model.zero_grad(set_to_none=True)
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # VmHWM := VmRSS
    before = _status_kb("VmRSS")
    for _ in range(steps):
        fn()
    peak = _status_kb("VmHWM")
    return {"variant": variant, "before_mb": before / 1024, "peak_mb": peak / 1024, "added_mb": (peak - before) / 1024}


def peak_added(model_dir: Path, variant: str, steps: int, batch: int = BATCH) -> dict[str, float]:
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    proc = subprocess.run(
        [
            *python_m(bench.train_loss),
            "--child",
            str(model_dir),
            variant,
            str(steps),
            "--batch",
            str(batch),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench.train_loss child ({variant}) failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(scale: float) -> list[Row]:
    import torch

    steps = scaled(40, scale, 8)
    with tempfile.TemporaryDirectory(prefix="bench-train-loss-") as tmp:
        model_dir = build_model(Path(tmp))
        medians = time_steps(model_dir, steps)
        memory = {v: peak_added(model_dir, v, 3) for v in ("default", "focal")}
    what = f"tiny Qwen3 fp32, batch {BATCH}x{SEQ}, gamma {GAMMA:g}, {torch.get_num_threads()} threads"
    return [
        Row(
            "training",
            "focal / default loss: step time",
            medians["focal"] / medians["default"],
            "ratio",
            f"{what}; median of {steps} interleaved fwd+bwd steps each ({medians['default'] * 1e3:.0f} ms default); goal <= 1.05",
        ),
        Row(
            "training",
            "focal / default loss: peak memory",
            memory["focal"]["added_mb"] / memory["default"]["added_mb"],
            "ratio",
            f"{what}; RSS high-water added by the steps, one subprocess per variant "
            f"({memory['default']['added_mb']:.0f} vs {memory['focal']['added_mb']:.0f} MB); goal <= 1.05",
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=3, metavar=("MODEL_DIR", "VARIANT", "STEPS"), required=True)
    parser.add_argument("--batch", type=int, default=BATCH)
    ns = parser.parse_args()
    model_dir, variant, n = ns.child
    print(json.dumps(child(Path(model_dir), variant, int(n), ns.batch)))
