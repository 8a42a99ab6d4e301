"""Entity values are personal data: reports and error lists show them masked unless asked."""

from __future__ import annotations


def mask(value: str, show: bool) -> str:
    """The value itself, or one ``*`` per character (length kept, content gone)."""
    return value if show else "*" * len(value)
