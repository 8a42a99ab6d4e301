"""The generated pages of the documentation site, written at build time by mkdocs-gen-files (the
``gen-files`` plugin in mkdocs.yml runs this file) and never committed, so they cannot drift from
their sources: the command reference from the commands' own argparse parsers, the recipe table from
the recipes, the benchmark pages from the committed results files (with their machine, date and
commit), and the layer table from the README."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from piifactory import command_line
from piifactory.recipe_file import read_recipe
from piifactory.tables import markdown_table
from workflows.command_table import COMMANDS
from workflows.pii_factory import describe

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "llamafactory_configs"
CPU_RESULTS = REPO / "bench" / "results.md"
# `python -m bench --only NAME --out bench/results-NAME.md`: a benchmark that needs what `make bench`
# does not make (the demo's trained model), committed from a run of its own
STUDY_RESULTS = sorted((REPO / "bench").glob("results-*.md"))
GPU_RESULTS = REPO / "bench" / "gpu_results.json"
HELP_COLUMNS = "100"  # argparse wraps help to $COLUMNS: one width whatever terminal builds the site


class _Parsed(Exception):
    """Raised in place of parsing, carrying the parser a command's ``main`` built."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__(parser.prog)
        self.parser = parser


def _parser_built_by(main: Callable[[list[str]], int]) -> argparse.ArgumentParser:
    """The parser ``main`` builds, caught when it starts parsing (nothing after that runs)."""
    original = argparse.ArgumentParser.parse_known_args

    def caught(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        raise _Parsed(self)

    argparse.ArgumentParser.parse_known_args = caught  # type: ignore[method-assign]
    try:
        main(["--help"])
    except _Parsed as parsed:
        return parsed.parser
    finally:
        argparse.ArgumentParser.parse_known_args = original  # type: ignore[method-assign]
    raise RuntimeError(f"{main.__module__}.main returned without parsing its arguments")


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def command_parser(name: str) -> argparse.ArgumentParser:
    """The parser of ``pii-factory NAME`` as the dispatcher (``workflows.pii_factory``) has it built:
    the module's ``build_parser()`` where it has one, else the one its ``main`` builds; a command
    that is a subcommand of its module gets that subparser."""
    command = COMMANDS[name]
    module = importlib.import_module(command.module)
    builder = getattr(module, "build_parser", None)
    command_line.PROG = "pii-factory" if command.prefix else f"pii-factory {name}"
    try:
        parser = builder() if builder else _parser_built_by(module.main)
    finally:
        command_line.PROG = None
    for word in command.prefix:
        parser = _subcommands(parser)[word]
    return parser


def module_command(name: str) -> str:
    """What ``pii-factory NAME`` is with ``python -m``: the package whose ``__main__`` runs the
    module (``converters`` for ``converters.cli``), else the module itself."""
    command = COMMANDS[name]
    package = command.module.rpartition(".")[0]
    if command.module.endswith(".__main__"):
        module = package
    elif package and importlib.util.find_spec(package + ".__main__"):
        module = package
    else:
        module = command.module
    return " ".join(["python -m", module, *command.prefix])


def _help(parser: argparse.ArgumentParser, prog: str) -> str:
    parser.prog = prog
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        return parser.format_help().rstrip()
    finally:
        if previous is None:
            os.environ.pop("COLUMNS")
        else:
            os.environ["COLUMNS"] = previous


def command_reference() -> str:
    """Every ``pii-factory`` subcommand: its line of summary, the ``python -m`` command it also is and
    its ``--help``."""
    parsers = {name: command_parser(name) for name in COMMANDS}
    module_commands = {name: module_command(name) for name in COMMANDS}
    summaries = {name: describe(command) for name, command in COMMANDS.items()}
    lines = [
        "# Command reference",
        "",
        "Every step is a `pii-factory` subcommand and a module you can run with `python -m`; the help"
        " below is each command's own (`pii-factory COMMAND --help`), generated from its parser when"
        " the site is built. Training, merging and serving use LLaMA-Factory's own `llamafactory-cli`.",
        "",
        markdown_table(
            ["command", "what it does", "also"],
            [[f"[`{name}`](#{name})", summaries[name], f"`{module_commands[name]}`"] for name in COMMANDS],
        ),
    ]
    for name in COMMANDS:
        parser = parsers[name]
        prog = f"pii-factory {name}"
        summary = summaries[name][0].upper() + summaries[name][1:]
        stop = "" if summary[-1] in ".?!" else "."
        lines += ["", f"## {name}", "", f"{summary}{stop} Also `{module_commands[name]}`.", ""]
        lines += ["```text", _help(parser, prog), "```"]
        for word, subparser in _subcommands(parser).items():
            lines += ["", f"### {name} {word}", "", "```text", _help(subparser, f"{prog} {word}"), "```"]
    return "\n".join(lines) + "\n"


def _header(path: Path) -> list[str]:
    """The recipe's leading comment block, one string per line without the ``#``."""
    header = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        header.append(line.lstrip("#").strip())
    return header


def _first_sentence(text: str) -> str:
    return text.split(". ", 1)[0].rstrip(".") + "."


def _method(recipe: dict) -> str:
    if "export_dir" in recipe:
        return "merge and export"
    if "infer_backend" in recipe or recipe.get("stage") is None:
        return f"inference ({recipe.get('infer_backend', 'huggingface')})"
    parts = [recipe.get("finetuning_type", "lora")]
    if recipe.get("quantization_bit"):
        parts.insert(0, f"QLoRA {recipe['quantization_bit']}-bit")
    if recipe.get("lora_rank"):
        parts.append(f"r{recipe['lora_rank']}/a{recipe.get('lora_alpha', '')}")
    if recipe.get("deepspeed"):
        parts.append("DeepSpeed " + Path(str(recipe["deepspeed"])).stem)
    if recipe.get("use_unsloth"):
        parts.append("Unsloth")
    if "pii_factory" in recipe:
        parts.append("plugin block")
    return ", ".join(parts)


def _measured(results: dict[str, dict], name: str) -> str:
    """``train / eval+gen`` live GiB of the committed GPU check, where it measured the recipe."""
    row = results.get(name) or {}
    cells = [row.get("train_live_gib"), row.get("eval_live_gib")]
    return " / ".join("-" if v is None else f"{v:.1f}" for v in cells) if any(cells) else ""


def recipe_rows() -> list[list[str]]:
    results = {r["recipe"]: r for r in json.loads(GPU_RESULTS.read_text(encoding="utf-8"))["results"]}
    rows = []
    for path in sorted(RECIPES.glob("*.yaml")):
        recipe = read_recipe(path)
        header = _header(path)
        target = next((line.split(":", 1)[1].strip() for line in header if line.startswith("Target")), "")
        what = " ".join(header)
        datasets = ", ".join(str(recipe[key]) for key in ("dataset", "eval_dataset") if recipe.get(key))
        rows.append(
            [
                f"`{path.name}`",
                _first_sentence(what),
                f"`{recipe.get('model_name_or_path', '')}`",
                _method(recipe),
                str(recipe.get("template", "")),
                datasets,
                _first_sentence(target) if target else "",
                _measured(results, path.stem),
            ]
        )
    return rows


def recipe_table() -> str:
    return "\n".join(
        [
            "# Recipe table",
            "",
            "The recipes in `llamafactory_configs/`, read from the files when the site is built: the first sentence"
            " of each one's header, its model, method, template, datasets and target card. Memory estimates and"
            " measurements: [recipes and the preflight](../recipes.md); options of the `pii_factory:` block:"
            " [training plugin](../plugins.md). The last column is the live peak the committed GPU check measured"
            " (train / evaluation with generation, GiB; [GPU results](../benchmarks/gpu.md)).",
            "",
            markdown_table(
                ["recipe", "what", "model", "method", "template", "datasets", "target", "measured GiB"], recipe_rows()
            ),
            "",
        ]
    )


def recorded_in(path: Path) -> str:
    """The commit that last wrote a results file, from git (or "unknown" outside a git checkout)."""
    try:
        found = subprocess.run(
            ["git", "-C", str(REPO), "log", "-1", "--format=%h %cs", "--", str(path.relative_to(REPO))],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        found = ""
    return found or "unknown"


def results_page(path: Path, title: str) -> str:
    """A results file of ``python -m bench`` as a page: its own machine table and figures."""
    body = path.read_text(encoding="utf-8").split("\n", 1)[1]
    return "\n".join(
        [
            f"# {title}",
            "",
            f"Generated from `{path.relative_to(REPO)}`, which `python -m bench` writes with the machine it ran"
            f" on; the file was committed in {recorded_in(path)}. How each figure is taken:"
            " [how the benchmarks are measured](../bench.md).",
            body.replace("\n# ", "\n## "),
        ]
    )


def cpu_results() -> str:
    return results_page(CPU_RESULTS, "CPU benchmark results")


def _study_name(path: Path) -> str:
    return path.stem.removeprefix("results-")


def gpu_results() -> str:
    """``bench/gpu_results.json`` as a page: the device line and one row per recipe."""
    from bench.gpu import HEADER, Result, table_rows

    data = json.loads(GPU_RESULTS.read_text(encoding="utf-8"))
    results = [Result(**row) for row in data["results"]]
    return "\n".join(
        [
            "# GPU check results",
            "",
            "Generated from `bench/gpu_results.json`, which `make gpu-check` (`python -m bench.gpu`) writes;"
            f" the file was committed in {recorded_in(GPU_RESULTS)}. What the check runs and what it found:"
            " [the GPU check](../bench-gpu.md).",
            "",
            f"Device: {data['device']}. {data['steps']} optimiser steps per recipe, random weights of the real"
            " shape, rows about `cutoff_len` long. Live: the allocator's allocated bytes (what the preflight"
            " estimates); reserved: what its cache held. live/est. divides the live peak by the estimate without"
            " its CUDA-context term.",
            "",
            markdown_table(HEADER, table_rows(results)),
            "",
        ]
    )


def layers() -> str:
    """The README's "Layout" section: the layer table ``tests/test_layers.py`` enforces."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    section = section.replace("](docs/", "](../")
    return "# Layers\n\nThe layer table of the README, where `tests/test_layers.py` reads it.\n" + section


PAGES: dict[str, Callable[[], str]] = {
    "reference/commands.md": command_reference,
    "reference/recipes.md": recipe_table,
    "benchmarks/index.md": cpu_results,
    "benchmarks/gpu.md": gpu_results,
    "development/layers.md": layers,
    **{
        f"benchmarks/{_study_name(path)}.md": lambda path=path: results_page(
            path, f"Benchmark results: {_study_name(path)}"
        )
        for path in STUDY_RESULTS
    },
}


def write_pages() -> None:
    import mkdocs_gen_files

    for path, render in PAGES.items():
        with mkdocs_gen_files.open(path, "w") as page:
            page.write(render())


if __name__ == "<run_path>":  # run by mkdocs-gen-files
    write_pages()
