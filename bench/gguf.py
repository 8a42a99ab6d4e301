"""llama.cpp on CPU against HF for the same trained model: decoding speed, file size and entity F1
of the f16, q8_0 and q4_k_m GGUFs, measured side by side in one run.

The model is `make demo`'s tiny Qwen3 (outputs/tiny_cpu_demo) on its test split: an untrained model
would make the F1 column meaningless. Both sides decode one prompt at a time (a single ollama user),
greedy, copy-constrained values, through ``eval.predict`` (:func:`piifactory.export.verify.measure`).
The tiny model's tokenizer is exported with ``--pre-tokenizer qwen2`` (llama.cpp is fed the training
ids, so this does not change what is measured).
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

from bench.common import Row, scaled

REPO = Path(__file__).resolve().parents[1]
DEMO_MODEL = REPO / "outputs/tiny_cpu_demo"
FULL_SAMPLES = 64
NOTES: list[str] = []


def run(scale: float) -> list[Row]:
    from eval.recipe import load_recipe
    from piifactory.export.gguf import QUANTS, ExportPlan, export_ggufs
    from piifactory.export.verify import measure
    from piifactory.llamacpp import ensure

    if not (DEMO_MODEL / "model.safetensors").exists() or not (REPO / "data/pii_synth_test.json").exists():
        NOTES.append(f"no trained demo model in {DEMO_MODEL} (or no data/pii_synth_test.json): run `make demo` first")
        return []
    n = scaled(FULL_SAMPLES, scale, 8)
    recipe = load_recipe(
        REPO / "llamafactory_configs/tiny_cpu_demo.yaml", [f"model_name_or_path={DEMO_MODEL}", f"dataset_dir={REPO}"]
    )
    with tempfile.TemporaryDirectory(prefix="bench-gguf-") as tmp, contextlib.redirect_stdout(sys.stderr):
        plan = ExportPlan(recipe, Path(tmp), QUANTS, pre_tokenizer="qwen2")
        export_ggufs(plan, ensure())
        rows = measure(
            recipe,
            DEMO_MODEL,
            {q: plan.gguf(q) for q in QUANTS},
            Path(tmp) / "verify",
            dataset="pii_synth_test",
            limit=n,
            batch_size=1,
        )
    hf = rows[0]
    note = f"{n} test prompts of the demo model, one at a time, greedy, CPU"
    out: list[Row] = []
    for row in rows:
        name = "HF (transformers)" if row.label == "hf" else f"llama.cpp {row.label}"
        out.append(Row("gguf", f"{name} decoding", row.tokens_per_second, "tokens/s", note))
        if row.label != "hf":
            out.append(
                Row(
                    "gguf",
                    f"llama.cpp {row.label} / HF",
                    row.tokens_per_second / hf.tokens_per_second,
                    "x faster",
                    "same prompts, same run",
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
