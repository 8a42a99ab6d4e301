"""The benchmark runner end to end at tiny sizes: a results file with the machine and every row."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import suite as runner
from bench.common import Row


@pytest.mark.slow
def test_runner_writes_results_with_machine_and_rows(tmp_path: Path, capsys) -> None:
    out = tmp_path / "results.md"
    mine = ["--only", "scorer", "--only", "converters", "--only", "predict"]  # the training modules test themselves
    assert runner.main([*mine, "--scale", "0.001", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    for key in ("cpu", "cores", "ram", "python", "torch", "transformers", "llamafactory", "date", "scale | 0.001"):
        assert f"| {key}" in text, key
    figures = [
        "score_generations",
        "span counting vs nervaluate",
        "convert (check + split + write)",
        "peak RSS 10000 / 1000 records",
        "batched generation (batch 8)",
        "one-by-one generation",
        "batched / one-by-one",
        "copy constraint, batch of 8",
        "copy constraint / model decoding step",
    ]
    printed = capsys.readouterr().out
    for figure in figures:
        assert f"| {figure} |" in text and figure in printed, figure
    assert len([line for line in text.splitlines() if line.startswith("| ") and " | " in line]) >= len(figures)


def test_adding_a_benchmark_is_one_entry(monkeypatch, tmp_path: Path) -> None:
    import types

    module = types.ModuleType("bench_fake")
    module.run = lambda scale: [Row("fake", "ratio", 1.5 * scale, "x")]
    monkeypatch.setitem(runner.BENCHMARKS, "fake", module)
    out = tmp_path / "r.md"
    assert runner.main(["--only", "fake", "--scale", "2", "--out", str(out)]) == 0
    assert "| fake | ratio | 3.00 | x |" in out.read_text(encoding="utf-8")


@pytest.mark.slow
def test_recall_dial_benchmark_times_every_mechanism(tmp_path: Path, monkeypatch) -> None:
    """Without the demo's model the dial's benchmark times each mechanism on an untrained model
    and says that quality needs `make demo`."""
    monkeypatch.chdir(tmp_path)  # no outputs/tiny_cpu_demo here
    out = tmp_path / "results.md"
    assert runner.main(["--only", "recall-dial", "--scale", "0.001", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    for mechanism in (
        "plain greedy (free values)",
        "+ copy-constrained values",
        "+ structure-safe decoding",
        "+ recall bias 4, thresholds chosen on validation",
        "+ second look",
        "+ rules union",
    ):
        assert f"| {mechanism}: time |" in text, mechanism
    assert "| plain greedy (free values): time | 1.00 |" in text
    assert "quality rows need `make demo` first" in text


def test_gguf_benchmark_without_a_demo_model_says_so(tmp_path: Path, monkeypatch) -> None:
    """It measures the demo's trained model from the working directory (tests/test_export_gguf.py runs it
    on the quick demo's); without one it writes no rows and a note, and builds nothing."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "results.md"
    assert runner.main(["--only", "gguf", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "- gguf: no trained demo model in outputs/tiny_cpu_demo" in text and "| gguf |" not in text
