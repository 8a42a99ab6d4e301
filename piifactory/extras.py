"""The optional parts of the pack and the extra that installs each (pyproject.toml's
``[project.optional-dependencies]``): code that needs one asks here first, so a missing package is
one line naming the extra to install, never an ``ImportError`` from deep inside a run."""

from __future__ import annotations

import importlib.util

from piifactory.errors import PiiFactoryError


class MissingExtraError(PiiFactoryError):
    """An optional package the command needs is not installed."""


def require(module: str, extra: str, user: str) -> None:
    """Raise :class:`MissingExtraError` unless top-level ``module`` is importable (found, not
    imported: the check costs nothing). ``extra`` is the pii-factory extra that installs it."""
    if importlib.util.find_spec(module) is None:
        raise MissingExtraError(
            f"{user} needs the {module} package, which is not installed: pip install 'pii-factory[{extra}]'"
        )
