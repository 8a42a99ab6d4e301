"""Fixed-size batches of any iterable: the one chunking helper for prediction, generation, split
checks and the preflight (``itertools.batched`` arrives only in Python 3.12; the pack supports 3.10)."""

from __future__ import annotations

from itertools import islice
from typing import Iterable, Iterator, TypeVar

Item = TypeVar("Item")


def batched(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """Consecutive lists of ``size`` items (the last may be shorter); lazy, so a stream of any length
    is held one batch at a time."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    remaining = iter(items)
    while batch := list(islice(remaining, size)):
        yield batch
