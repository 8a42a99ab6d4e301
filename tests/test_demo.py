"""`make demo` shortened (`--quick` at conftest.QUICK_DEMO_SIZE, run once per session and shared with the
GGUF export tests): every stage runs through the real commands into a temporary workspace, and the
outputs a user is pointed at exist and agree with each other."""

import json
import math

import pytest

from piifactory.machine import cpu_model
from piifactory.recipe_file import read_recipe
from piifactory.synth import VARIED_GENRES
from tests.conftest import QuickDemo
from workflows.demo.plan import (
    GLOBAL_BATCH,
    HEADLINE,
    RECIPE,
    Plan,
    evaluation_interval,
    headline_rows,
    training_processes,
    write_summary,
)
from workflows.demo.stages import Stages


@pytest.mark.slow
def test_quick_demo_runs_the_whole_pipeline(quick_demo: QuickDemo) -> None:
    result = quick_demo.result
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = quick_demo.model
    registry = json.loads((quick_demo.root / "dataset_info.json").read_text(encoding="utf-8"))
    assert {"pii_synth_train", "pii_synth_val", "pii_synth_test"} <= set(registry)
    for stage in (
        "synthetic data",
        "convert + split",
        "tiny model",
        "train (llamafactory-cli)",
        "predict test split (copy values)",
        "predict test split (free values)",
        "score",
        "score (free values)",
        "training curves",
        "rules vs model vs hybrid",
        "held-out genres: data",
        "held-out genres: convert",
        "held-out genres: predict",
        "held-out genres: score",
    ):
        assert f"[demo] {stage}: " in result.stdout, stage
    assert "[demo] test split: precision" in result.stdout
    assert f"[demo] stage times on {cpu_model()}, " in result.stdout
    # the plugin chose the checkpoint by entity F1, and logged it where people read logs
    state = json.loads((out / "trainer_state.json").read_text(encoding="utf-8"))
    f1s = [entry["eval_entity_f1"] for entry in state["log_history"] if "eval_entity_f1" in entry]
    assert len(f1s) >= 2 and state["best_metric"] == pytest.approx(max(f1s))
    assert any("eval_entity_f1" in line for line in (out / "trainer_log.jsonl").read_text().splitlines())
    predictions = [
        json.loads(line) for line in (out / "test_predictions.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len(predictions) == 24 and all({"id", "predict", "label"} <= set(p) for p in predictions)
    score = json.loads((out / "report/score.json").read_text(encoding="utf-8"))
    assert score["failures"]["samples"] == 24
    # the lower bar of the shortened run: the loss fell and most answers are readable JSON
    losses = [
        json.loads(line)["loss"] for line in (out / "trainer_log.jsonl").read_text().splitlines() if '"loss"' in line
    ]
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
    genres = json.loads((out / "report/rules_vs_model_genres.json").read_text(encoding="utf-8"))
    assert {"rules", "model", "union+verify"} <= set(genres)
    assert len((out / "genres_predictions.jsonl").read_text(encoding="utf-8").splitlines()) == 24
    assert f"| {genres['model']['micro']['f1']:.3f} | {genres['union+verify']['micro']['f1']:.3f} |" in summary
    assert "not Chinese" in summary and f"on {cpu_model()}, " in summary


def _score(f1: float) -> dict:
    micro = {"precision": f1, "recall": f1, "f1": f1, "f2": f1}
    return {"micro": micro, "per_type": {"PERSON": {**micro, "support": 3}}, "failures": {"parse_failure_rate": 0.0}}


def test_report_says_what_the_model_is_and_scores_held_out_genres_and_rules_both(tmp_path) -> None:
    """The summary's parts, from made-up scores (the slow test above runs the real demo)."""
    test = {"model": _score(0.961), "union+verify": _score(0.967), "rules": _score(0.512)}
    genres = {"model": _score(0.042), "union+verify": _score(0.618), "rules": _score(0.655)}
    rows = headline_rows(Plan(test_limit=None, genre_samples=400), test, genres)
    assert rows == [
        ["test split (the held-out samples, genre it trained on)", "0.961", "0.967", "0.512"],
        [f"held-out genres (400 samples of {len(VARIED_GENRES)} genres it never saw)", "0.042", "0.618", "0.655"],
    ]
    path = tmp_path / "README.md"
    stages = Stages(tmp_path)
    stages.times.append(("train (llamafactory-cli)", 386.0))
    write_summary(path, _score(0.961), _score(0.887), rows, stages, Plan())
    summary = path.read_text(encoding="utf-8")
    assert "0.8M parameters" in summary and "not Chinese" in summary and "Qwen models the recipes fine-tune" in summary
    header = "| entity micro F1 on | " + " | ".join(name for _, name in HEADLINE) + " |"
    assert header in summary and "| 0.042 | 0.618 | 0.655 |" in summary
    assert f"Stage times, on {cpu_model()}, " in summary and "| train (llamafactory-cli) | 386.0 |" in summary
    assert "| total (wall) |" in summary and "on the first 100 test samples: 0.887 / 0.887 / 0.887" in summary


@pytest.mark.parametrize("epochs", [1.0, 1.1, 5.0])
@pytest.mark.parametrize("rows", [1, 7, 556, 13_905, 13_906])
def test_the_demo_evaluates_as_often_as_planned_and_at_the_last_step(rows: int, epochs: float) -> None:
    """The trainer evaluates at every multiple of eval_steps and at the final step; a late interval
    would leave the final model unevaluated, an early one cost a third evaluation."""
    plan = Plan(epochs=epochs)
    # transformers' step count (Trainer.set_initial_training_values): batches per epoch, rounded up,
    # times the epochs, rounded up again (13,905 rows at 1.1 epochs: 3825 steps, not 3824)
    steps = math.ceil(epochs * math.ceil(rows / GLOBAL_BATCH))
    interval = evaluation_interval(plan, rows)
    evaluated = {step for step in range(1, steps + 1) if step % interval == 0} | {steps}
    assert len(evaluated) == min(plan.evaluations, steps)


def test_the_recipes_batch_is_the_demos_global_batch() -> None:
    """The demo splits the recipe's batch over its processes; accumulation would multiply it."""
    recipe = read_recipe(RECIPE)
    assert recipe.get("gradient_accumulation_steps", 1) == 1
    assert GLOBAL_BATCH == recipe["per_device_train_batch_size"] and GLOBAL_BATCH % 2 == 0


def test_training_runs_as_two_one_thread_processes_on_two_cores() -> None:
    assert training_processes(cores=1) == (1, {})
    processes, env = training_processes(cores=2)
    assert processes == 2 and env["FORCE_TORCHRUN"] == "1" and env["NPROC_PER_NODE"] == "2"
    assert env["OMP_NUM_THREADS"] == "1" and int(env["MASTER_PORT"]) > 0
    assert training_processes(cores=8)[1]["OMP_NUM_THREADS"] == "4"
