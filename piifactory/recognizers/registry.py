"""The recognizer registry and ``analyze``: run every recognizer, keep the best of overlapping
hits, drop what stays under the threshold."""

from __future__ import annotations

from typing import Iterable, Sequence

from piifactory.recognizers.base import Detection, PatternRecognizer
from piifactory.recognizers.finance import BankCardRecognizer, UsccRecognizer
from piifactory.recognizers.identity import IdCardRecognizer, LicensePlateRecognizer, PassportRecognizer
from piifactory.recognizers.network import EmailRecognizer, IpRecognizer
from piifactory.recognizers.phone import LandlineRecognizer, MobileRecognizer

DEFAULT_THRESHOLD = 0.5
"""Shape-only hits that need a context word (a bare landline, an unchecked digit run) stay below."""


class RecognizerRegistry:
    """An ordered set of recognizers; ``analyze`` resolves overlaps between their hits."""

    def __init__(self, recognizers: Iterable[PatternRecognizer]) -> None:
        self.recognizers = list(recognizers)

    @property
    def entity_types(self) -> set[str]:
        return {r.entity_type for r in self.recognizers}

    def analyze(self, text: str, *, entities: Sequence[str] | None = None, threshold: float = DEFAULT_THRESHOLD) -> list[Detection]:
        """Non-overlapping rule hits in order of position, each with exact offsets into ``text``.

        Where hits overlap the higher score wins, then the longer span, then the earlier
        recognizer: a checksum-valid ID beats the Luhn-valid card that the same 18 digits may be.
        """
        candidates: list[tuple[float, int, int, Detection]] = []
        for rank, recognizer in enumerate(self.recognizers):
            if entities is not None and recognizer.entity_type not in entities:
                continue
            for hit in recognizer.analyze(text):
                if hit.score >= threshold:
                    candidates.append((-hit.score, -(hit.end - hit.start), rank, hit))  # type: ignore[operator]
        kept: list[Detection] = []
        for *_, hit in sorted(candidates, key=lambda c: c[:3]):
            if not any(hit.overlaps(other) for other in kept):
                kept.append(hit)
        return sorted(kept, key=lambda d: d.start)  # type: ignore[arg-type, return-value]


def default_registry() -> RecognizerRegistry:
    return RecognizerRegistry(
        [
            IdCardRecognizer(),
            UsccRecognizer(),
            BankCardRecognizer(),
            MobileRecognizer(),
            LandlineRecognizer(),
            EmailRecognizer(),
            IpRecognizer(),
            PassportRecognizer(),
            LicensePlateRecognizer(),
        ]
    )


_DEFAULT: RecognizerRegistry | None = None


def analyze(text: str, *, entities: Sequence[str] | None = None, threshold: float = DEFAULT_THRESHOLD) -> list[Detection]:
    """Rule hits in ``text`` from the default registry (built once)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = default_registry()
    return _DEFAULT.analyze(text, entities=entities, threshold=threshold)
