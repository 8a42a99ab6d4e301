"""``pii-factory scan`` on Ray Data with 2 actors against one process, on the same input and the
same detector (the tiny Qwen3, untrained, + rules), side by side in one run; both outputs are
checked equal. On a machine with few cores the two actors share them with Ray's own processes."""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.common import Row, scaled
from bench.fixtures import tiny_inference_recipe, write_alpaca_splits

FULL_SAMPLES = 256
MAX_NEW_TOKENS = 16
NOTES: list[str] = []


def run(scale: float) -> list[Row]:
    from piifactory.models.tiny_model import build
    from piifactory.synth import generate
    from workflows.scan.command import main as scan

    n = scaled(FULL_SAMPLES, scale, 32)
    NOTES.clear()
    with tempfile.TemporaryDirectory(prefix="bench-scan-ray-") as tmp, contextlib.redirect_stdout(sys.stderr):
        folder = Path(tmp)
        data = write_alpaca_splits(folder, {"train": 2})
        recipe = tiny_inference_recipe(build(folder / "tiny-qwen3"), data, dataset="pii_synth_train")
        recipe_path = folder / "recipe.yaml"
        recipe_path.write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
        source = folder / "in.jsonl"
        source.write_text(
            "".join(json.dumps({"input": s.text}, ensure_ascii=False) + "\n" for s in generate(n, seed=21)),
            encoding="utf-8",
        )
        common = [str(recipe_path), "--input", str(source), "--rules", "both", "--no-progress"]
        common += ["--max-new-tokens", str(MAX_NEW_TOKENS), "--batch-size", "8", "--part-size", "64"]
        seconds = {}
        for label, extra in (("one process", []), ("Ray, 2 actors", ["--ray", "local", "--actors", "2"])):
            started = time.perf_counter()
            if scan([*common, "--out", str(folder / f"{label}.jsonl"), *extra]) != 0:
                raise RuntimeError(f"scan ({label}) failed")
            seconds[label] = time.perf_counter() - started
        if (folder / "one process.jsonl").read_bytes() != (folder / "Ray, 2 actors.jsonl").read_bytes():
            raise RuntimeError("the Ray scan's output differs from the one-process scan's")
    note = f"{n} synthetic texts, tiny Qwen3 (untrained) + rules, max {MAX_NEW_TOKENS} new tokens, CPU; model load and Ray start-up included"
    return [
        Row("scan-ray", "one process", n / seconds["one process"], "docs/s", note),
        Row("scan-ray", "Ray Data, 2 actors", n / seconds["Ray, 2 actors"], "docs/s", note),
        Row(
            "scan-ray",
            "Ray 2 actors / one process",
            seconds["one process"] / seconds["Ray, 2 actors"],
            "x",
            "same input, same run, outputs equal",
        ),
    ]
