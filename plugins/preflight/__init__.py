"""Preflight for recipes: will it fit the card, and is it consistent, before any model loads."""

from plugins.preflight.core import run_preflight
from plugins.preflight.recipe import apply_overrides, load_llamafactory_config, load_recipe, split_plugin_block
from plugins.preflight.report import PreflightReport

__all__ = ["PreflightReport", "apply_overrides", "load_llamafactory_config", "load_recipe", "run_preflight",
           "split_plugin_block"]
