"""Deterministic train/val/test split, stratified by entity type, decided by a hash of the text.

Two passes, memory flat in the number of records: the first pass counts, per stratum, how many
texts fall in each of 65,536 hash buckets; cut points are then chosen per stratum so each split
gets its share of that stratum; the second pass assigns each record by its bucket. The same
(normalised) text always lands in the same bucket, so identical texts cannot leak across splits
unless they were annotated with different types; :func:`find_leaks` checks the written files.

A record's stratum is its rarest entity type (by count over the whole input), ``NONE`` for a
PII-negative sample and ``CHAT`` for a plain SFT row.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from converters.records import Record
from converters.writers import iter_rows
from piifactory.schema import normalize_value

SPLITS = ("train", "val", "test")
_BUCKET_BITS = 16


def text_hash(text: str, salt: str = "", normalize: bool = True) -> int:
    """A stable 64-bit hash of the (normalised) text, independent of Python's hash seed."""
    digest = hashlib.blake2b((salt + (normalize_value(text) if normalize else text)).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def bucket_of(key: int) -> int:
    """The hash bucket (top 16 bits) a text hash falls in."""
    return key >> (64 - _BUCKET_BITS)


def type_key(record: Record) -> str:
    """The types a record holds, sorted and comma-joined (``CHAT`` for chat rows, empty for none)."""
    if record.sample is None:
        return "CHAT"
    return ",".join(sorted({e.type for e in record.sample.entities}))


@dataclass
class SplitPlan:
    """Collects the first pass, then assigns splits. Ratios are (train, val, test)."""

    ratios: tuple[float, float, float]
    _hist: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    _cuts: dict[str, tuple[int, int]] = field(default_factory=dict)
    _stratum_of: dict[str, str] = field(default_factory=dict)
    type_counts: Counter[str] = field(default_factory=Counter)

    def observe(self, key: str, bucket: int, types: list[str]) -> None:
        """Count one record of type key ``key`` in ``bucket`` holding entity ``types``."""
        self._hist[key][bucket] += 1
        self.type_counts.update(types)

    def finish(self) -> None:
        """Choose the per-stratum cut points from the counts of the first pass."""
        merged: dict[str, Counter[int]] = defaultdict(Counter)
        for key, hist in self._hist.items():
            types = key.split(",") if key else []
            stratum = min(types, key=lambda t: (self.type_counts[t], t)) if types else "NONE"
            self._stratum_of[key] = stratum
            merged[stratum].update(hist)
        _, val_ratio, test_ratio = self.ratios
        for stratum, hist in merged.items():
            total = sum(hist.values())
            want_test = int(total * test_ratio + 0.5)
            want_val = int(total * val_ratio + 0.5)
            got_test = got_val = 0
            cut_test = cut_val = 0
            for bucket in sorted(hist):
                if got_test < want_test:
                    got_test += hist[bucket]
                    cut_test = cut_val = bucket + 1
                elif got_val < want_val:
                    got_val += hist[bucket]
                    cut_val = bucket + 1
                else:
                    break
            self._cuts[stratum] = (cut_test, cut_val)
        self._hist.clear()

    def assign(self, key: str, bucket: int) -> str:
        """The split of a record seen in the first pass."""
        cut_test, cut_val = self._cuts[self._stratum_of[key]]
        if bucket < cut_test:
            return "test"
        return "val" if bucket < cut_val else "train"


def find_leaks(split_keys: dict[str, Iterable[tuple[int, str]]]) -> list[tuple[str, str, str]]:
    """Texts found in two splits, from ``(text hash, label)`` pairs per split: returns
    ``(label, split, other split)``. Holds the hashes of every split but the largest (``train``,
    streamed last) in memory."""
    names = sorted(split_keys, key=lambda n: n == "train")
    seen: dict[int, str] = {}
    leaks: list[tuple[str, str, str]] = []
    for name in names:
        last = name == names[-1]
        for key, label in split_keys[name]:
            other = seen.get(key)
            if other is not None and other != name:
                leaks.append((label, other, name))
            elif not last:
                seen[key] = name
    return leaks


def file_keys(path: str | os.PathLike[str]) -> Iterable[tuple[int, str]]:
    """``(text hash, text)`` of each row of a written dataset file (instruction + input, or the
    user message), for checking existing split files with :func:`find_leaks`."""
    for row in iter_rows(path):
        if "messages" in row:
            text = next(m["content"] for m in row["messages"] if m["role"] == "user")
        else:
            text = f"{row.get('instruction', '')}\n{row.get('input', '')}"
        yield user_key(text), text


def user_key(user_text: str) -> int:
    """The leakage key of a row: the exact user-side text (instruction and input)."""
    return text_hash(user_text, normalize=False)
