"""Read a training recipe YAML (plus ``key=value`` overrides) into LLaMA-Factory's own
inference arguments, so predict sees the model, adapter, template, thinking and cutoff that
training saw. Training-only keys are dropped on purpose; everything else goes through
LLaMA-Factory's parser and its checks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from piifactory import lf_compat
from piifactory.recipe_file import apply_overrides, read_recipe


def load_recipe(path: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The recipe with ``key=value`` overrides applied, read as the preflight and the board read it:
    a broken file is an InputError ``file:line``, a bad override a ValueError."""
    return apply_overrides(read_recipe(path), overrides)


def infer_args(recipe: dict[str, Any]):
    """(model_args, data_args, finetuning_args, generating_args) from LLaMA-Factory's parser."""
    from llamafactory.hparams import get_infer_args

    known = lf_compat.infer_arg_fields()
    return get_infer_args({k: v for k, v in recipe.items() if k in known})
