"""``python -m workflows.experiments run`` for real on CPU: a local Ray with 2 CPUs, four tiny-model
trials with one CPU each (A, a longer B, a hopeless one with learning rate 0, a broken override).
The runner is killed with -9 once A has finished and B has a checkpoint, then run again: A is not redone, B continues
from its checkpoint, the scheduler stops the hopeless one at a rung, the broken one is
reported with its log, and the report compares A and B on the test split."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import yaml

import workflows.experiments
from bench.fixtures import tiny_recipe, write_alpaca_splits
from piifactory.child import python_m
from workflows.experiments.spec import override_arg

pytestmark = pytest.mark.slow
# The hopeless trial is as long as B: after the rerun B resumes from step 20 and reports every 20
# steps, so at 40 steps the hopeless one could reach its end before any rung held B's result to
# compare it with (it then "finished": seen in CI); at 400 it meets B's results at a later rung.
LONG_STEPS = 400
# B must still be training when the runner is killed (once A has finished and B has a checkpoint):
# on an idle machine the tiny model runs 40 steps in seconds, so B is ten times longer and saves
# less often (its first checkpoint at step 20, well before its end).
B_STEPS, B_EVERY = 400, 20


def _experiment(root: Path, model: Path) -> Path:
    write_alpaca_splits(root / "data", {"train": 16, "val": 4, "test": 8})
    # constant learning rate: A and B are the same run up to A's end, so neither stops the other
    recipe = tiny_recipe(
        model,
        root / "data",
        root / "unused",
        eval_strategy="steps",
        eval_steps=3,
        save_strategy="steps",
        save_steps=3,
        lr_scheduler_type="constant",
        per_device_eval_batch_size=4,
        max_steps=6,
        pii_factory={"focal_loss": {"gamma": 1.0}},
    )
    (root / "recipe.yaml").write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    experiment = {
        "name": "ab_tiny",
        "recipe": "recipe.yaml",
        "variants": [
            {"name": "A"},
            {"name": "B", "overrides": {"max_steps": B_STEPS, "eval_steps": B_EVERY, "save_steps": B_EVERY}},
            {"name": "hopeless", "overrides": {"learning_rate": 0.0, "max_steps": LONG_STEPS}},
            {"name": "broken", "overrides": {"no_such_key": 1}},
        ],
        "metric": "loss",
        "resources": {"cpus": 1},
        "scheduler": {"type": "asha", "time_attr": "step", "grace_period": 3, "reduction_factor": 2},
        "report": {
            "dataset": "pii_synth_test",
            "compare": ["A", "B"],
            "limit": 8,
            "max_new_tokens": 32,
            "bootstrap": 200,
        },
    }
    (root / "experiment.yaml").write_text(yaml.safe_dump(experiment, sort_keys=False), encoding="utf-8")
    return root / "outputs/experiments/ab_tiny/runs"


def _ours(root: Path) -> list[psutil.Process]:
    """Processes still running with this test's folder on their command line (trial processes)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(str(root) in part for part in proc.info["cmdline"] or ()):
                found.append(proc)
        except psutil.Error:
            continue
    return found


