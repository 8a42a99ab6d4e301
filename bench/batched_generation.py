"""``eval.predict`` generation: batched against one-by-one, on the tiny local Qwen3, and what the
copy constraint (``--values copy``) adds to a decoding step.

The same prompts go through the same generator (LLaMA-Factory's template and model loader, as
``python -m eval.predict`` uses them) twice; only the batch size differs. The untrained tiny model
seldom writes a value, so the constraint is timed by replaying the gold answers (every value token
constrained) through it, batch by batch, and set against the model's own time per decoding step.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import tempfile
from pathlib import Path

import torch

from bench.common import Row, scaled, timed
from bench.fixtures import tiny_inference_recipe
from converters import Prompting, dataset_entry, merge_registry, to_chat, to_row, write_rows
from piifactory.synth import generate

FULL_SAMPLES = 32
BATCH = 8
MAX_NEW_TOKENS = 32
ROUNDS = 2  # alternated, best of each: a busy neighbour slows one round, not one side


def _recipe(model: Path, data: Path, n: int) -> dict:
    rows = (to_row(to_chat(s, Prompting()), "alpaca") for s in generate(n, seed=5))
    write_rows(data / "bench_pred.json", rows, "json")
    merge_registry(
        data / "dataset_info.json", {"bench_pred": dataset_entry("bench_pred.json", "alpaca", with_system=False)}
    )
    return tiny_inference_recipe(model, data, finetuning_type="lora", cutoff_len=512, eval_dataset="bench_pred")


def run(scale: float) -> list[Row]:
    from eval.detection.backends import hf_generator
    from eval.detection.prompts import render_prompts
    from piifactory.models.tiny_model import build

    n = scaled(FULL_SAMPLES, scale, 2 * BATCH)
    with tempfile.TemporaryDirectory(prefix="bench-predict-") as tmp, contextlib.redirect_stdout(sys.stderr):
        model = build(Path(tmp) / "tiny-qwen3")
        prompts, tokenizer, template, args = render_prompts(_recipe(model, Path(tmp), n))
        generate_fn = hf_generator(args, tokenizer, template)
        ids = [p.input_ids for p in prompts]
        generate_fn(ids[:BATCH], 4, BATCH, None)  # warm-up: first-call allocations are not generation
        batched = single = float("inf")
        for _ in range(ROUNDS):
            batched = min(batched, timed(lambda: generate_fn(ids, MAX_NEW_TOKENS, BATCH, None))[1])
            single = min(single, timed(lambda: generate_fn(ids, MAX_NEW_TOKENS, 1, None))[1])
        constraint_step, steps = _replay_constraint(tokenizer, prompts)
    model_step = batched / (MAX_NEW_TOKENS * -(-n // BATCH))  # upper bound: rows may stop early
    note = (
        f"{n} prompts, greedy, max {MAX_NEW_TOKENS} new tokens, tiny Qwen3 on CPU, best of {ROUNDS} alternated rounds"
    )
    return [
        Row("predict", f"batched generation (batch {BATCH})", n / batched, "samples/s", note),
        Row("predict", "one-by-one generation", n / single, "samples/s", note),
        Row("predict", "batched / one-by-one", single / batched, "x faster", "same prompts, same run"),
        Row(
            "predict",
            f"copy constraint, batch of {BATCH}",
            1e3 * constraint_step,
            "ms/step",
            f"{steps} steps replaying the gold answers, every value token constrained",
        ),
        Row(
            "predict",
            "copy constraint / model decoding step",
            constraint_step / model_step,
            "x",
            f"batch {BATCH}; the model step is the tiny Qwen3's (a real model's is far longer)",
        ),
    ]


def _replay_constraint(tokenizer, prompts, device: str = "cpu") -> tuple[float, int]:
    """(seconds per decoding step of the copy constraint on a batch, steps timed). On the ``meta``
    device the tensor work costs nothing: what is left is the host's share, which a GPU run pays
    on its CPU."""
    from eval.decoding.copy_constraint import CopyConstraint, token_bytes

    token_bytes(tokenizer)  # the vocabulary index is built once per tokenizer, not per step
    seconds, steps = 0.0, 0
    for begin in range(0, len(prompts), BATCH):
        chunk = prompts[begin : begin + BATCH]
        answers = [tokenizer.encode(p.label, add_special_tokens=False) for p in chunk]
        width = max(map(len, answers))
        answer_ids = torch.tensor([a + [tokenizer.pad_token_id] * (width - len(a)) for a in answers])
        ids = torch.zeros((len(chunk), 1), dtype=torch.long)
        scores = torch.zeros((len(chunk), len(tokenizer)), device=device)
        constraint = CopyConstraint(tokenizer, [p.text for p in chunk])
        constraint(ids, scores)
        for step in range(width):
            ids = torch.cat([ids, answer_ids[:, step : step + 1]], dim=1)
            fresh = scores.clone()
            seconds += timed(functools.partial(constraint, ids, fresh))[1]
            steps += 1
    return seconds / steps, steps
