"""Run the benchmarks, print one table, and write it with the machine's details to
``bench/results.md`` (atomically: an interrupted run leaves the last complete file)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import ModuleType

from bench import (
    audit_speed,
    batched_generation,
    convert,
    experiments,
    gguf_vs_hf,
    qwen_vocab,
    recall,
    scan_ray,
    scoring_speed,
    serve_load,
    train_eval,
    train_gpu,
    train_loss,
)
from bench.common import Row
from bench.run_environment import details
from piifactory.io import atomic_write_text
from piifactory.tables import markdown_table, text_table

# name -> module with ``run(scale: float) -> list[Row]``. Adding a benchmark is one line here.
BENCHMARKS: dict[str, ModuleType] = {
    "scorer": scoring_speed,
    "converters": convert,
    "audit": audit_speed,
    "predict": batched_generation,
    "focal-loss": train_loss,
    "qwen-vocab": qwen_vocab,
    "entity-eval": train_eval,
    "training-gpu": train_gpu,
    "experiments": experiments,
    "recall-dial": recall,
    "gguf": gguf_vs_hf,
    "serve-load": serve_load,
    "scan-ray": scan_ray,
}
QUICK_SCALE = 0.1
RESULTS = Path(__file__).with_name("results.md")


def run_all(names: list[str], scale: float) -> tuple[list[Row], list[str]]:
    """Rows of every benchmark, and the notes (``NOTES`` of a module: what it could not measure)."""
    rows: list[Row] = []
    notes: list[str] = []
    for name in names:
        print(f"[bench] {name} (scale {scale:g}) ...", file=sys.stderr, flush=True)
        module = BENCHMARKS[name]
        rows += module.run(scale)
        notes += [f"{name}: {line}" for line in getattr(module, "NOTES", [])]
    return rows, notes


def _value(row: Row) -> str:
    return f"{row.value:,.0f}" if row.value >= 100 else f"{row.value:.2f}"


def table(rows: list[Row]) -> list[list[str]]:
    return [[r.benchmark, r.figure, _value(r), r.unit, r.note] for r in rows]


HEADER = ["benchmark", "figure", "value", "unit", "measured on"]


def render_text(rows: list[Row]) -> str:
    return text_table(HEADER, table(rows), align="llrll")


def render_markdown(rows: list[Row], machine: dict[str, str], scale: float, notes: list[str] = ()) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m bench` (`make bench`); every figure is a throughput or a",
        "ratio measured side by side in this one run. Do not edit by hand.",
        "",
    ]
    about = [[k, v] for k, v in machine.items()] + [["scale", f"{scale:g} (1 = full sizes; --quick = {QUICK_SCALE:g})"]]
    lines += [markdown_table(["machine", ""], about), "", markdown_table(HEADER, table(rows), align="llrll")]
    if notes:
        lines += ["", "Not measured in this run:", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="benchmarks of PII Factory")
    parser.add_argument("--quick", action="store_true", help=f"sizes times {QUICK_SCALE:g} (a minute or two)")
    parser.add_argument("--scale", type=float, help="sizes times this (overrides --quick)")
    parser.add_argument(
        "--only", action="append", choices=list(BENCHMARKS), help="run only this benchmark (repeatable)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    ns = parser.parse_args(argv)
    scale = ns.scale if ns.scale is not None else QUICK_SCALE if ns.quick else 1.0
    if scale <= 0:
        parser.error("--scale must be positive")
    rows, notes = run_all(ns.only or list(BENCHMARKS), scale)
    print(render_text(rows))
    atomic_write_text(ns.out, render_markdown(rows, details(), scale, notes))
    print(f"[bench] wrote {ns.out}", file=sys.stderr)
    return 0
