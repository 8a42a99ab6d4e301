"""The one argument-parser factory of the pack's commands, so every command reads alike: plain-text
help (no reStructuredText markup), defaults shown, ``--version``, one example and the exit codes.

A command is run two ways, ``python -m MODULE`` and ``pii-factory NAME``; the dispatcher of the
latter sets :data:`PROG` so the help names the command as the user typed it."""

from __future__ import annotations

import argparse
import re
import sys
from importlib import metadata

EXIT_CODES = "exit codes: 0 ok, 1 a check failed, 2 bad input (file:line: what is wrong)"
# Set by ``pii-factory`` before it calls a command's main: the program name its help shows.
PROG: str | None = None

_ROLE = re.compile(r":(?:mod|func|class|meth|data|attr|obj):`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def plain(text: str) -> str:
    """``text`` without reStructuredText markup: ``literal`` and :role:`target` keep their words."""
    return _LITERAL.sub(r"\1", _ROLE.sub(r"\1", text))


def version() -> str:
    try:
        return metadata.version("pii-factory")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Descriptions keep their line breaks, every argument shows its default, markup is dropped."""

    def _expand_help(self, action: argparse.Action) -> str:
        return plain(super()._expand_help(action))

    def _get_help_string(self, action: argparse.Action) -> str:
        default = action.default
        if default is None or default is False or default in ([], (), argparse.SUPPRESS) or action.required:
            return action.help or ""
        return super()._get_help_string(action)


def summary(doc: str | None) -> str:
    """The first paragraph of a docstring as one plain line: what the command does."""
    first = (doc or "").strip().split("\n\n", 1)[0]
    return plain(" ".join(line.strip() for line in first.splitlines()))


def _running_module(module: str) -> str:
    """What the user typed after ``python -m``: the package whose ``__main__`` runs ``module``
    (``converters`` for ``converters.cli``), else the module itself."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    running = spec.name.removesuffix(".__main__") if spec else ""
    if module == "__main__" or (running and module.startswith(running + ".")):
        return running or module
    return module.removesuffix(".__main__")


def command_parser(module: str, doc: str | None, example: str) -> argparse.ArgumentParser:
    """The parser of the command in ``module`` (its ``__name__``) described by ``doc`` (its
    docstring, whose first paragraph says what the command does; ``pii-factory --help`` lists
    that paragraph too); ``example`` is the arguments of one typical call."""
    prog = PROG or f"python -m {_running_module(module)}"
    parser = argparse.ArgumentParser(
        prog=prog,
        description=summary(doc),
        epilog=f"example:\n  {prog} {example}\n\n{EXIT_CODES}",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pii-factory {version()}")
    return parser


def add_command(
    commands: argparse._SubParsersAction, name: str, description: str, example: str
) -> argparse.ArgumentParser:
    """A subcommand (``convert``, ``run``) with the same help conventions as its parent."""
    parser = commands.add_parser(name, help=description, description=description, formatter_class=_HelpFormatter)
    parser.epilog = f"example:\n  {parser.prog} {example}\n\n{EXIT_CODES}"
    return parser


def hidden_alias(parser: argparse.ArgumentParser, old: str, dest: str, **kwargs: object) -> None:
    """An older spelling of an option that keeps working but is not shown in the help."""
    parser.add_argument(old, dest=dest, help=argparse.SUPPRESS, **kwargs)
