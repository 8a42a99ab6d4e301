"""The ``pii-factory`` subcommands: for each, the module whose ``main(argv)`` runs it. The one place
in the pack that names modules in strings (the layer test reads it), so the command line can list
every command without importing any of them; each command's one-line description is the first
paragraph of its module's docstring."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    module: str
    # arguments put before the user's: a subcommand of a module that serves several, described by
    # that module's ``SUBCOMMANDS`` table
    prefix: tuple[str, ...] = ()


COMMANDS: dict[str, Command] = {
    "synth": Command("piifactory.synth.command"),
    "convert": Command("converters.cli", ("convert",)),
    "stats": Command("converters.cli", ("stats",)),
    "audit": Command("converters.cli", ("audit",)),
    "conformance": Command("converters.cli", ("conformance",)),
    "preflight": Command("plugins.preflight.__main__"),
    "predict": Command("eval.predict"),
    "score": Command("eval.score"),
    "compare": Command("eval.compare"),
    "calibrate": Command("eval.calibrate"),
    "rules-vs-model": Command("eval.rules_vs_model"),
    "curves": Command("eval.scoring.curves"),
    "export": Command("workflows.export.__main__"),
    "experiments": Command("workflows.experiments.__main__"),
    "demo": Command("workflows.demo.plan"),
    "board": Command("workflows.board.__main__"),
    "tiny-model": Command("piifactory.models.tiny_model"),
    "qwen-tokenizer": Command("piifactory.models.qwen_tokenizer"),
}
