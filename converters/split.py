"""Deterministic train/val/test split, stratified by entity type, decided by a hash of the text.

Two passes, memory flat in the number of records: the first pass counts, per type key, how many
texts fall in each of 65,536 hash buckets (a Counter while a key has few buckets, then a fixed
256 KiB array, however many records); cut points are then chosen per stratum so each split
gets its share of that stratum; the second pass assigns each record by its bucket. The same
(normalised) text always lands in the same bucket, so identical texts cannot leak across splits
unless they were annotated with different types; :func:`find_leaks` checks the written files.

A record's stratum is its rarest entity type (by count over the whole input), ``NONE`` for a
PII-negative sample and ``CHAT`` for a plain SFT row.
"""

from __future__ import annotations

import hashlib
import os
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from converters.records import Record
from converters.writers import iter_rows
from piifactory.iterate import batched
from piifactory.schema import normalize_value

SPLITS = ("train", "val", "test")
_BUCKET_BITS = 16
_BUCKETS = 1 << _BUCKET_BITS
_DENSE_AT = 4_096  # buckets held by a key's Counter (about 70 bytes each) before it becomes an array
_LEAK_CHUNK = 65_536


def text_hash(text: str, salt: str = "", normalize: bool = True) -> int:
    """A stable 64-bit hash of the (normalised) text, independent of Python's hash seed."""
    digest = hashlib.blake2b(
        (salt + (normalize_value(text) if normalize else text)).encode("utf-8"), digest_size=8
    ).digest()
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
    _hist: dict[str, Counter[int] | array] = field(default_factory=dict)
    _cuts: dict[str, tuple[int, int]] = field(default_factory=dict)
    _stratum_of: dict[str, str] = field(default_factory=dict)
    type_counts: Counter[str] = field(default_factory=Counter)

    def observe(self, key: str, bucket: int, types: list[str]) -> None:
        """Count one record of type key ``key`` in ``bucket`` holding entity ``types``."""
        hist = self._hist.get(key)
        if hist is None:
            hist = self._hist[key] = Counter()
        hist[bucket] += 1
        if type(hist) is Counter and len(hist) > _DENSE_AT:  # a Counter alone grew with the records
            self._hist[key] = array("I", _dense(hist).astype(np.uint32).tobytes())
        self.type_counts.update(types)

    def finish(self) -> None:
        """Choose the per-stratum cut points from the counts of the first pass."""
        merged: dict[str, np.ndarray] = {}
        for key, hist in self._hist.items():
            types = key.split(",") if key else []
            stratum = min(types, key=lambda t: (self.type_counts[t], t)) if types else "NONE"
            self._stratum_of[key] = stratum
            counts = _dense(hist)
            merged[stratum] = merged[stratum] + counts if stratum in merged else counts
        _, val_ratio, test_ratio = self.ratios
        for stratum, hist in merged.items():
            total = int(hist.sum())
            want_test = int(total * test_ratio + 0.5)
            want_val = int(total * val_ratio + 0.5)
            got_test = got_val = 0
            cut_test = cut_val = 0
            for bucket in np.flatnonzero(hist).tolist():
                if got_test < want_test:
                    got_test += int(hist[bucket])
                    cut_test = cut_val = bucket + 1
                elif got_val < want_val:
                    got_val += int(hist[bucket])
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


def _dense(hist: Counter[int] | array) -> np.ndarray:
    """Counts of all 65,536 buckets as an int64 array."""
    if isinstance(hist, array):
        return np.frombuffer(hist, dtype=np.uint32).astype(np.int64)
    out = np.zeros(_BUCKETS, dtype=np.int64)
    out[np.fromiter(hist.keys(), np.int64, len(hist))] = np.fromiter(hist.values(), np.int64, len(hist))
    return out


def find_leaks(split_keys: dict[str, Iterable[tuple[int, str]]]) -> list[tuple[str, str, str]]:
    """Texts found in two splits, from ``(text hash, label)`` pairs per split: returns
    ``(label, earlier split, split)``, each text against the first split it was seen in. The
    hashes of every split but the largest (``train``, streamed last) are kept as sorted 8-byte
    arrays (a dict of them grew by 100 bytes a record); keys are checked a chunk at a time."""
    names = sorted(split_keys, key=lambda n: n == "train")
    seen: list[tuple[str, np.ndarray]] = []
    leaks: list[tuple[str, str, str]] = []
    for name in names:
        own: list[np.ndarray] = []
        for keys, labels in _chunks(split_keys[name]):
            found: dict[int, str] = {}
            for other, table in seen:
                if not len(table):
                    continue
                pos = np.minimum(np.searchsorted(table, keys), len(table) - 1)
                for index in np.flatnonzero(table[pos] == keys).tolist():
                    found.setdefault(index, other)
            leaks += [(labels[i], found[i], name) for i in sorted(found)]
            if name != names[-1]:
                own.append(keys)
        if name != names[-1]:
            seen.append((name, np.unique(np.concatenate(own)) if own else np.empty(0, dtype=np.uint64)))
    return leaks


def _chunks(pairs: Iterable[tuple[int, str]]) -> Iterator[tuple[np.ndarray, list[str]]]:
    for chunk in batched(pairs, _LEAK_CHUNK):
        yield np.array([key for key, _ in chunk], dtype=np.uint64), [label for _, label in chunk]


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
