"""Reading a recipe YAML and its ``key=value`` overrides, one way for the preflight, eval and the board.

Every problem with the file (unreadable, not UTF-8, bad syntax, a ``!!python/...`` tag, a repeated
key) is an :class:`InputError` ``file:line: ...``, so each command reports a broken recipe in one
line, never a PyYAML traceback. A bad override is a ``ValueError``: the file is not at fault.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from piifactory.errors import UsageError
from piifactory.io import InputError


def _duplicate_key(node: yaml.Node | None) -> yaml.Node | None:
    """The first repeated key in any mapping: YAML keeps the last one silently, hiding an edit."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    return key
                seen.add(key.value)
            found = _duplicate_key(value)
            if found is not None:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found = _duplicate_key(item)
            if found is not None:
                return found
    return None


def _document(text: str, path: str | Path) -> Any:
    """The YAML document as ``yaml.safe_load`` gives it (parsed once), repeated keys refused."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = f"invalid YAML: {exc.problem or exc.context}"
        if mark is not None:  # the column goes in the message, as for invalid JSON lines
            message += f" (column {mark.column + 1})"
        if exc.context and exc.context_mark is not None and exc.context_mark.line + 1 != line:
            message += f" ({exc.context} opened at line {exc.context_mark.line + 1})"
        raise InputError(path, line, message) from None
    except yaml.YAMLError as exc:
        raise InputError(path, None, f"invalid YAML: {exc}") from None
    except RecursionError:  # PyYAML's composer recurses once per nesting level
        raise InputError(path, None, "invalid YAML: nested too deeply") from None
    finally:
        loader.dispose()
    duplicate = _duplicate_key(node)
    if duplicate is not None:
        raise InputError(path, duplicate.start_mark.line + 1, f"duplicate key {duplicate.value!r}")
    return data


def _mapping(data: Any, path: str | Path) -> dict[str, Any]:
    """A recipe is a mapping; an empty file is an empty one."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(path, 1, f"a recipe is a mapping of keys, got {type(data).__name__}")
    return data


def parse_yaml(text: str, path: str | Path = "<recipe>") -> dict[str, Any]:
    """Recipe text as a mapping; ``path`` only names the source in errors."""
    return _mapping(_document(text, path), path)


def read_yaml(path: str | Path) -> Any:
    """A YAML file's document, whatever its type: for folders that may hold YAML other than recipes."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, None, f"cannot read recipe: {exc}") from None
    return _document(text, path)


def read_recipe(path: str | Path) -> dict[str, Any]:
    """A recipe file as a mapping (the ``pii_factory`` block included)."""
    return _mapping(read_yaml(path), path)


def apply_overrides(config: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """``key=value`` pairs as on ``llamafactory-cli``'s command line, applied to a copy; dotted keys
    reach nested blocks (``pii_factory.preflight.mode=fail``); values are read as YAML scalars."""
    out = copy.deepcopy(config)
    for item in overrides:
        key, sep, raw = item.partition("=")
        parts = [part.strip() for part in key.split(".")]
        if not sep or not all(parts):
            raise UsageError(f"override {item!r} is not key=value")
        try:
            value = _document(raw, "<override>")
        except InputError as exc:
            raise UsageError(f"override {item!r}: {exc.message}") from None
        *parents, leaf = parts
        node = out
        for part in parents:
            if node.get(part) is None:  # absent, or written with no value (`focal_loss:`)
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise UsageError(f"override {item!r}: {part!r} is not a block")
        node[leaf] = value
    return out
