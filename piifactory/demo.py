"""`make demo`: the main job end to end on a CPU machine, each stage timed.

Stages: synthetic data -> LLaMA-Factory dataset -> tiny Qwen3 -> stock `llamafactory-cli train`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from piifactory.io import atomic_write_text
from piifactory.schema import DEFAULT_INSTRUCTION, target_text
from piifactory.synth import generate
from piifactory.tiny_model import build

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _stage(name: str, started: list[float]) -> None:
    now = time.perf_counter()
    print(f"[demo] {name}: {now - started[0]:.1f}s", flush=True)
    started[0] = now


def main() -> int:
    clock = [time.perf_counter()]
    data = REPO / "data"
    for split, n, seed in (("train", 1500, 1), ("val", 100, 2), ("test", 200, 3)):
        rows = [
            {"instruction": DEFAULT_INSTRUCTION, "input": s.text, "output": target_text(s.entities, s.text)}
            for s in generate(n, seed)
        ]
        atomic_write_text(data / f"pii_synth_{split}.json", json.dumps(rows, ensure_ascii=False))
    _stage("synthetic data", clock)
    build(REPO / ".cache/tiny-qwen3")
    _stage("tiny model", clock)
    recipe = REPO / "llamafactory_configs/tiny_cpu_demo.yaml"
    subprocess.run([str(BIN / "llamafactory-cli"), "train", str(recipe)], cwd=REPO, check=True)
    _stage("training", clock)
    print(f"[demo] model and logs in {REPO / 'outputs/tiny_cpu_demo'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
