"""Layers point one way: every import of every module (read with ``ast``, function-level imports
included) goes to the module's own unit or to a unit of a lower level of the table in README's
"Layers" section, and nothing outside ``tests/`` imports ``tests``. The README table is the one
source of the order: this test reads it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import REPO

# Folders of the checkout that hold no module of the pack (generated, cached or installed).
_NOT_SOURCE = {"tests", "outputs", "build", "dist", "data", "__pycache__", "llamafactory_configs", "docs"}


def read_layers(readme: str) -> dict[str, int]:
    """``{unit: level}`` from the README's "### Layers" table (rows ``| level | layer | units |``)."""
    section = readme.split("### Layers", 1)[1].split("\n#", 1)[0]
    levels: dict[str, int] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].isdigit():
            for unit in re.findall(r"`([\w.]+)`", re.sub(r"\([^)]*\)", "", cells[2])):  # not in the remarks
                assert unit not in levels, f"{unit} is in the layer table twice"
                levels[unit] = int(cells[0])
    return levels


def unit_of(module: str, levels: dict[str, int]) -> str | None:
    """The row that holds ``module``: the longest unit that is the module or a package above it.
    A package whose parts have rows of their own (``piifactory``) covers only its ``__init__``."""
    for unit in sorted(levels, key=len, reverse=True):
        if module == unit:
            return unit
        if module.startswith(unit + ".") and not any(other.startswith(unit + ".") for other in levels):
            return unit
    return None


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_modules(root: Path) -> dict[str, Path]:
    """Every Python module of the checkout outside ``tests/``: the packages and ``bench``."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).parts
        if any(part.startswith(".") or part in _NOT_SOURCE or part.endswith(".egg-info") for part in rel[:-1]):
            continue
        found[module_name(path, root)] = path
    return found


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:`` (annotations only, never imported)."""
    nodes: list[ast.AST] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack += node.orelse
            continue
        stack += ast.iter_child_nodes(node)
    return nodes


def imports_of(source: str, module: str, is_package: bool, known: set[str]) -> list[tuple[int, str]]:
    """(line, imported module) for every import in ``source`` (sorted by line); ``from pkg import
    name`` counts as ``pkg.name`` when that is a module of ``known``."""
    found: list[tuple[int, str]] = []
    package = module if is_package else module.rpartition(".")[0]
    for node in _runtime_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((node.lineno, sub if sub in known else base))
    return sorted(set(found))


def violations(root: Path, levels: dict[str, int]) -> list[str]:
    """``file:line: what is wrong`` for each import against the table, each module the table
    does not place and each import of ``tests``."""
    modules = source_modules(root)
    roots = {name.split(".")[0] for name in modules} | {"tests"}
    problems: list[str] = []
    for module, path in modules.items():
        rel = path.relative_to(root)
        unit = unit_of(module, levels)
        if unit is None:
            problems.append(f"{rel}: module {module} has no row in README's layer table")
            continue
        for line, target in imports_of(
            path.read_text(encoding="utf-8"), module, path.name == "__init__.py", set(modules)
        ):
            top = target.split(".")[0]
            if top == "tests":
                problems.append(f"{rel}:{line}: imports {target}; nothing outside tests/ imports tests")
            elif top in roots:
                target_unit = unit_of(target, levels)
                if target_unit is None:
                    problems.append(f"{rel}:{line}: imports {target}, which has no row in README's layer table")
                elif target_unit != unit and levels[target_unit] >= levels[unit]:
                    problems.append(
                        f"{rel}:{line}: {unit} (level {levels[unit]}) imports {target_unit} (level {levels[target_unit]}); "
                        "imports point only to lower levels"
                    )
    return problems


@pytest.fixture(scope="module")
def levels() -> dict[str, int]:
    return read_layers((REPO / "README.md").read_text(encoding="utf-8"))


def test_every_import_points_down_the_layer_table(levels: dict[str, int]) -> None:
    assert levels["piifactory.errors"] == 1 and max(levels.values()) >= 4
    assert violations(REPO, levels) == []


def _write(root: Path, rel: str, source: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")


def test_the_check_catches_an_upward_import_a_sibling_import_tests_and_an_unplaced_module(tmp_path: Path) -> None:
    table = {"core": 1, "core.schema": 1, "lib": 2, "other": 2, "top": 3}
    _write(tmp_path, "core/__init__.py", "")
    _write(tmp_path, "core/schema.py", "def f():\n    from lib import thing\n")  # a function-level import counts
    _write(tmp_path, "lib/__init__.py", "from . import part\n")
    _write(tmp_path, "lib/part.py", "import core.schema\nfrom other import x\n")
    _write(
        tmp_path, "other/__init__.py", "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from top import z\n"
    )
    _write(tmp_path, "top/__init__.py", "from lib.part import y\nfrom tests.conftest import REPO\n")
    _write(tmp_path, "stray.py", "")
    found = violations(tmp_path, table)
    assert found == [
        "core/schema.py:2: core.schema (level 1) imports lib (level 2); imports point only to lower levels",
        "lib/part.py:2: lib (level 2) imports other (level 2); imports point only to lower levels",
        "stray.py: module stray has no row in README's layer table",
        "top/__init__.py:2: imports tests.conftest; nothing outside tests/ imports tests",
    ]


def test_a_package_with_rows_for_its_parts_covers_only_its_init() -> None:
    table = {"piifactory": 1, "piifactory.errors": 1, "eval": 7}
    assert unit_of("piifactory", table) == "piifactory"
    assert unit_of("piifactory.errors", table) == "piifactory.errors"
    assert unit_of("piifactory.new_module", table) is None
    assert unit_of("eval.score", table) == "eval"
