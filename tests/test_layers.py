"""Packages are the layers: every import of every module (read with ``ast``, function-level imports
included) goes to the module's own unit or to a unit of a lower level of the table in README's
"Layout" section, ``bench`` and ``tests`` included, and nothing outside ``tests/`` imports ``tests``.
No module starts another by a name written in a string (``-m`` followed by a module name, or a
module name handed to ``import_module``/``run_module``); the ``pii-factory`` command table is the
one place that names modules, and its entries count as imports of the command. The README table
is the one source of the order: this test reads it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import REPO
from workflows.command_table import COMMANDS

# Folders of the checkout that hold no module of the pack (generated, cached or installed).
_NOT_SOURCE = {"outputs", "build", "dist", "data", "__pycache__", "llamafactory_configs", "docs", "fixtures", "site"}
COMMAND_TABLE = "workflows.command_table"


def read_layers(readme: str) -> dict[str, int]:
    """``{unit: level}`` from the README's "## Layout" table (rows ``| level | package | what |``)."""
    section = readme.split("## Layout", 1)[1].split("\n#", 1)[0]
    levels: dict[str, int] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].isdigit():
            for unit in re.findall(r"`([\w.]+)`", cells[1]):
                assert unit not in levels, f"{unit} is in the layer table twice"
                levels[unit] = int(cells[0])
    return levels


def unit_of(module: str, levels: dict[str, int]) -> str | None:
    """The row that holds ``module``: the longest unit that is the module or a package above it."""
    for unit in sorted(levels, key=len, reverse=True):
        if module == unit or module.startswith(unit + "."):
            return unit
    return None


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_modules(root: Path) -> dict[str, Path]:
    """Every Python module of the checkout: the packages, ``bench`` and ``tests``."""
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


def named_in_strings(source: str, known: set[str], dotted: bool = True) -> list[tuple[int, str]]:
    """(line, module) for each pack module named in a string: any pack module after ``"-m"`` in a
    literal list and, with ``dotted``, a string (not a docstring) that is a dotted module name."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    found: set[tuple[int, str]] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, (ast.List, ast.Tuple)):
            for before, item in zip(node.elts, node.elts[1:]):
                if _constant(before) == "-m" and _constant(item) in known:
                    found.add((item.lineno, _constant(item)))
        elif dotted and id(node) not in docstrings and "." in (_constant(node) or "") and _constant(node) in known:
            found.add((node.lineno, _constant(node)))
    return sorted(found)


def _constant(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def violations(root: Path, levels: dict[str, int], table: dict[str, list[str]] | None = None) -> list[str]:
    """``file:line: what is wrong`` for each import against the table, each module the table
    does not place, each import of ``tests`` from outside it and each module named in a string.
    ``table``: ``{module: [modules it starts]}``, the command table's edges."""
    modules = source_modules(root)
    roots = {name.split(".")[0] for name in modules} | {"tests"}
    problems: list[str] = []
    for module, path in modules.items():
        rel = path.relative_to(root)
        unit = unit_of(module, levels)
        if unit is None:
            problems.append(f"{rel}: module {module} has no row in README's layer table")
            continue
        source = path.read_text(encoding="utf-8")
        edges = imports_of(source, module, path.name == "__init__.py", set(modules))
        edges += [(0, target) for target in (table or {}).get(module, [])]
        # the command table names modules by design; test data may hold dotted names as text
        named = [] if module in (table or {}) else named_in_strings(source, set(modules), unit != "tests")
        for line, target in named:
            problems.append(f"{rel}:{line}: names module {target} in a string; import it (piifactory.child.python_m)")
        for line, target in sorted(edges):
            top = target.split(".")[0]
            if top == "tests" and unit != "tests":
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
    assert levels["piifactory"] == 1 and levels["tests"] == max(levels.values())
    assert violations(REPO, levels, {COMMAND_TABLE: [command.module for command in COMMANDS.values()]}) == []


def test_every_package_and_room_of_the_tree_has_a_row(levels: dict[str, int]) -> None:
    """A reader sees the architecture from the folder tree: each package folder is a row or lies
    inside one, and the core holds only modules of its own and the rooms the table names."""
    packages = {
        module_name(p.parent / "__init__.py", REPO) for p in REPO.rglob("__init__.py") if ".venv" not in p.parts
    }
    assert all(unit_of(name, levels) for name in packages if name.split(".")[0] in levels)
    for room in ("piifactory.rules", "piifactory.synth", "piifactory.models", "eval.scoring", "eval.decoding"):
        assert room in levels
    assert len([p for p in (REPO / "eval").glob("*.py")]) <= 12


def _write(root: Path, rel: str, source: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")


def test_the_check_catches_upward_and_sibling_imports_tests_strings_and_unplaced_modules(tmp_path: Path) -> None:
    table = {"core": 1, "lib": 2, "other": 2, "top": 3, "tests": 4}
    _write(tmp_path, "core/__init__.py", "")
    _write(tmp_path, "core/schema.py", "def f():\n    from lib import thing\n")  # a function-level import counts
    _write(tmp_path, "lib/__init__.py", "from . import part\n")
    _write(tmp_path, "lib/part.py", "import core.schema\nfrom other import x\n")
    _write(
        tmp_path, "other/__init__.py", "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from top import z\n"
    )
    _write(tmp_path, "top/__init__.py", "from lib.part import y\nfrom tests.conftest import REPO\n")
    _write(tmp_path, "top/run.py", "import sys\nCMD = [sys.executable, '-m', 'lib.part']\n")
    _write(tmp_path, "tests/conftest.py", "from top import run\nfrom tests import helpers\n")
    _write(tmp_path, "tests/helpers.py", "")
    _write(tmp_path, "stray.py", "")
    found = violations(tmp_path, table, {"core.schema": ["top.run"]})
    assert found == [
        "core/schema.py:0: core (level 1) imports top (level 3); imports point only to lower levels",
        "core/schema.py:2: core (level 1) imports lib (level 2); imports point only to lower levels",
        "lib/part.py:2: lib (level 2) imports other (level 2); imports point only to lower levels",
        "stray.py: module stray has no row in README's layer table",
        "top/__init__.py:2: imports tests.conftest; nothing outside tests/ imports tests",
        "top/run.py:2: names module lib.part in a string; import it (piifactory.child.python_m)",
    ]


def test_a_module_belongs_to_the_longest_row_above_it() -> None:
    table = {"piifactory": 1, "piifactory.rules": 2, "eval": 7, "eval.scoring": 6}
    assert unit_of("piifactory", table) == "piifactory"
    assert unit_of("piifactory.errors", table) == "piifactory"
    assert unit_of("piifactory.rules.hybrid", table) == "piifactory.rules"
    assert unit_of("eval.score", table) == "eval"
    assert unit_of("eval.scoring.spans", table) == "eval.scoring"
    assert unit_of("evaluate", table) is None


def test_every_command_of_the_table_is_a_module_with_a_main() -> None:
    for name, command in COMMANDS.items():
        path = REPO / (command.module.replace(".", "/") + ".py")
        package = REPO / command.module.replace(".", "/") / "__main__.py"
        assert path.exists() or package.exists(), f"{name}: {command.module} is no module of the pack"
