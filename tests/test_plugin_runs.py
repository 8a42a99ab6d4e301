"""The plugins through the stock `llamafactory-cli train` on the tiny model, as real runs.

The pack's start-up hook (pii_factory_hook.pth) is installed in the test venv; a recipe turns the
plugins on only by carrying a `pii_factory:` block.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench.fixtures import write_alpaca_splits
from piifactory.answer import target_text
from piifactory.schema import DEFAULT_INSTRUCTION, Entity
from tests.conftest import VENV_BIN, run_cli, tiny_recipe

pytestmark = pytest.mark.slow
ACTIVE = "pii_factory plugins active on rank"


def recipe(model: Path, data: Path, out: Path, **overrides) -> dict:
    """Six steps of 2 x 2 accumulated batches, no evaluation or saving unless overridden."""
    return tiny_recipe(
        model,
        data,
        out,
        **{
            "overwrite_output_dir": True,
            "gradient_accumulation_steps": 2,
            "per_device_eval_batch_size": 4,
            "save_strategy": "no",
            "eval_strategy": "no",
            "max_steps": 6,
            **overrides,
        },
    )


def train(config: dict, tmp: Path, name: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return run_cli(["llamafactory-cli", "train", str(path)], env=env)


def log_history(out: Path) -> list[dict]:
    return json.loads((out / "trainer_state.json").read_text())["log_history"]


def step_logs(out: Path) -> list[dict]:
    return [entry for entry in log_history(out) if "loss" in entry]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_alpaca_splits(tmp_path_factory.mktemp("plugin-data"), {"train": 48, "val": 8})


@pytest.fixture(scope="module")
def stock_run(tiny_model, data, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("stock")
    result = train(recipe(tiny_model, data, tmp / "out"), tmp, "stock")
    assert result.returncode == 0, result.stderr[-4000:]
    assert ACTIVE not in result.stdout + result.stderr
    return tmp / "out"


def test_recipe_without_block_trains_stock(stock_run) -> None:
    hook = subprocess.run(
        [sys.executable, "-c", "import sys; print('pii_factory_startup' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert hook.stdout.strip() == "True"  # the hook is installed, and still nothing changed
    assert not (stock_run / "entity_eval").exists()
    assert len(step_logs(stock_run)) == 6


def test_gamma_zero_matches_stock_loss_under_accumulation(tiny_model, data, stock_run, tmp_path) -> None:
    """Same seed, data and batches (2 x 2 accumulated): every step's loss and gradient norm match."""
    config = recipe(tiny_model, data, tmp_path / "out", pii_factory={"focal_loss": {"gamma": 0.0}})
    result = train(config, tmp_path, "gamma0")
    assert result.returncode == 0, result.stderr[-4000:]
    assert f"{ACTIVE} 0" in result.stdout + result.stderr
    ours, stock = step_logs(tmp_path / "out"), step_logs(stock_run)
    assert [e["step"] for e in ours] == [e["step"] for e in stock]
    for mine, theirs in zip(ours, stock):
        assert mine["loss"] == pytest.approx(theirs["loss"], rel=1e-4)
        assert mine["grad_norm"] == pytest.approx(theirs["grad_norm"], rel=1e-3)


def test_focal_gamma2_trains_and_early_stopping_on_entity_recall_stops(tiny_model, data, stock_run, tmp_path) -> None:
    out = tmp_path / "out"
    config = recipe(
        tiny_model,
        data,
        out,
        max_steps=30,
        eval_strategy="steps",
        eval_steps=3,
        save_strategy="steps",
        save_steps=3,
        metric_for_best_model="entity_recall",
        load_best_model_at_end=True,
        early_stopping_steps=1,
        pii_factory={
            "focal_loss": {"gamma": 2.0, "entity_token_weight": 2.0},
            "entity_metrics": {"eval_samples": 2, "batch_size": 2, "max_new_tokens": 12},
        },
    )
    result = train(config, tmp_path, "early")
    assert result.returncode == 0, result.stderr[-4000:]
    history = log_history(out)
    evals = [e for e in history if "eval_entity_recall" in e]
    assert [e["step"] for e in evals] == [3, 6]  # recall did not improve at step 6: patience 1 stops
    assert max(e["step"] for e in history) == 6
    ours, stock = step_logs(out), step_logs(stock_run)
    assert all(mine["loss"] != pytest.approx(theirs["loss"], rel=1e-2) for mine, theirs in zip(ours, stock))
    assert ours[-1]["loss"] < ours[0]["loss"] * 0.9, [e["loss"] for e in ours]
    assert (out / "entity_eval" / "eval-step6.jsonl").exists()


