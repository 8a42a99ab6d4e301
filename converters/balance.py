"""Oversampling of PII-positive samples and weak types, and negative downsampling, for the train
split only (val and test keep the real distribution). Both are decided per record, so they stream."""

from __future__ import annotations

from dataclasses import dataclass, field

from converters.records import Record
from piifactory.errors import UsageError
from piifactory.schema import UnknownLabelError, canonical_type


@dataclass(frozen=True)
class Balance:
    """``positive``: copies of each PII-positive train record; ``types``: copies of train records
    holding a type (the largest factor that applies wins); ``neg_ratio``: at most this many
    PII-negative train records per positive one (None keeps all)."""

    positive: int = 1
    types: dict[str, int] = field(default_factory=dict)
    neg_ratio: float | None = None

    def copies(self, record: Record) -> int:
        if record.sample is None or not record.sample.entities:
            return 1
        found = {e.type for e in record.sample.entities}
        return max([self.positive, *(n for t, n in self.types.items() if t in found)])

    def negative_keep(self, positives: int, negatives: int) -> float:
        """The fraction of negatives to keep, from the counts of the first pass."""
        if self.neg_ratio is None or negatives == 0:
            return 1.0
        return min(1.0, self.neg_ratio * positives / negatives)


def parse_oversample(specs: list[str]) -> tuple[int, dict[str, int]]:
    """``positive=2`` and ``TYPE=3`` specs into (positive factor, type factors)."""
    positive, types = 1, {}
    for spec in specs:
        name, sep, factor = spec.partition("=")
        if not sep or not factor.isdigit() or int(factor) < 1:
            raise UsageError(f"--oversample {spec!r}: expected positive=N or TYPE=N with N >= 1")
        if name.lower() == "positive":
            positive = int(factor)
            continue
        try:
            types[canonical_type(name)] = int(factor)
        except UnknownLabelError as exc:
            raise UsageError(f"--oversample {spec!r}: {exc}") from None
    return positive, types
