"""What every benchmark module shares: the row it returns and a stopwatch."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Row:
    """One figure: ``value`` in ``unit`` (a throughput or a ratio), with how it was measured."""

    benchmark: str
    figure: str
    value: float
    unit: str
    note: str = ""


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """``(fn(), seconds)`` by the monotonic clock."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def best_of(repeats: int, fn: Callable[[], T]) -> tuple[T, float]:
    """The fastest of ``repeats`` runs: on a busy machine the minimum is the least disturbed."""
    result, best = timed(fn)
    for _ in range(repeats - 1):
        result, seconds = timed(fn)
        best = min(best, seconds)
    return result, best


def scaled(full: int, scale: float, floor: int) -> int:
    """A size for this run: ``full`` times ``scale``, never below ``floor``."""
    return max(floor, int(full * scale))