def test_best_checkpoint_is_the_highest_entity_f1(tiny_model, tmp_path) -> None:
    """Four samples to memorise: F1 climbs from 0; the best checkpoint follows eval_entity_f1."""
    data = tmp_path / "data"
    data.mkdir()
    samples = [
        ("请联系张伟。", [Entity("PERSON", "张伟")]),
        ("李娜的电话是13812345678。", [Entity("PERSON", "李娜"), Entity("PHONE", "13812345678")]),
        ("邮箱wang@example.com", [Entity("EMAIL", "wang@example.com")]),
        ("今天天气很好。", []),
    ]
    rows = [{"instruction": DEFAULT_INSTRUCTION, "input": t, "output": target_text(e, t)} for t, e in samples]
    (data / "train.json").write_text(json.dumps(rows * 8, ensure_ascii=False), encoding="utf-8")
    (data / "val.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    (data / "dataset_info.json").write_text(
        json.dumps({"mem_train": {"file_name": "train.json"}, "mem_val": {"file_name": "val.json"}})
    )
    out = tmp_path / "out"
    config = recipe(
        tiny_model,
        data,
        out,
        dataset="mem_train",
        eval_dataset="mem_val",
        per_device_train_batch_size=4,
        gradient_accumulation_steps=1,
        learning_rate=4.0e-3,
        warmup_steps=5,
        max_steps=80,
        logging_steps=10,
        eval_strategy="steps",
        eval_steps=20,
        save_strategy="steps",
        save_steps=20,
        report_to="tensorboard",
        metric_for_best_model="entity_f1",
        load_best_model_at_end=True,
        pii_factory={"entity_metrics": {"eval_samples": 4, "batch_size": 4}},
    )
    result = train(config, tmp_path, "best")
    assert result.returncode == 0, result.stderr[-4000:]
    state = json.loads((out / "trainer_state.json").read_text())
    evals = [e for e in state["log_history"] if "eval_entity_f1" in e][:4]  # a 5th: the final evaluate
    assert [e["step"] for e in evals] == [20, 40, 60, 80]
    f1 = [e["eval_entity_f1"] for e in evals]
    assert max(f1) > 0, f1
    best = evals[f1.index(max(f1))]["step"]  # transformers keeps the first of equal values
    assert state["best_model_checkpoint"] == str(out / f"checkpoint-{best}")
    assert state["best_metric"] == pytest.approx(max(f1))
    logged = [json.loads(line) for line in (out / "trainer_log.jsonl").read_text().splitlines()]
    assert [e["eval_entity_f1"] for e in logged if "eval_entity_f1" in e][:4] == f1
    predictions = [json.loads(line) for line in (out / "entity_eval" / "eval-step80.jsonl").read_text().splitlines()]
    assert [p["gold"] for p in predictions] == [r["output"] for r in rows]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(next(out.rglob("events.out.tfevents.*")).parent)).Reload()
    assert [s.value for s in events.Scalars("eval/entity_f1")][:4] == pytest.approx(f1)


def test_torchrun_two_processes_apply_the_plugin_on_both_ranks(tiny_model, data, tmp_path) -> None:
    out = tmp_path / "out"
    config = recipe(
        tiny_model,
        data,
        out,
        ddp_backend="gloo",
        max_steps=4,
        eval_strategy="steps",
        eval_steps=2,
        gradient_accumulation_steps=1,
        pii_factory={
            "focal_loss": {"gamma": 2.0},
            "entity_metrics": {"eval_samples": 3, "batch_size": 2, "max_new_tokens": 8},
        },
    )
    path = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"  # launcher.py runs `torchrun` from PATH
    result = train(config, tmp_path, "ddp", env={"FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "2", "PATH": path})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert f"{ACTIVE} 0" in output and f"{ACTIVE} 1" in output
    evals = [e for e in log_history(out) if "eval_entity_f1" in e]
    assert [e["step"] for e in evals][:2] == [2, 4]
    assert len((out / "entity_eval" / "eval-step2.jsonl").read_text().splitlines()) == 3  # both shards


def test_fsdp_two_processes_report_equal_entity_metrics_on_both_ranks(tiny_model, data, tmp_path) -> None:
    """FSDP (version 2, full_shard) with gloo on 2 CPU processes through the stock CLI: the entity
    metrics generate with sharded parameters, all ranks stepping together. 3 samples at batch 1 give
    rank 0 two batches and rank 1 one: without the padded shard rank 0 would wait forever."""
    import re

    out = tmp_path / "out"
    config = recipe(
        tiny_model,
        data,
        out,
        ddp_backend="gloo",
        max_steps=2,
        eval_strategy="steps",
        eval_steps=2,
        gradient_accumulation_steps=1,
        fsdp="full_shard auto_wrap",
        fsdp_config={"version": 2, "transformer_layer_cls_to_wrap": ["Qwen3DecoderLayer"]},
        pii_factory={
            "focal_loss": {"gamma": 2.0},
            "entity_metrics": {"eval_samples": 3, "batch_size": 1, "max_new_tokens": 8},
        },
    )
    path = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    result = train(
        config,
        tmp_path,
        "fsdp",
        env={"FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "2", "PATH": path, "OMP_NUM_THREADS": "1"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "FSDP" in output or "fsdp" in output
    per_rank = {
        int(rank): json.loads(metrics)
        for rank, metrics in re.findall(r"entity metrics on rank (\d+): (\{.*?\})", output)
    }
    assert set(per_rank) == {0, 1} and per_rank[0] == per_rank[1]
    (logged,) = [e for e in log_history(out) if "eval_entity_f1" in e]
    assert {k: logged[f"eval_{k}"] for k in per_rank[0]} == per_rank[0]
    assert len((out / "entity_eval" / "eval-step2.jsonl").read_text().splitlines()) == 3  # both shards, no repeat


def test_bad_options_fail_before_the_model_loads(tiny_model, data, tmp_path) -> None:
    config = recipe(
        tiny_model,
        data,
        tmp_path / "out",
        pii_factory={
            "focal_loss": {"gama": 2.0},
            "entity_metrics": {"eval_samples": "many"},
            "preflight": {"mode": "loud"},
        },
    )
    result = train(config, tmp_path, "bad")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for key in ("pii_factory.focal_loss.gama", "pii_factory.entity_metrics.eval_samples", "pii_factory.preflight.mode"):
        assert key in output
    assert "trainable params" not in output and not (tmp_path / "out").exists()
    clash = recipe(tiny_model, data, tmp_path / "out", use_dft_loss=True, pii_factory={"focal_loss": {}})
    result = train(clash, tmp_path, "clash")
    assert result.returncode != 0 and "cannot be combined with use_dft_loss" in result.stderr
