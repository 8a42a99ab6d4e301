"""The 4B QLoRA recipe really trains (bitsandbytes nf4 runs on CPU) and its adapter merges into the
16-bit base with the merge recipe: the tiny Qwen3 stands in for Qwen3-4B. The plugin keys are
dropped (the stock CLI has no plugin), so entity-F1 selection is off here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bench.fixtures import shrunk_for_cpu, write_alpaca_splits
from plugins.preflight import load_llamafactory_config
from tests.conftest import REPO, run_cli

PLUGIN_ONLY = ("metric_for_best_model", "greater_is_better", "early_stopping_steps")


@pytest.mark.slow
def test_qlora_recipe_trains_and_merges_on_cpu(tiny_model: Path, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    data = write_alpaca_splits(tmp_path / "data", {"train": 8, "val": 4})
    train = {
        k: v
        for k, v in load_llamafactory_config(REPO / "llamafactory_configs/qwen4b_lora.yaml").items()
        if k not in PLUGIN_ONLY
    }
    train = shrunk_for_cpu(
        train,
        tiny_model,
        data,
        tmp_path / "adapter",
        steps=2,
        dataset="pii_synth_train",
        eval_dataset="pii_synth_val",
        max_samples=4,
        per_device_train_batch_size=1,
    )
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(train), encoding="utf-8")
    result = run_cli(["llamafactory-cli", "train", str(tmp_path / "train.yaml")])
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Quantizing model to 4 bit with bitsandbytes" in result.stdout + result.stderr
    adapter = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert adapter["r"] == 16 and adapter["lora_alpha"] == 32
    assert set(adapter["target_modules"]) == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }

    merge = load_llamafactory_config(REPO / "llamafactory_configs/qwen4b_merge.yaml")
    merge.update(
        model_name_or_path=str(tiny_model),
        adapter_name_or_path=str(tmp_path / "adapter"),
        export_dir=str(tmp_path / "merged"),
    )
    (tmp_path / "merge.yaml").write_text(yaml.safe_dump(merge), encoding="utf-8")
    result = run_cli(["llamafactory-cli", "export", str(tmp_path / "merge.yaml")])
    assert result.returncode == 0, result.stderr[-4000:]
    config = json.loads((tmp_path / "merged" / "config.json").read_text())
    assert config["dtype"] == "bfloat16" and "quantization_config" not in config
    assert (tmp_path / "merged" / "model.safetensors").exists()
