"""Imported at interpreter start-up by ``pii_factory_hook.pth`` (installed with the package).

A top-level module with a name no one else uses, stdlib only: it must cost nothing and touch no
other name in ``sys.modules`` (importing the pack's ``plugins`` here would hide a user project's
own ``plugins`` package in every process of the environment). It registers an import hook that,
right after ``llamafactory.train.tuner`` executes, hands the module to ``plugins.activation``,
which wraps ``run_exp``. Environment-independent, so torchrun workers and LLaMA-Board's
subprocess get it too; whether anything changes is decided per run by the recipe's block.
"""

from __future__ import annotations

import sys
from importlib.machinery import PathFinder
from importlib.util import find_spec
from pathlib import Path

TARGET = "llamafactory.train.tuner"
PACK_PLUGINS = Path(__file__).resolve().parent / "plugins"  # installed beside this module


def _pack_plugins_visible() -> bool:
    """Whether ``import plugins`` resolves to the pack's (a project's own ``plugins`` may win)."""
    spec = find_spec("plugins")
    locations = list(spec.submodule_search_locations or ()) if spec is not None else []
    return any(Path(location).resolve() == PACK_PLUGINS for location in locations)


def activate(tuner) -> None:
    """Let the pack's plugins wrap ``tuner.run_exp``, unless another ``plugins`` package is in the way."""
    if not _pack_plugins_visible():
        print(
            f"pii_factory: another `plugins` package shadows the pack's ({PACK_PLUGINS}) in this process; "
            "llamafactory runs stock and a recipe's `pii_factory:` block is not applied",
            file=sys.stderr,
        )
        return
    from plugins.activation import patch_tuner

    patch_tuner(tuner)


class PiiFactoryTunerHook:
    """A meta-path finder that only ever answers for ``llamafactory.train.tuner``."""

    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        stock_exec = spec.loader.exec_module

        def exec_module(module) -> None:
            stock_exec(module)
            activate(module)

        spec.loader.exec_module = exec_module
        return spec


def installed() -> bool:
    return any(isinstance(finder, PiiFactoryTunerHook) for finder in sys.meta_path)


def install() -> None:
    if not installed():
        sys.meta_path.insert(0, PiiFactoryTunerHook())


install()
