"""Seeded bootstrap over samples: confidence intervals for one run, paired deltas for two.

Resampling is by sample (a text with all its entities), because entities of one text are not
independent. The same seed and sample count give the same resamples, which is what makes the
comparison of two runs paired.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

_CHUNK = 64


def resampled_totals(per_sample: np.ndarray, replicates: int, seed: int) -> Iterator[np.ndarray]:
    """Yield ``(b, *per_sample.shape[1:])`` summed counts, ``replicates`` rows in all."""
    n = per_sample.shape[0]
    flat = per_sample.reshape(n, -1).astype(np.float64)
    rng = np.random.default_rng(seed)
    done = 0
    while done < replicates:
        size = min(_CHUNK, replicates - done)
        draws = rng.integers(0, n, size=(size, n))
        weights = np.stack([np.bincount(row, minlength=n) for row in draws]).astype(np.float64)
        yield (weights @ flat).reshape(size, *per_sample.shape[1:])
        done += size


def interval(values: np.ndarray, level: float = 0.95) -> list[float]:
    """Percentile interval."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return [float(low), float(high)]
