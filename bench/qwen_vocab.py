"""Costs that grow with the vocabulary, on Qwen's real one: the copy constraint's index and its
share of a decoding step, and the focal loss against the default loss (step time, peak memory).

The model is the tiny Qwen3 with Qwen3's tokenizer and 151,936 logits
(``piifactory.models.tiny_model --qwen-vocab``), so the vocabulary-sized work is the users' and the
layers are small. Everything is measured side by side in one process (memory: one subprocess per
variant, as ``bench.train_loss`` does), alternating rounds and keeping each side's best.

Extrapolation to a GPU. The copy constraint is host work plus three small tensor operations
(gather, row fill, scatter). Its host share is timed with ``meta`` tensors (the tensor work is then
free), on this CPU; on a GPU the three operations are kernels on a batch x 151,936 tensor
(microseconds). The model step it is set against is Qwen's own published Transformers BF16
decoding speed on an NVIDIA H20 (QwenLM, docs/source/getting_started/speed_benchmark.md: batch 1,
input length 1, 2048 new tokens): Qwen3-0.6B 58.57 tokens/s (17.1 ms per step), Qwen3-4B 45.94
tokens/s (21.8 ms). ``eval.predict`` decodes with Transformers; a batch of 8 makes a decoding
step no shorter (it is launch- and bandwidth-bound), and a GPU server's CPU is no slower than this
shared one, so the ratios are upper bounds. The goal is under 5% for a Qwen3-0.6B-sized model.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

from bench import train_loss
from bench.batched_generation import BATCH, _recipe, _replay_constraint
from bench.common import Row, scaled, timed

# Qwen's published Transformers BF16 decoding speed on an H20 (see the module docstring), tokens/s
GPU_TOKENS_PER_S = {"Qwen3-0.6B": 58.57, "Qwen3-4B": 45.94}
GOAL = 0.05
FULL_SAMPLES = 32
MAX_NEW_TOKENS = 24
ROUNDS = 2
LOSS_BATCH = 2  # x 256 tokens: 151,936 fp32 logits are 0.3 GB per 2x256 batch, the default loss keeps ~4 copies


def run(scale: float) -> list[Row]:
    import torch

    from eval.decoding.copy_constraint import token_bytes
    from eval.detection.backends import hf_generator
    from eval.detection.prompts import render_prompts
    from piifactory.models.tiny_model import build

    n = scaled(FULL_SAMPLES, scale, 2 * BATCH)
    steps = scaled(12, scale, 4)
    with tempfile.TemporaryDirectory(prefix="bench-qwen-vocab-") as tmp, contextlib.redirect_stdout(sys.stderr):
        model_dir = build(Path(tmp) / "tiny-qwen3-vocab", qwen_vocab="qwen3", cache_dir=tmp)
        prompts, tokenizer, template, args = render_prompts(_recipe(model_dir, Path(tmp), n))
        _, index_seconds = timed(lambda: token_bytes(tokenizer))
        generate_fn = hf_generator(args, tokenizer, template)
        ids = [p.input_ids for p in prompts]
        generate_fn(ids[:BATCH], 4, BATCH, None)  # warm-up
        model_run = constraint_cpu = constraint_host = float("inf")
        for _ in range(ROUNDS):
            model_run = min(model_run, timed(lambda: generate_fn(ids, MAX_NEW_TOKENS, BATCH, None))[1])
            on_cpu, replayed = _replay_constraint(tokenizer, prompts)
            on_host, _ = _replay_constraint(tokenizer, prompts, "meta")
            constraint_cpu, constraint_host = min(constraint_cpu, on_cpu), min(constraint_host, on_host)
        model_step = model_run / (MAX_NEW_TOKENS * -(-n // BATCH))  # the random model never stops early
        medians = train_loss.time_steps(model_dir, steps, batch=LOSS_BATCH, variants=train_loss.VARIANTS)
        memory = {v: train_loss.peak_added(model_dir, v, 2, batch=LOSS_BATCH) for v in train_loss.VARIANTS}
        prompt_share = _prompt_share(model_dir)
    vocab = f"Qwen3 tokenizer, 151,936 logits, tiny layers, CPU {torch.get_num_threads()} threads"
    rows = [
        Row(
            "qwen-vocab",
            "copy constraint: vocabulary index build",
            index_seconds,
            "s",
            f"{len(tokenizer):,} tokens; once per tokenizer and process (= {index_seconds / model_step:.0f} test-model decoding steps)",
        ),
        Row(
            "qwen-vocab",
            f"copy constraint per step, batch {BATCH}",
            1e3 * constraint_cpu,
            "ms/step",
            f"{replayed} steps replaying gold answers (every value token constrained), CPU tensors",
        ),
        Row(
            "qwen-vocab",
            "copy constraint / test-model decoding step",
            constraint_cpu / model_step,
            "ratio",
            f"{vocab}; batch {BATCH}, model step {1e3 * model_step:.1f} ms; best of {ROUNDS} alternated rounds",
        ),
        Row(
            "qwen-vocab",
            f"copy constraint host work per step, batch {BATCH}",
            1e3 * constraint_host,
            "ms/step",
            "meta tensors: what a GPU run pays on its CPU (the three tensor operations become kernels)",
        ),
    ]
    for name, tokens_per_s in GPU_TOKENS_PER_S.items():
        ratio = constraint_host * tokens_per_s
        goal = f"; goal < {GOAL:g}: {'met' if ratio < GOAL else 'NOT met'}" if name == "Qwen3-0.6B" else ""
        rows.append(
            Row(
                "qwen-vocab",
                f"copy constraint / {name} GPU decoding step (extrapolated)",
                ratio,
                "ratio",
                f"host work here over Qwen's published Transformers BF16 step on an H20 ({1e3 / tokens_per_s:.1f} ms){goal}",
            )
        )
    what = f"{vocab}; batch {LOSS_BATCH}x{train_loss.SEQ}, gamma {train_loss.GAMMA:g}"
    rows += [
        Row(
            "qwen-vocab",
            "focal / default loss: step time",
            medians["focal"] / medians["default"],
            "ratio",
            f"{what}; median of {steps} interleaved fwd+bwd steps each ({medians['default']:.2f} s default); goal <= 1.05",
        ),
        Row(
            "qwen-vocab",
            "focal / default loss: peak memory",
            memory["focal"]["added_mb"] / memory["default"]["added_mb"],
            "ratio",
            f"{what}; RSS high-water added by the steps, one subprocess per variant "
            f"({memory['default']['added_mb']:.0f} vs {memory['focal']['added_mb']:.0f} MB); goal <= 1.05",
        ),
        Row(
            "qwen-vocab",
            "focal, answer logits only / all logits: step time",
            medians["focal-answer"] / medians["focal"],
            "ratio",
            f"{what}; focal_loss.skip_prompt_logits (logits_to_keep), {prompt_share:.0%} of positions skipped; "
            f"median of {steps} interleaved steps ({medians['focal']:.2f} vs {medians['focal-answer']:.2f} s)",
        ),
        Row(
            "qwen-vocab",
            "focal, answer logits only / all logits: peak memory",
            memory["focal-answer"]["added_mb"] / memory["focal"]["added_mb"],
            "ratio",
            f"{what}; RSS high-water added by the steps ({memory['focal']['added_mb']:.0f} vs "
            f"{memory['focal-answer']['added_mb']:.0f} MB)",
        ),
    ]
    return rows


def _prompt_share(model_dir: Path) -> float:
    """Share of the bench batch's positions whose logits ``skip_prompt_logits`` skips."""
    from plugins.focal_loss import answer_window

    _, labels = train_loss.make_batch(model_dir, LOSS_BATCH)
    return answer_window(labels) / labels.size(1)
