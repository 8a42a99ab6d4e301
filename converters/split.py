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


def text_hash(text: str, salt: str = "") -> int:
    """A stable 64-bit hash of the normalised text (independent of Python's hash seed)."""
    digest = hashlib.blake2b((salt + normalize_value(text)).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def type_key(record: Record) -> tuple[str, ...]:
    """The set of types a record holds, as a sorted tuple (``("CHAT",)`` for chat rows)."""
    if record.sample is None:
        return ("CHAT",)
    return tuple(sorted({e.type for e in record.sample.entities}))


@dataclass
class SplitPlan:
    """Collects the first pass, then assigns splits. Ratios are (train, val, test)."""

    ratios: tuple[float, float, float]
    _hist: dict[tuple[str, ...], Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    _cuts: dict[str, tuple[int, int]] = field(default_factory=dict)
    _stratum_of: dict[tuple[str, ...], str] = field(default_factory=dict)
    type_counts: Counter[str] = field(default_factory=Counter)

    def observe(self, record: Record) -> None:
        key = type_key(record)
        self._hist[key][text_hash(record.text) >> (64 - _BUCKET_BITS)] += 1
        if record.sample is not None:
            self.type_counts.update(e.type for e in record.sample.entities)

    def finish(self) -> None:
        """Choose the per-stratum cut points from the counts of the first pass."""
        merged: dict[str, Counter[int]] = defaultdict(Counter)
        for key, hist in self._hist.items():
            stratum = min(key, key=lambda t: (self.type_counts[t], t)) if key else "NONE"
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

    def assign(self, record: Record) -> str:
        """The split of a record seen in the first pass."""
        cut_test, cut_val = self._cuts[self._stratum_of[type_key(record)]]
        bucket = text_hash(record.text) >> (64 - _BUCKET_BITS)
        if bucket < cut_test:
            return "test"
        return "val" if bucket < cut_val else "train"


def find_leaks(split_texts: dict[str, Iterable[str]]) -> list[tuple[str, str, str]]:
    """Texts found in two splits: ``(text, split, other split)``. Holds the hashes of every split
    but the largest (streamed last) in memory."""
    names = sorted(split_texts, key=lambda n: n == "train")
    seen: dict[int, str] = {}
    leaks: list[tuple[str, str, str]] = []
    for name in names:
        last = name == names[-1]
        for text in split_texts[name]:
            key = text_hash(text)
            other = seen.get(key)
            if other is not None and other != name:
                leaks.append((text, other, name))
            elif not last:
                seen[key] = name
    return leaks


def texts_of(path: str | os.PathLike[str]) -> Iterable[str]:
    """The input texts of a written dataset file (alpaca ``input`` or the user message)."""
    for row in iter_rows(path):
        if "messages" in row:
            yield next(m["content"] for m in row["messages"] if m["role"] == "user")
        else:
            yield f"{row.get('instruction', '')}\n{row.get('input', '')}"
