"""Imported at interpreter start-up by ``pii_factory_hook.pth`` (installed with the package).

It must cost nothing: stdlib only, no llamafactory or torch import. It registers an import hook
that, right after ``llamafactory.train.tuner`` executes, wraps its ``run_exp`` (see
``plugins.activation``). Environment-independent, so torchrun workers and LLaMA-Board's
subprocess get it too; whether anything changes is decided per run by the recipe's block.
"""

from __future__ import annotations

import sys
from importlib.machinery import PathFinder

_TARGET = "llamafactory.train.tuner"


class _TunerHook:
    """A meta-path finder that only ever answers for ``llamafactory.train.tuner``."""

    def find_spec(self, name, path, target=None):
        if name != _TARGET:
            return None
        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        stock_exec = spec.loader.exec_module

        def exec_module(module) -> None:
            stock_exec(module)
            from plugins.activation import patch_tuner

            patch_tuner(module)

        spec.loader.exec_module = exec_module
        return spec


def install() -> None:
    if not any(isinstance(f, _TunerHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _TunerHook())


install()
