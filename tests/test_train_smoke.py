"""The stock `llamafactory-cli train` runs the tiny recipe on CPU: a checkpoint and a falling loss."""

import json

import pytest

from bench.fixtures import write_alpaca_splits
from tests.conftest import REPO, run_cli


@pytest.mark.slow
def test_stock_cli_trains_tiny_recipe(tiny_model, tmp_path) -> None:
    """160 steps of the recipe's batch of 4: 640 samples, enough for the loss to fall by a third."""
    data = write_alpaca_splits(tmp_path, {"train": 300, "val": 24})
    out = tmp_path / "run"
    result = run_cli(
        [
            "llamafactory-cli",
            "train",
            str(REPO / "llamafactory_configs/tiny_cpu_demo.yaml"),
            f"model_name_or_path={tiny_model}",
            f"dataset_dir={data}",
            f"output_dir={out}",
            "max_steps=160",
            "save_steps=80",
            "eval_steps=80",
            "logging_steps=20",
        ]
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert (out / "checkpoint-160" / "model.safetensors").exists()
    losses = [
        json.loads(line)["loss"] for line in (out / "trainer_log.jsonl").read_text().splitlines() if '"loss"' in line
    ]
    assert len(losses) >= 4
    assert losses[-1] < losses[0] * 0.7, losses
