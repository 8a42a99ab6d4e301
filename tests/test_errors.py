"""One base class for what a user can fix: command-line tools print a ``PiiFactoryError`` or an
``OSError`` as one line and exit 2; anything else is a bug and keeps its traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

import converters.cli
import eval.calibrate
import eval.compare
import eval.predict
import eval.rules_vs_model
import eval.score
import plugins.preflight.__main__ as preflight_cli
from converters.label_presets import UnknownPresetError
from converters.records import RecordError
from piifactory.answer import GoldError
from piifactory.errors import PiiFactoryError, UsageError
from piifactory.io import InputError
from piifactory.lf_compat import ChangedInternalsError, UnsupportedVersionError
from piifactory.models.qwen_tokenizer import TokenizerSourceError
from piifactory.schema import UnknownLabelError
from plugins.activation import PreflightFailed
from plugins.options import OptionsError


@pytest.mark.parametrize(
    "error",
    [
        InputError,
        UnknownLabelError,
        GoldError,
        RecordError,
        UnknownPresetError,
        OptionsError,
        UnsupportedVersionError,
        ChangedInternalsError,
        PreflightFailed,
        TokenizerSourceError,
        UsageError,
    ],
)
def test_user_facing_errors_share_the_base_class(error: type[Exception]) -> None:
    assert issubclass(error, PiiFactoryError)


# (command's main, the module attribute its work goes through, argv that reaches it)
CLIS: dict[str, tuple[Callable[[list[str]], int], object, str, Callable[[Path], list[str]]]] = {
    "eval.score": (eval.score.main, eval.score, "load", lambda tmp: [str(tmp / "p.jsonl")]),
    "eval.calibrate": (
        eval.calibrate.main,
        eval.calibrate,
        "calibrate",
        lambda tmp: ["--predictions", str(tmp / "p.jsonl"), "--out", str(tmp / "point.json")],
    ),
    "eval.compare": (eval.compare.main, eval.compare, "load", lambda tmp: [str(tmp / "a.jsonl"), str(tmp / "b.jsonl")]),
    "eval.predict": (
        eval.predict.main,
        eval.predict,
        "load_recipe",
        lambda tmp: [str(tmp / "r.yaml"), "--out", str(tmp / "o.jsonl")],
    ),
    "converters": (
        converters.cli.main,
        converters.cli,
        "_convert",
        lambda tmp: ["convert", str(tmp / "in.jsonl"), "--name", "ds", "--out-dir", str(tmp)],
    ),
    "plugins.preflight": (preflight_cli.main, preflight_cli, "read_recipe", lambda tmp: [str(tmp / "r.yaml")]),
    "rules_vs_model": (
        eval.rules_vs_model.main,
        eval.rules_vs_model,
        "generate",
        lambda tmp: ["--synthetic", "3"],
    ),
}


def _patched(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, exc: Exception) -> Callable[[], int]:
    main, module, attribute, argv = CLIS[name]
    (tmp_path / "r.yaml").write_text("model_name_or_path: x\n", encoding="utf-8")

    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(module, attribute, fail)
    return lambda: main(argv(tmp_path))


@pytest.mark.parametrize("name", sorted(CLIS))
@pytest.mark.parametrize(
    "exc", [UsageError("--flag: not usable"), InputError("in.jsonl", 3, "not JSON"), FileNotFoundError("no.jsonl")]
)
def test_cli_prints_a_user_error_as_one_line_and_exits_2(
    name: str, exc: Exception, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _patched(monkeypatch, tmp_path, name, exc)() == 2
    err = capsys.readouterr().err
    assert err.endswith(f": {exc}\n") and err.count("\n") == 1 and err.split(":")[0] in ("error", "preflight")


@pytest.mark.parametrize("name", sorted(CLIS))
@pytest.mark.parametrize("exc", [ValueError("a bug"), KeyError("a bug")])
def test_cli_lets_a_bug_keep_its_traceback(
    name: str, exc: Exception, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(type(exc), match="a bug"):
        _patched(monkeypatch, tmp_path, name, exc)()
