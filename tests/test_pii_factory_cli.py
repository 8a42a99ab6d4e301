"""The ``pii-factory`` command: every subcommand listed fast, every parser alike (described
arguments, plain text, an example, the exit codes, ``--version``), one name per idea, and the
``python -m`` paths still working."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import pytest

import workflows.pii_factory
from piifactory import command_line
from piifactory.child import python_m
from tests.conftest import REPO
from workflows.command_table import COMMANDS


class _Captured(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser


def parser_of(name: str, monkeypatch: pytest.MonkeyPatch) -> argparse.ArgumentParser:
    """The parser a subcommand builds, caught where it would parse (nothing runs)."""

    dispatch = argparse.ArgumentParser.parse_args

    def catch(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> object:
        if self.prog == "pii-factory" and (self.usage or "").startswith("pii-factory "):  # the dispatcher's own
            return dispatch(self, *args, **kwargs)
        raise _Captured(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", catch)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_intermixed_args", catch)
    with pytest.raises(_Captured) as caught:
        workflows.pii_factory.main([name])
    return caught.value.parser


def all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found += all_parsers(sub)
    return found


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_parser_describes_every_argument_in_plain_text(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for parser in all_parsers(parser_of(name, monkeypatch)):
        assert parser.prog.startswith("pii-factory"), parser.prog
        hidden = argparse.SUPPRESS
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction) or action.help == hidden:
                continue
            assert action.help and action.help.strip(), f"{parser.prog}: {action.dest} has no help"
        text = parser.format_help()
        assert "``" not in text and ":func:" not in text and ":mod:" not in text, text
        assert "example:" in text and command_line.EXIT_CODES in text, text
        if not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions):
            defaults = [a for a in parser._actions if isinstance(a.default, (int, float)) and a.default is not False]
            for action in defaults:
                if (
                    action.help != argparse.SUPPRESS
                    and action.option_strings
                    and action.option_strings[0] != "--version"
                ):
                    assert "(default:" in parser._get_formatter()._format_action(action), action.dest


def test_help_lists_every_command_fast_without_the_training_stack() -> None:
    started = time.perf_counter()
    result = subprocess.run(
        [*python_m(workflows.pii_factory), "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    # torch and transformers are never imported to list the commands
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, workflows.pii_factory as p; p.build_parser().format_help(); "
            "print(sorted(m for m in ('torch', 'transformers', 'llamafactory') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    assert probe.stdout.strip() == "[]"
    for name in COMMANDS:
        assert f"\n  {name} " in result.stdout, name
    assert "exit codes: 0 ok, 1 a check failed, 2 bad input" in result.stdout
    assert time.perf_counter() - started < 30  # a sanity bound, not the speed goal (bench measures nothing here)


def test_version_and_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        workflows.pii_factory.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("pii-factory ")
    with pytest.raises(SystemExit) as done:
        workflows.pii_factory.main(["no-such-command"])
    assert done.value.code == 2


def test_a_subcommand_runs_the_module_main_with_its_prefix(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = tmp_path / "pii.jsonl"
    assert workflows.pii_factory.main(["synth", "--samples", "20", "--seed", "3", "--out", str(rows)]) == 0
    assert len(rows.read_text(encoding="utf-8").splitlines()) == 20
    capsys.readouterr()
    assert workflows.pii_factory.main(["stats", str(rows), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["records"] == 20


def test_old_spellings_keep_working_but_are_not_shown(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from piifactory.synth import command as synth_command

    out = tmp_path / "old.jsonl"
    assert synth_command.main(["--n", "5", "--negative-ratio", "0.5", "--out", str(out)]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 5
    help_text = parser_of("synth", monkeypatch).format_help()
    assert "--samples" in help_text and "--neg-share" in help_text
    assert "--negative-ratio" not in help_text and "--n " not in help_text


def test_python_m_paths_say_the_same() -> None:
    import eval.score

    result = subprocess.run([*python_m(eval.score), "--help"], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.startswith("usage: python -m eval.score")
