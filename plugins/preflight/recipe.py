"""Loading a recipe: YAML with file:line errors, duplicate keys refused, the pack's block split off.

LLaMA-Factory's parser rejects unknown keys, so everything that hands a recipe to it (the training
plugin, the tests) goes through :func:`split_plugin_block` first.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from piifactory.io import InputError

PLUGIN_KEY = "pii_factory"


def _duplicate_key(node: yaml.Node) -> yaml.Node | None:
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


def parse_yaml(text: str, path: str | Path = "<recipe>") -> dict[str, Any]:
    """Parse recipe text (``yaml.safe_load``); any YAML problem becomes ``InputError(path, line)``."""
    try:
        data = yaml.safe_load(text)
        duplicate = _duplicate_key(yaml.compose(text, Loader=yaml.SafeLoader))
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
    if duplicate is not None:
        raise InputError(path, duplicate.start_mark.line + 1, f"duplicate key {duplicate.value!r}")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(path, 1, f"a recipe is a mapping of keys, got {type(data).__name__}")
    return data


def load_recipe(path: str | Path) -> dict[str, Any]:
    """Read a recipe file (plugin block included)."""
    return parse_yaml(Path(path).read_text(encoding="utf-8"), path)


def split_plugin_block(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(llamafactory_config, pii_factory_block)``; the input is left untouched."""
    lf_config = copy.deepcopy(config)
    block = lf_config.pop(PLUGIN_KEY, None) or {}
    return lf_config, block


def load_llamafactory_config(path: str | Path) -> dict[str, Any]:
    """A recipe as LLaMA-Factory's parser accepts it: the ``pii_factory`` block stripped."""
    return split_plugin_block(load_recipe(path))[0]


def apply_overrides(config: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``key=value`` pairs as on ``llamafactory-cli``'s command line; dotted keys reach nested
    blocks (``pii_factory.preflight.mode=fail``); values are read as YAML scalars."""
    out = copy.deepcopy(config)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r} is not key=value")
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {item!r}: {part!r} is not a block")
        node[leaf] = yaml.safe_load(raw) if raw else None
    return out
