"""The GGUF export answers like the trained model, verified by llama.cpp itself (CPU).

The trained model is the quick demo's tiny Qwen3 (conftest.quick_demo, trained once per session and
shared with tests/test_demo.py). Its tokenizer is the pack's
own, whose pre-tokenizer llama.cpp does not know, so it is exported with ``--pre-tokenizer qwen2``
and llama.cpp is fed the training token ids: these tests prove the weights, the graph and the
quantisation (f16 answers equal HF's, q8_0 F1 within 0.01, q4_k_m measured), the Modelfile and the
card. That the GGUF's own tokenizer turns the rendered prompt text into the training ids is proven
on a model with Qwen's real vocabulary, whose pre-tokenizer the converter recognises
(tests/test_export_qwen_vocab.py).

The first test here builds the llama.cpp toolchain if it is not cached (``make llamacpp``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import workflows.export
from bench import suite as runner
from piifactory.answer import extract
from piifactory.child import python_m
from tests.conftest import REPO, QuickDemo, run_cli

pytestmark = pytest.mark.slow
SAMPLES = 100
"""Test prompts for the comparisons: at 24 (about 50 entities) one entity decided differently moves F1
by more than 0.01, so "within 0.01" meant "no entity differs"; a trained model's q8_0 export failed
that on one entity (0.931 against 0.941), and at 100 prompts the same export differs on one answer:
0.979 against 0.982."""


@pytest.fixture(scope="module")
def demo_export(quick_demo: QuickDemo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root, demo = quick_demo
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-3000:]
    model = quick_demo.model
    out = tmp_path_factory.mktemp("export") / "pii-tiny"
    result = run_cli(
        [
            *python_m(workflows.export),
            "gguf",
            str(REPO / "llamafactory_configs/tiny_cpu_demo.yaml"),
            f"model_name_or_path={model}",
            f"dataset_dir={root}",
            "--out",
            str(out),
            "--verify",
            str(SAMPLES),
            "--dataset",
            "pii_synth_test",
            "--pre-tokenizer",
            "qwen2",
            "--metrics",
            str(model / "report/score.json"),
        ],
        timeout=3600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return out


def measured(out: Path) -> dict[str, dict]:
    return {row["label"]: row for row in json.loads((out / "verify/measured.json").read_text(encoding="utf-8"))}


def answers(out: Path, label: str) -> dict[str, str]:
    lines = (out / f"verify/predictions-{label}.jsonl").read_text(encoding="utf-8").splitlines()
    return {row["id"]: row["predict"] for row in map(json.loads, lines)}


def test_f16_gives_the_same_greedy_answers_as_hf(demo_export: Path) -> None:
    hf, f16 = answers(demo_export, "hf"), answers(demo_export, "f16")
    assert len(hf) == len(f16) == SAMPLES
    # identical answers prove something only if the model answers: about two thirds of the test
    # samples hold entities (a third are negatives); HF's answers name some in at least half
    with_entities = sum(bool(extract(answer).entities) for answer in hf.values())
    assert with_entities >= SAMPLES // 2, hf
    different = {key: (hf[key], f16[key]) for key in hf if hf[key] != f16[key]}
    assert not different, different


def test_q8_0_entity_f1_within_0_01_of_hf(demo_export: Path) -> None:
    rows = measured(demo_export)
    assert rows["hf"]["f1"] > 0.2, rows["hf"]  # the model finds entities: the comparison is not 0 vs 0
    assert abs(rows["q8_0"]["f1"] - rows["hf"]["f1"]) <= 0.01, rows


def test_q4_k_m_is_measured_and_smaller(demo_export: Path) -> None:
    rows = measured(demo_export)
    assert rows["q4_k_m"]["samples"] == SAMPLES and 0.0 <= rows["q4_k_m"]["f1"] <= 1.0
    assert rows["q4_k_m"]["size_bytes"] < rows["q8_0"]["size_bytes"] < rows["f16"]["size_bytes"]
    assert all(rows[label]["tokens_per_second"] > 0 for label in rows)


def test_the_tiny_tokenizer_difference_is_reported(demo_export: Path) -> None:
    """The forced pre-tokenizer is not the training one: the backend says how many prompts differ."""
    note = measured(demo_export)["f16"]["tokenizer_note"]
    assert note.startswith("GGUF tokenizer: ") and (f"of {SAMPLES} prompts" in note or f"all {SAMPLES}" in note)


def test_modelfile_and_card_point_at_the_files(demo_export: Path) -> None:
    modelfile = (demo_export / "Modelfile").read_text(encoding="utf-8")
    assert "FROM ./model-q8_0.gguf" in modelfile and (demo_export / "model-q8_0.gguf").stat().st_size > 0
    assert "<think>\n\n</think>\n\n" in modelfile and 'PARAMETER stop "<|im_end|>"' in modelfile
    card = (demo_export / "README.md").read_text(encoding="utf-8")
    rows = measured(demo_export)
    for label in ("hf", "f16", "q8_0", "q4_k_m"):
        assert f"| {label} |" in card and f"{rows[label]['f1']:.3f}" in card
    assert "ollama create pii-tiny -f Modelfile" in card and "`qwen3`" in card and "pre-tokenizer" in card


def test_benchmark_measures_hf_and_every_gguf_on_the_demo_model(
    quick_demo: QuickDemo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make bench`'s gguf rows, run from the quick demo's workspace at the smallest size (8 prompts)."""
    monkeypatch.chdir(quick_demo.root)
    out = tmp_path / "results.md"
    assert runner.main(["--only", "gguf", "--scale", "0.001", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "Not measured" not in text
    assert "| gguf | HF (transformers) decoding |" in text and "8 test prompts of the demo model" in text
    for label in ("f16", "q8_0", "q4_k_m"):
        for figure in ("decoding", "size", "entity F1"):
            assert f"| gguf | llama.cpp {label} {figure} |" in text, (label, figure)
        assert f"| gguf | llama.cpp {label} / HF |" in text