@pytest.fixture(scope="module")
def killed_then_rerun(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("experiment")
    runs = _experiment(root, tiny_model)
    command = [*python_m(workflows.experiments), "run", "experiment.yaml", "--num-cpus", "2"]
    with open(root / "first.log", "wb") as log:
        first = subprocess.Popen(command, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 1500
    # killed once A has finished and B (longer) has a checkpoint to continue from
    while not ((runs / "A/outcome.json").exists() and any(runs.glob("B/checkpoint-*/trainer_state.json"))):
        assert first.poll() is None, (root / "first.log").read_text()[-4000:]
        assert time.monotonic() < deadline, "A never finished, or B never saved a checkpoint"
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    at_kill = {
        label: {
            "outcome": (runs / label / "outcome.json").exists(),
            "log": (runs / label / "trainer_log.jsonl").read_bytes()
            if (runs / label / "trainer_log.jsonl").exists()
            else b"",
        }
        for label in ("A", "B")
    }
    deadline = time.monotonic() + 120
    while _ours(root) and time.monotonic() < deadline:
        time.sleep(1)
    orphans = [" ".join(p.cmdline()[:4]) for p in _ours(root)]
    second = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=2400)
    return {
        "root": root,
        "runs": runs,
        "at_kill": at_kill,
        "orphans": orphans,
        "second": second,
        "left_after": [" ".join(p.cmdline()[:4]) for p in _ours(root)],
    }


def _record(runs: Path, label: str) -> dict:
    return json.loads((runs / label / "trial.json").read_text())


def _outcome(runs: Path, label: str) -> dict:
    return json.loads((runs / label / "outcome.json").read_text())


def _log(runs: Path, label: str) -> list[dict]:
    return [json.loads(line) for line in (runs / label / "trainer_log.jsonl").read_text().splitlines()]


def _steps(runs: Path, label: str) -> list[int]:
    return [entry["current_steps"] for entry in _log(runs, label)]


def test_kill_9_leaves_no_training_process_and_the_rerun_completes(killed_then_rerun) -> None:
    assert killed_then_rerun["orphans"] == [], "trial processes outlived the killed runner"
    second = killed_then_rerun["second"]
    assert second.returncode == 0, (second.stdout + second.stderr)[-6000:]
    assert "resuming" in second.stdout
    assert killed_then_rerun["left_after"] == []


def test_finished_trial_is_not_rerun(killed_then_rerun) -> None:
    runs = killed_then_rerun["runs"]
    assert len(_record(runs, "A")["attempts"]) == 1
    assert (runs / "A/train.log").read_text().count("=== ") == 1
    assert (runs / "A/trainer_log.jsonl").read_bytes() == killed_then_rerun["at_kill"]["A"]["log"]
    assert _outcome(runs, "A")["state"] == "finished"


def test_unfinished_trial_continues_from_its_last_checkpoint(killed_then_rerun) -> None:
    runs = killed_then_rerun["runs"]
    assert not killed_then_rerun["at_kill"]["B"]["outcome"], "B had finished before the kill: nothing to resume"
    attempts = _record(runs, "B")["attempts"]
    assert len(attempts) == 2
    resumed = attempts[1]["resume_from"]
    assert resumed is not None and Path(resumed).name.startswith("checkpoint-")
    assert override_arg("resume_from_checkpoint", resumed) in attempts[1]["argv"]
    entries = _log(runs, "B")
    steps = [e["current_steps"] for e in entries]
    trained = [e["current_steps"] for e in entries if "loss" in e]  # a step's eval line repeats its step
    assert steps == sorted(steps) and trained == sorted(set(trained)) and max(steps) == B_STEPS  # one history
    assert int(Path(resumed).name.split("-")[1]) in trained
    assert _outcome(runs, "B")["state"] == "finished"


def test_hopeless_trial_is_stopped_by_the_scheduler(killed_then_rerun) -> None:
    runs = killed_then_rerun["runs"]
    outcome = _outcome(runs, "hopeless")
    assert outcome["state"] == "stopped early"
    assert outcome["at_step"] < LONG_STEPS and max(_steps(runs, "hopeless")) < LONG_STEPS
    assert "pii_factory plugins active" in (runs / "hopeless/train.log").read_text()  # the recipe's block applies


def test_crashed_trial_is_reported_with_its_log_and_the_others_go_on(killed_then_rerun) -> None:
    runs = killed_then_rerun["runs"]
    outcome = _outcome(runs, "broken")
    assert outcome["state"] == "crashed" and outcome["reason"].startswith("exit status")
    assert "no_such_key" in outcome["log_tail"]
    report = (runs.parent / "report/README.md").read_text()
    assert "### broken crashed" in report and "no_such_key" in report


def test_report_lists_every_trial_and_compares_a_with_b(killed_then_rerun) -> None:
    report_dir = killed_then_rerun["runs"].parent / "report"
    text = (report_dir / "README.md").read_text()
    rows = {
        line.split("|")[1].strip(): line
        for line in text.splitlines()
        if line.startswith("| ") and "settings" not in line
    }
    assert {"A", "B", "hopeless", "broken"} <= set(rows)
    assert rows["A"].rstrip(" |").endswith("finished") and "stopped early" in rows["hopeless"]
    assert "learning_rate=0.0" in rows["hopeless"]
    assert (report_dir / "metric.png").stat().st_size > 1000
    compared = json.loads((report_dir / "compare.json").read_text())
    assert (compared["a"], compared["b"], compared["samples"]) == ("A", "B", 8)
    assert set(compared["deltas"]["f1"]) >= {"delta", "ci", "separated", "samples_needed"}
    assert "## A/B on the test split" in text and "95% interval" in text
    for label in ("A", "B"):
        assert len((report_dir / f"predictions_{label}.jsonl").read_text().splitlines()) == 8
