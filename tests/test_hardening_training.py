"""Hardening of the training half: interruption and resume, what the preflight sees, what the
logs carry, and where servers bind.

The kill test is a real `llamafactory-cli train` of the tiny model with the plugin block, killed
with SIGKILL once a checkpoint is on disk and resumed by running the same recipe again.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from bench.fixtures import write_alpaca_splits
from tests.conftest import REPO, VENV_BIN, tiny_recipe

CONFIGS = REPO / "llamafactory_configs"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_alpaca_splits(tmp_path_factory.mktemp("hardening-data"), {"train": 32, "val": 4})


def trainable(model: Path, data: Path, out: Path, **overrides) -> dict:
    """A tiny recipe that evaluates entity F1 and saves a checkpoint every 2 steps."""
    return tiny_recipe(
        model,
        data,
        out,
        **{
            "overwrite_output_dir": False,
            "per_device_eval_batch_size": 2,
            "max_steps": 8,
            "eval_strategy": "steps",
            "eval_steps": 2,
            "save_strategy": "steps",
            "save_steps": 2,
            "metric_for_best_model": "entity_f1",
            "load_best_model_at_end": True,
            "pii_factory": {"entity_metrics": {"eval_samples": 2, "batch_size": 2, "max_new_tokens": 6}},
            **overrides,
        },
    )


# --- the preflight sees the block the plugin runs with -------------------------------------------


def test_training_preflight_sees_the_plugin_block(tiny_model: Path, data: Path, tmp_path: Path, capsys) -> None:
    """Regression: the wrapper stripped the block before calling the preflight, so every training
    with `metric_for_best_model: entity_f1` printed a false ERROR (and `mode: error` refused it);
    `entity_metrics` without `enabled: true` was also read as off."""
    from plugins.activation import with_plugins
    from plugins.preflight import run_preflight

    calls = []
    run_exp = with_plugins(lambda args, callbacks: calls.append(args))
    config = trainable(tiny_model, data, tmp_path / "out")
    config["pii_factory"]["preflight"] = {"mode": "error"}
    run_exp(config)  # would raise PreflightFailed
    assert len(calls) == 1
    assert "needs pii_factory.entity_metrics" not in capsys.readouterr().out
    # the preflight on its own, on the block as written: `entity_metrics:` (null) and `{}` are on
    for written in (None, {}, {"eval_samples": 2}):
        report = run_preflight({**config, "pii_factory": {"entity_metrics": written}})
        assert not any("entity_metrics" in e for e in report.errors), (written, report.errors)
    report = run_preflight({**config, "pii_factory": {"entity_metrics": {"enabled": False}}})
    assert any("needs pii_factory.entity_metrics.enabled" in e for e in report.errors)


# --- kill -9 after a checkpoint, resume through the recipe ----------------------------------------


def _train_until_checkpoint(recipe: Path, out: Path, step: int, timeout: float = 240) -> int:
    """Start `llamafactory-cli train`, SIGKILL its process group once checkpoint-<step> is complete
    (trainer_state.json is the last file transformers writes), return the exit status."""
    log = open(out.parent / "killed.log", "w")
    proc = subprocess.Popen(
        [str(VENV_BIN / "llamafactory-cli"), "train", str(recipe)],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    try:
        while not (out / f"checkpoint-{step}" / "trainer_state.json").exists():
            assert proc.poll() is None, (out.parent / "killed.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint in time"
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.mark.slow
def test_sigkill_after_a_checkpoint_then_resume_keeps_the_best_metric(
    tiny_model: Path, data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(trainable(tiny_model, data, out), allow_unicode=True), encoding="utf-8")
    assert _train_until_checkpoint(recipe, out, step=4) == -signal.SIGKILL
    assert not (out / "train_results.json").exists()  # it really was cut short
    before = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    evals_before = [e for e in before["log_history"] if "eval_entity_f1" in e]
    assert [e["step"] for e in evals_before] == [2, 4]
    assert before["best_model_checkpoint"] is not None
    for later in out.glob("checkpoint-*"):  # one saved between the poll and the kill is not wanted
        if int(later.name.split("-")[1]) > 4:
            shutil.rmtree(later)
    # the same command again: overwrite_output_dir is false, so LLaMA-Factory resumes on its own
    result = subprocess.run(
        [str(VENV_BIN / "llamafactory-cli"), "train", str(recipe)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert f"Resuming training from {out / 'checkpoint-4'}" in output  # LLaMA-Factory's own resume
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 8
    evals = [e for e in state["log_history"] if "eval_entity_f1" in e]
    assert [e["step"] for e in evals][:4] == [2, 4, 6, 8]  # before and after the kill, once each
    assert evals[:2] == evals_before  # the pre-kill evaluations came back from the checkpoint
    assert all({"eval_entity_precision", "eval_entity_recall", "eval_parse_failure_rate"} <= set(e) for e in evals)
    f1 = [e["eval_entity_f1"] for e in evals[:4]]
    best = [2, 4, 6, 8][f1.index(max(f1))]  # transformers keeps the first of equal values
    assert state["best_metric"] == pytest.approx(max(f1))
    assert state["best_model_checkpoint"] == str(out / f"checkpoint-{best}")
    logged = [json.loads(line) for line in (out / "trainer_log.jsonl").read_text().splitlines()]
    assert {e["current_steps"] for e in logged if "eval_entity_f1" in e} >= {2, 4, 6, 8}
    assert {p.name for p in (out / "entity_eval").iterdir()} >= {f"eval-step{s}.jsonl" for s in (2, 4, 6, 8)}
    assert_no_entity_values(out, [output, (tmp_path / "killed.log").read_text(encoding="utf-8")])


def assert_no_entity_values(out: Path, console: list[str]) -> None:
    """Console output (both runs), trainer_log.jsonl and trainer_state.json carry metrics, not
    values; the entity_eval prediction files are the deliberate exception (they hold the gold)."""
    from piifactory.synth import generate

    values = {e.value for n, seed in ((32, 100), (4, 101)) for s in generate(n, seed=seed) for e in s.entities}
    values = {v for v in values if len(v) >= 3}
    assert len(values) > 20
    predictions = "".join(p.read_text(encoding="utf-8") for p in (out / "entity_eval").iterdir())
    assert any(v in predictions for v in values)  # the check can see a value where there is one
    assert all("text not logged by pii_factory" in text for text in console)  # LLaMA-Factory's example print
    logs = [
        *console,
        (out / "trainer_log.jsonl").read_text(encoding="utf-8"),
        (out / "trainer_state.json").read_text(encoding="utf-8"),
    ]
    leaked = sorted(v for v in values if any(v in text for text in logs))
    assert not leaked, leaked


def test_resume_skips_a_checkpoint_cut_off_while_saving(tmp_path: Path, caplog) -> None:
    """A kill during a save leaves checkpoint-N without trainer_state.json (written last);
    LLaMA-Factory would resume from it and fail. The plugin resumes from the last complete one."""
    from plugins.activation import with_plugins

    out = tmp_path / "out"
    for step, complete in ((2, True), (4, True), (6, False)):
        (out / f"checkpoint-{step}").mkdir(parents=True)
        (out / f"checkpoint-{step}" / "config.json").write_text("{}")
        if complete:
            (out / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    calls = []
    run_exp = with_plugins(lambda args, callbacks: calls.append(args))
    recipe = {"stage": "sft", "do_train": True, "output_dir": str(out), "pii_factory": {"preflight": {"mode": "off"}}}
    run_exp(recipe)
    assert calls[-1]["resume_from_checkpoint"] == str(out / "checkpoint-4")
    (out / "checkpoint-6" / "trainer_state.json").write_text("{}")  # complete: LLaMA-Factory's choice stands
    run_exp(recipe)
    assert "resume_from_checkpoint" not in calls[-1]
    for told in (
        {"overwrite_output_dir": True},
        {"resume_from_checkpoint": str(out / "checkpoint-2")},
        {"do_train": False},
    ):
        (out / "checkpoint-6" / "trainer_state.json").unlink(missing_ok=True)
        run_exp({**recipe, **told})
        assert calls[-1].get("resume_from_checkpoint") == told.get("resume_from_checkpoint")
