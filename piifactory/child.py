"""The one way the pack starts a command of its own in a child Python: ``python -m`` built from the
imported module, so a rename fails at import and the layer test sees the dependency."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType


def python_m(module: ModuleType, *args: object, python: str | Path = sys.executable) -> list[str]:
    """``[python, -m, module, *args]``, with this interpreter unless ``python`` names another (an
    environment the pack is installed in); a package's ``__main__`` runs as the package."""
    name = module.__name__.removesuffix(".__main__")
    return [str(python), "-m", name, *map(str, args)]
