"""`make demo` shortened (`--quick`): every stage runs through the real commands into a temporary
workspace, and the outputs a user is pointed at exist and agree with each other."""

import json
import sys

import pytest

from tests.conftest import REPO, run_cli


@pytest.mark.slow
def test_quick_demo_runs_the_whole_pipeline(tmp_path) -> None:
    result = run_cli([sys.executable, "-m", "piifactory.demo", "--quick", "--root", str(tmp_path)], cwd=REPO, timeout=1500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = tmp_path / "outputs/tiny_cpu_demo"
    registry = json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8"))
    assert {"pii_synth_train", "pii_synth_val", "pii_synth_test"} <= set(registry)
    for stage in ("synthetic data", "convert + split", "tiny model", "train (llamafactory-cli)",
                  "predict test split (copy values)", "predict test split (free values)", "score",
                  "score (free values)", "training curves", "rules vs model vs hybrid"):
        assert f"[demo] {stage}: " in result.stdout, stage
    assert "[demo] test split: precision" in result.stdout
    # the plugin chose the checkpoint by entity F1, and logged it where people read logs
    state = json.loads((out / "trainer_state.json").read_text(encoding="utf-8"))
    f1s = [entry["eval_entity_f1"] for entry in state["log_history"] if "eval_entity_f1" in entry]
    assert len(f1s) >= 2 and state["best_metric"] == pytest.approx(max(f1s))
    assert any("eval_entity_f1" in line for line in (out / "trainer_log.jsonl").read_text().splitlines())
    predictions = [json.loads(line) for line in (out / "test_predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(predictions) == 24 and all({"id", "predict", "label"} <= set(p) for p in predictions)
    score = json.loads((out / "report/score.json").read_text(encoding="utf-8"))
    assert score["failures"]["samples"] == 24
    # the lower bar of the shortened run: the loss fell and most answers are readable JSON
    losses = [json.loads(line)["loss"] for line in (out / "trainer_log.jsonl").read_text().splitlines() if '"loss"' in line]
    assert losses[-1] < losses[0] / 2, losses
    assert score["failures"]["parse_failure_rate"] <= 0.5, score["failures"]
    summary = (out / "report/README.md").read_text(encoding="utf-8")
    assert f"{score['micro']['f1']:.3f}" in summary and "training_curves.png" in summary
    free = json.loads((out / "report/score_free_values.json").read_text(encoding="utf-8"))
    assert free["failures"]["samples"] == 24 and f"{free['micro']['f1']:.3f}" in summary
    # copy-constrained values are input text by construction: none is a hallucination
    assert score["failures"]["hallucinations"] == 0, score["failures"]
    for name in ("training_curves.png", "score_per_type.png", "score_confusion.png"):
        assert (out / "report" / name).read_bytes().startswith(b"\x89PNG"), name
    assert "union" in (out / "report/rules_vs_model.md").read_text(encoding="utf-8")
