"""Preflight for recipes: will it fit the card, and is it consistent, before any model loads."""

from piifactory.recipe_file import apply_overrides
from piifactory.recipe_file import read_recipe as load_recipe
from plugins.preflight.core import run_preflight
from plugins.preflight.findings import PreflightReport
from plugins.preflight.recipe import load_llamafactory_config, split_plugin_block

__all__ = [
    "PreflightReport",
    "apply_overrides",
    "load_llamafactory_config",
    "load_recipe",
    "run_preflight",
    "split_plugin_block",
]
