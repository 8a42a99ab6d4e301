"""The LLaMA-Board launcher without a browser: its settings, and what LLaMA-Board then lists."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml

import workflows.board
from bench.fixtures import write_alpaca_splits
from piifactory import lf_compat
from piifactory.child import python_m
from tests.conftest import REPO
from workflows.board import BoardSettings, prepare
from workflows.board.__main__ import parse_args
from workflows.board.recipes import BOARD_OWNED, TEXT_WIDGETS, WIDGETS, load_recipes, to_board_config

PII_DATASETS = ["pii_synth_train", "pii_synth_val", "pii_synth_test"]
BLOCK = {"focal_loss": {"gamma": 2.0}, "entity_metrics": {"enabled": True, "eval_samples": 4}}
RECIPE = {
    "model_name_or_path": ".cache/tiny-qwen3",
    "stage": "sft",
    "do_train": True,
    "finetuning_type": "full",
    "dataset_dir": ".",
    "dataset": "pii_synth_train",
    "eval_dataset": "pii_synth_val",
    "template": "qwen3",
    "cutoff_len": 384,
    "learning_rate": 3.0e-3,
    "warmup_steps": 0.05,
    "output_dir": "outputs/x",
    "use_cpu": True,
    "pii_factory": BLOCK,
}


def write_pack(root: Path) -> Path:
    """A minimal pack root: tiny synthetic splits registered in dataset_info.json, one recipe."""
    write_alpaca_splits(root, {"train": 4, "val": 2, "test": 2})
    (root / "llamafactory_configs").mkdir()
    (root / "llamafactory_configs" / "pii_demo.yaml").write_text(yaml.safe_dump(RECIPE), encoding="utf-8")
    return root


@pytest.fixture
def board_state(monkeypatch: pytest.MonkeyPatch):
    """Undo what prepare() changes in this process: env, LLaMA-Board defaults, model table."""
    from llamafactory.extras import constants

    for key in BoardSettings(root=REPO).env():  # record each value, or its absence, for restoring
        if key in os.environ:
            monkeypatch.setenv(key, os.environ[key])
        else:
            monkeypatch.delenv(key, raising=False)
    for internal in lf_compat.BOARD_DATA_DIRS:
        monkeypatch.setattr(internal.host(), internal.name, internal.get())
    models, templates = dict(constants.SUPPORTED_MODELS), dict(constants.DEFAULT_TEMPLATE)
    yield
    constants.SUPPORTED_MODELS.clear()
    constants.SUPPORTED_MODELS.update(models)
    constants.DEFAULT_TEMPLATE.clear()
    constants.DEFAULT_TEMPLATE.update(templates)


def test_settings_bind_localhost_and_run_this_venvs_cli(tmp_path: Path) -> None:
    settings = BoardSettings(root=write_pack(tmp_path), port=7999)
    env = settings.env()
    assert settings.url == "http://127.0.0.1:7999"
    assert env["GRADIO_SERVER_NAME"] == "127.0.0.1" and env["GRADIO_SERVER_PORT"] == "7999"
    # LLaMA-Board starts trainings as bare `llamafactory-cli`: it must be this environment's.
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)


def test_settings_refuse_a_root_without_dataset_info(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="dataset_info.json"):
        BoardSettings(root=tmp_path)


def test_command_line_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(write_pack(tmp_path))
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7123")
    settings = parse_args([])
    assert (settings.root, settings.host, settings.port, settings.dataset_dir) == (tmp_path, "127.0.0.1", 7123, ".")
    assert parse_args(["--host", "0.0.0.0", "--port", "8000"]).host == "0.0.0.0"


def test_board_lists_pii_datasets_and_loads_recipes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, board_state
) -> None:
    from llamafactory.webui.common import load_args
    from llamafactory.webui.control import get_model_info, list_config_paths, list_datasets

    monkeypatch.chdir(write_pack(tmp_path))
    configs = prepare(BoardSettings(root=tmp_path))

    # No dataset dir given: LLaMA-Board's own default, which the launcher pointed at the pack.
    assert [value for _, value in list_datasets().choices] == PII_DATASETS
    assert [p.name for p in configs] == ["recipe_pii_demo.yaml"]
    assert "recipe_pii_demo.yaml" in [value for _, value in list_config_paths("now").choices]
    loaded = load_args(str(configs[0]))
    # Choosing the recipe's model refills path and template from the board's table: they must match.
    assert get_model_info(loaded["top.model_name"]) == (".cache/tiny-qwen3", "qwen3")
    assert json.loads(loaded["train.extra_args"])["pii_factory"] == BLOCK


def test_conversion_keeps_every_recipe_value() -> None:
    config = to_board_config(RECIPE)
    extra = json.loads(config["train.extra_args"])
    assert config["train.dataset"] == ["pii_synth_train"] and config["train.compute_type"] == "fp32"
    assert config["train.learning_rate"] == "0.003" and "train.warmup_steps" not in config
    assert extra == {"eval_dataset": "pii_synth_val", "warmup_steps": 0.05, "use_cpu": True, "pii_factory": BLOCK}


@pytest.mark.parametrize("stem", sorted(load_recipes(REPO / "llamafactory_configs")))
def test_pack_recipes_convert_without_loss(stem: str) -> None:
    from llamafactory.webui.locales import LOCALES

    recipe = load_recipes(REPO / "llamafactory_configs")[stem]
    config = to_board_config(recipe)
    extra = json.loads(config["train.extra_args"])
    assert all(elem_id.split(".")[1] in LOCALES for elem_id in config), "every id is a LLaMA-Board widget"
    mapped = {**WIDGETS, **TEXT_WIDGETS}
    for key, value in recipe.items():
        if key in BOARD_OWNED or key in ("model_name_or_path", "stage", "dataset", "bf16", "fp16", "pure_bf16"):
            continue
        held = extra[key] if key in extra else config[mapped[key]]
        assert held == (str(value) if key in TEXT_WIDGETS and key not in extra else value), key


def test_launch_with_a_broken_recipe_is_one_line_with_file_and_line(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    (tmp_path / "dataset_info.json").write_text("{}", encoding="utf-8")
    (tmp_path / "llamafactory_configs").mkdir()
    (tmp_path / "llamafactory_configs/broken.yaml").write_text("model_name_or_path: x\ndataset: [a\n", encoding="utf-8")
    result = run_cli([*python_m(workflows.board), "--root", str(tmp_path), "--port", "7999"], timeout=120)
    assert result.returncode == 2
    assert "broken.yaml:" in result.stderr and "Traceback" not in result.stderr, result.stderr
    missing = run_cli([*python_m(workflows.board), "--root", str(tmp_path / "nowhere")], timeout=120)
    assert (
        missing.returncode == 2
        and "dataset_info.json not found" in missing.stderr
        and "Traceback" not in missing.stderr
    )


def test_board_waits_for_its_own_server_on_a_slow_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gradio's one 3 s self-check must not end the board on a loaded machine: it is retried."""
    from gradio import networking

    from workflows.board import patient_self_check

    answers = iter([False, False, True])
    monkeypatch.setattr(networking, "url_ok", lambda url: next(answers))
    patient_self_check(patience_s=30)
    assert networking.url_ok("http://127.0.0.1:1/") is True
    assert next(answers, "drained") == "drained"  # it asked three times, and stopped at the first yes

    monkeypatch.setattr(networking, "url_ok", lambda url: False)
    patient_self_check(patience_s=0.6)
    assert networking.url_ok("http://127.0.0.1:1/") is False  # a dead localhost is still an error
