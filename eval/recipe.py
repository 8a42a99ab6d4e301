"""Read a training recipe YAML (plus ``key=value`` overrides) into LLaMA-Factory's own
inference arguments, so predict sees the model, adapter, template, thinking and cutoff that
training saw. Training-only keys are dropped on purpose; everything else goes through
LLaMA-Factory's parser and its checks."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from piifactory.io import InputError
from plugins.preflight.recipe import parse_yaml


def load_recipe(path: str | Path, overrides: list[str] = ()) -> dict[str, Any]:
    """The YAML mapping with ``key=value`` overrides applied (values parsed as YAML scalars).
    Parsed by the preflight's reader, so a broken recipe is reported ``file:line`` the same way."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, None, f"cannot read recipe: {exc}") from None
    recipe = parse_yaml(text, path)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(path, None, f"override {item!r} is not key=value")
        recipe[key.strip()] = yaml.safe_load(value)
    return recipe


def infer_args(recipe: dict[str, Any]):
    """(model_args, data_args, finetuning_args, generating_args) from LLaMA-Factory's parser."""
    from llamafactory.hparams.parser import _INFER_ARGS, get_infer_args

    known = {f.name for cls in _INFER_ARGS for f in dataclasses.fields(cls)}
    return get_infer_args({k: v for k, v in recipe.items() if k in known})
