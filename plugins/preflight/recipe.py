"""The pack's block split off a recipe (read by :mod:`piifactory.recipe_file`).

LLaMA-Factory's parser rejects unknown keys, so everything that hands a recipe to it (the training
plugin, the tests) goes through :func:`split_plugin_block` first.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from piifactory.recipe_file import read_recipe
from plugins.options import BLOCK_KEY


def split_plugin_block(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(llamafactory_config, pii_factory_block)``; the input is left untouched."""
    lf_config = copy.deepcopy(config)
    block = lf_config.pop(BLOCK_KEY, None) or {}
    return lf_config, block


def load_llamafactory_config(path: str | Path) -> dict[str, Any]:
    """A recipe as LLaMA-Factory's parser accepts it: the ``pii_factory`` block stripped."""
    return split_plugin_block(read_recipe(path))[0]
