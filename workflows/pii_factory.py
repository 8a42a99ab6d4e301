"""``pii-factory COMMAND [args]``: every step of the pack under one command.

Each subcommand runs the ``main`` of the module the command table names, imported only when it
runs, so ``pii-factory --help`` lists every command without loading the training stack."""

from __future__ import annotations

import argparse
import ast
import importlib
import sys
import textwrap
from pathlib import Path

from piifactory import command_line
from workflows.command_table import COMMANDS, Command

# the folder that holds the pack's top-level packages (a checkout, or site-packages)
_PACKAGES = Path(__file__).resolve().parents[1]

EXAMPLE = """\
  pii-factory synth --samples 2000 --out data/pii.jsonl
  pii-factory convert data/pii.jsonl --name pii --out-dir data
  llamafactory-cli train llamafactory_configs/qwen4b_lora.yaml
  pii-factory predict llamafactory_configs/qwen4b_lora.yaml adapter_name_or_path=saves/qwen3-4b/pii \\
      --dataset pii_test --out preds.jsonl
  pii-factory score preds.jsonl --report report/score.md"""


def describe(command: Command) -> str:
    """A command's one line, read from its module's source without importing it (no torch for
    ``--help``): the docstring's first paragraph, or the module's ``SUBCOMMANDS`` entry."""
    base = _PACKAGES / command.module.replace(".", "/")
    path = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if command.prefix:
        table = next(
            node.value
            for node in tree.body
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "SUBCOMMANDS" for t in node.targets)
        )
        return ast.literal_eval(table)[command.prefix[0]]
    return command_line.summary(ast.get_docstring(tree))


def build_parser() -> argparse.ArgumentParser:
    width = max(map(len, COMMANDS))
    listing = "\n".join(
        textwrap.fill(
            describe(command).split(": ")[0].removesuffix("."),
            100,
            initial_indent=f"  {name:<{width}}  ",
            subsequent_indent=" " * (width + 4),
        )
        for name, command in COMMANDS.items()
    )
    parser = argparse.ArgumentParser(
        prog="pii-factory",
        usage="pii-factory [--version] [--help] COMMAND [ARGS ...]",
        description=f"{command_line.summary(__doc__)}\n\ncommands:\n{listing}",
        epilog=f"`pii-factory COMMAND --help` describes a command's arguments.\n\nworkflow:\n{EXAMPLE}\n\n"
        f"{command_line.EXIT_CODES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pii-factory {command_line.version()}")
    parser.add_argument("command", metavar="COMMAND", choices=sorted(COMMANDS), help=argparse.SUPPRESS)
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    command = COMMANDS[ns.command]
    # a module serving several subcommands (converters) names them itself: its prog is the tool's
    command_line.PROG = "pii-factory" if command.prefix else f"pii-factory {ns.command}"
    module = importlib.import_module(command.module)
    try:
        return int(module.main([*command.prefix, *ns.args]) or 0)
    finally:
        command_line.PROG = None


if __name__ == "__main__":
    raise SystemExit(main())
