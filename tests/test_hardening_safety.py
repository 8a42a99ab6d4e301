"""Safety of what the pack ships: YAML read safely, no remote code, servers on 127.0.0.1.

Covered elsewhere, not repeated here: the preflight flags `trust_remote_code: true`
(tests/test_preflight.py::test_trust_remote_code_is_an_error, and under training
tests/test_plugin_units.py::test_preflight_runs_before_the_model_and_error_mode_stops); the board's
settings, its environment and its command line default to 127.0.0.1 (tests/test_board.py).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

import plugins.preflight
from piifactory.child import python_m
from piifactory.io import InputError
from tests.conftest import REPO
from tests.test_board import board_state, write_pack  # noqa: F401  (fixture and helper)

CONFIGS = REPO / "llamafactory_configs"
PACK_CODE = ["piifactory", "plugins", "eval", "converters", "bench"]


def test_pack_code_uses_no_unsafe_yaml_loader() -> None:
    found = []
    for folder in PACK_CODE:
        for path in (REPO / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if re.search(r"yaml\.(load|load_all|full_load|unsafe_load)\(|yaml\.(Unsafe|Full)?Loader\b", line):
                    found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not found, found


@pytest.fixture
def evil_recipe(tmp_path: Path) -> tuple[Path, Path]:
    """A recipe whose third line would run a shell command under an unsafe loader."""
    marker = tmp_path / "EXECUTED"
    recipe = tmp_path / "evil.yaml"
    recipe.write_text(
        "model_name_or_path: .cache/tiny-qwen3\ndataset: pii_synth_train\n"
        f'template: !!python/object/apply:os.system ["touch {marker}"]\n',
        encoding="utf-8",
    )
    return recipe, marker


def _board_loader(path: Path):
    from workflows.board.recipes import load_recipes

    return load_recipes(path.parent)


def _preflight_loader(path: Path):
    from plugins.preflight import load_recipe

    return load_recipe(path)


def _eval_loader(path: Path):
    from eval.detection.inference_args import load_recipe

    return load_recipe(path)


@pytest.mark.parametrize(
    "loader",
    [_preflight_loader, _board_loader, _eval_loader],
    ids=["plugins.preflight", "workflows.board", "eval.detection.inference_args"],
)
def test_python_tag_is_refused_with_file_and_line(loader, evil_recipe) -> None:
    recipe, marker = evil_recipe
    with pytest.raises(InputError) as caught:
        loader(recipe)
    assert str(caught.value).startswith(f"{recipe}:3: ")
    assert "python/object/apply:os.system" in str(caught.value)
    assert not marker.exists()


def test_python_tag_is_refused_by_the_training_cli_reader(evil_recipe, monkeypatch) -> None:
    """`llamafactory-cli train r.yaml` (and so the plugin wrapper) reads the recipe with
    LLaMA-Factory's read_args (OmegaConf, a SafeLoader): the tag is an error, never a call."""
    from llamafactory.hparams import read_args

    recipe, marker = evil_recipe
    monkeypatch.setattr(sys, "argv", ["llamafactory-cli", str(recipe)])
    with pytest.raises(yaml.YAMLError, match="python/object/apply"):
        read_args()
    assert not marker.exists()


def test_preflight_command_reports_the_tag_without_a_traceback(evil_recipe) -> None:
    import subprocess

    recipe, marker = evil_recipe
    result = subprocess.run(
        [*python_m(plugins.preflight), str(recipe)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert f"{recipe}:3: " in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert not marker.exists()


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_recipes_never_enable_remote_code(path: Path) -> None:
    recipe = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert recipe.get("trust_remote_code", False) is False


# --- servers bind 127.0.0.1 -------------------------------------------------------------------------

SERVER_BIND = {
    "api": "API_HOST=127.0.0.1",
    "webui": "GRADIO_SERVER_NAME=127.0.0.1",
    "webchat": "GRADIO_SERVER_NAME=127.0.0.1",
}
COMMAND = re.compile(r"(?<!`)(?:\S*/)?llamafactory-cli (api|webui|webchat)\b")


def test_shipped_server_commands_bind_localhost() -> None:
    """Every `llamafactory-cli api|webui|webchat` command in the recipes and docs sets the bind
    address: LLaMA-Factory binds 0.0.0.0 without it (a name in backticks in prose is not a command)."""
    files = [*CONFIGS.glob("*.yaml"), *(REPO / "docs").glob("*.md"), REPO / "README.md"]
    commands = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in COMMAND.finditer(line):
                commands.append((f"{path.relative_to(REPO)}:{number}", match.group(1), line))
    assert {kind for _, kind, _ in commands} >= {"api", "webui"}  # the recipes' api lines, docs/board.md
    unbound = [where for where, kind, line in commands if SERVER_BIND[kind] not in line]
    assert not unbound, unbound


def test_llamafactory_api_binds_what_api_host_says(monkeypatch) -> None:
    """Why the recipes set API_HOST: LLaMA-Factory's `api` binds 0.0.0.0 without it."""
    from llamafactory.api import app

    bound = []
    monkeypatch.setattr(app, "ChatModel", lambda: None)
    monkeypatch.setattr(app, "create_app", lambda chat_model: "app")
    monkeypatch.setattr(app.uvicorn, "run", lambda application, host, port: bound.append(host))
    monkeypatch.delenv("API_HOST", raising=False)
    app.run_api()
    monkeypatch.setenv("API_HOST", "127.0.0.1")
    app.run_api()
    assert bound == ["0.0.0.0", "127.0.0.1"]


def test_board_serve_launches_on_the_settings_host(tmp_path: Path, monkeypatch, board_state) -> None:  # noqa: F811 (fixture)
    """tests/test_board.py checks the settings; this checks they reach gradio's launch()."""
    import llamafactory.extras.misc as misc
    import llamafactory.webui.interface as interface

    from workflows.board import BoardSettings, serve

    launched = {}

    class FakeUI:
        def queue(self):
            return self

        def launch(self, **kwargs):
            launched.update(kwargs)

    monkeypatch.chdir(tmp_path)  # serve() changes directory; monkeypatch restores it
    monkeypatch.setattr(interface, "create_ui", lambda: FakeUI())
    monkeypatch.setattr(misc, "fix_proxy", lambda: None)
    serve(BoardSettings(root=write_pack(tmp_path), port=7998))
    assert launched["server_name"] == "127.0.0.1" and launched["server_port"] == 7998
    assert launched["share"] is False
