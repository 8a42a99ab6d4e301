"""llama.cpp on CPU against HF for the same trained model: decoding speed, file size and entity F1
of the f16, q8_0 and q4_k_m GGUFs, measured side by side in one run.

The model is `make demo`'s tiny Qwen3 (``outputs/tiny_cpu_demo`` and ``data/pii_synth_test.json`` in
the working directory, as ``make bench`` runs it from the repository; another demo workspace works
from its own folder) on its test split: an untrained model would make the F1 column meaningless.
Both sides decode one prompt at a time (a single ollama user), greedy, copy-constrained values,
through ``eval.predict`` (:func:`workflows.export.verify.measure`); tokens/s is over the whole
predict run, model load and prompt rendering included, on torch's thread count for both, best of ``ROUNDS``
alternated rounds. The tiny model's tokenizer is exported with ``--pre-tokenizer qwen2`` (llama.cpp is fed the training
ids, so this does not change what is measured).
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

from bench.common import Row, scaled

REPO = Path(__file__).resolve().parents[1]
DEMO_MODEL = Path("outputs/tiny_cpu_demo")
TEST_SPLIT = Path("data/pii_synth_test.json")
FULL_SAMPLES = 64
ROUNDS = 3
"""HF, f16, q8_0, q4_k_m in turn, this many times; each one's fastest round counts: on a busy
machine one run's wall time swings with what else runs (a single round has given f16 25 tokens/s
and q4_k_m 1,008 with identical answers)."""
NOTES: list[str] = []


def run(scale: float) -> list[Row]:
    import torch

    from eval.detection.inference_args import load_recipe
    from piifactory.models.llamacpp import ensure
    from workflows.export.gguf import QUANTS, ExportPlan, export_ggufs
    from workflows.export.verify import measure

    NOTES.clear()
    if not (DEMO_MODEL / "model.safetensors").exists() or not TEST_SPLIT.exists():
        NOTES.append(f"no trained demo model in {DEMO_MODEL} (or no {TEST_SPLIT}): run `make demo` first")
        return []
    n = scaled(FULL_SAMPLES, scale, 8)
    model = DEMO_MODEL.resolve()
    recipe = load_recipe(
        REPO / "llamafactory_configs/tiny_cpu_demo.yaml", [f"model_name_or_path={model}", f"dataset_dir={Path.cwd()}"]
    )
    with tempfile.TemporaryDirectory(prefix="bench-gguf-") as tmp, contextlib.redirect_stdout(sys.stderr):
        plan = ExportPlan(recipe, Path(tmp), QUANTS, pre_tokenizer="qwen2")
        export_ggufs(plan, ensure())
        rounds = [
            measure(
                recipe,
                model,
                {q: plan.gguf(q) for q in QUANTS},
                Path(tmp) / f"verify-{i}",
                dataset="pii_synth_test",
                limit=n,
                batch_size=1,
            )
            for i in range(ROUNDS)
        ]
    rows = rounds[0]
    speed = {row.label: max(rnd[k].tokens_per_second for rnd in rounds) for k, row in enumerate(rows)}
    note = (
        f"{n} test prompts of the demo model, one at a time, greedy, CPU ({torch.get_num_threads()} threads each); "
        "whole predict run, model load included; best of {ROUNDS} alternated rounds"
    )
    out: list[Row] = []
    for row in rows:
        name = "HF (transformers)" if row.label == "hf" else f"llama.cpp {row.label}"
        out.append(Row("gguf", f"{name} decoding", speed[row.label], "tokens/s", note))
        if row.label != "hf":
            out.append(
                Row(
                    "gguf",
                    f"llama.cpp {row.label} / HF",
                    speed[row.label] / speed["hf"],
                    "x faster",
                    "same prompts, best rounds of one run",
                )
            )
        out.append(
            Row(
                "gguf",
                f"{name} size",
                row.size_bytes / 2**20,
                "MiB",
                "safetensors" if row.label == "hf" else "GGUF file",
            )
        )
        out.append(
            Row("gguf", f"{name} entity F1", row.f1, "F1", f"{row.same_as_hf}/{row.samples} answers identical to HF")
        )
    return out
