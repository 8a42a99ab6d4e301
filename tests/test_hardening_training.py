"""Hardening of the training half: interruption and resume, what the preflight sees, what the
logs carry, and where servers bind.

The kill test is a real `llamafactory-cli train` of the tiny model with the plugin block, killed
with SIGKILL once a checkpoint is on disk and resumed by running the same recipe again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, VENV_BIN, write_alpaca_splits

CONFIGS = REPO / "llamafactory_configs"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_alpaca_splits(tmp_path_factory.mktemp("hardening-data"), {"train": 32, "val": 4})


def trainable(model: Path, data: Path, out: Path, **overrides) -> dict:
    """A tiny recipe that evaluates entity F1 and saves a checkpoint every 2 steps."""
    base = {
        "model_name_or_path": str(model), "stage": "sft", "do_train": True, "finetuning_type": "full",
        "dataset_dir": str(data), "dataset": "pii_synth_train", "eval_dataset": "pii_synth_val",
        "template": "qwen3", "enable_thinking": False, "cutoff_len": 256, "overwrite_cache": True,
        "preprocessing_num_workers": 1, "output_dir": str(out), "overwrite_output_dir": False,
        "report_to": "none", "use_cpu": True, "seed": 42, "learning_rate": 3.0e-3,
        "per_device_train_batch_size": 2, "per_device_eval_batch_size": 2, "logging_steps": 1,
        "max_steps": 8, "eval_strategy": "steps", "eval_steps": 2, "save_strategy": "steps", "save_steps": 2,
        "metric_for_best_model": "entity_f1", "load_best_model_at_end": True,
        "pii_factory": {"entity_metrics": {"eval_samples": 2, "batch_size": 2, "max_new_tokens": 6}},
    }
    return {**base, **overrides}


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
