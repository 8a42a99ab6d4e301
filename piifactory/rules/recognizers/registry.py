"""The recognizer registry: ``analyze`` runs every recognizer on a text, keeps the best of
overlapping hits and drops what stays under the threshold; ``passes_checksum`` judges a value
found elsewhere (a model's) with the same ``validate`` the rules use."""

from __future__ import annotations

from typing import Iterable, Sequence

from piifactory.offsets import fold_width
from piifactory.rules.recognizers.base import Detection, PatternRecognizer
from piifactory.rules.recognizers.finance import BankCardRecognizer, UsccRecognizer
from piifactory.rules.recognizers.identity import FirstGenIdCardRecognizer, IdCardRecognizer, LicensePlateRecognizer
from piifactory.rules.recognizers.network import EmailRecognizer, IpRecognizer
from piifactory.rules.recognizers.phone import LandlineRecognizer, MobileRecognizer
from piifactory.rules.recognizers.travel import PassportRecognizer, TravelPermitRecognizer
from piifactory.schema import Entity, match_key

DEFAULT_THRESHOLD = 0.5
"""Shape-only hits that need a context word (a bare landline, an unchecked digit run) stay below."""


class RecognizerRegistry:
    """An ordered set of recognizers; ``analyze`` resolves overlaps between their hits."""

    def __init__(self, recognizers: Iterable[PatternRecognizer]) -> None:
        self.recognizers = list(recognizers)

    @property
    def entity_types(self) -> set[str]:
        return {r.entity_type for r in self.recognizers}

    def analyze(
        self, text: str, *, entities: Sequence[str] | None = None, threshold: float = DEFAULT_THRESHOLD
    ) -> list[Detection]:
        """Non-overlapping rule hits in order of position, each with exact offsets into ``text``.

        Where hits overlap the higher score wins, then the longer span, then the earlier
        recognizer: a checksum-valid ID beats the Luhn-valid card that the same 18 digits may be.
        """
        candidates: list[tuple[float, int, int, Detection]] = []
        folded = fold_width(text)
        for rank, recognizer in enumerate(self.recognizers):
            if entities is not None and recognizer.entity_type not in entities:
                continue
            for hit in recognizer.analyze(text, folded):
                if hit.score >= threshold:
                    candidates.append((-hit.score, -(hit.end - hit.start), rank, hit))  # type: ignore[operator]
        kept: list[Detection] = []
        for *_, hit in sorted(candidates, key=lambda c: c[:3]):
            if not any(hit.overlaps(other) for other in kept):
                kept.append(hit)
        return sorted(kept, key=lambda d: d.start)  # type: ignore[arg-type, return-value]

    def shapes(self, text: str, entity_type: str) -> set[tuple[int, int]]:
        """Where the type's recognizers accept a match in ``text``, before any score threshold or
        overlap resolution: their pattern, its look-arounds and ``accept`` (a bare landline without
        a context word is there; a fragment, a longer number's middle or a failed checksum is not)."""
        folded = fold_width(text)
        return {
            (hit.start, hit.end)  # type: ignore[misc]
            for recognizer in self.recognizers
            if recognizer.entity_type == entity_type
            for hit in recognizer.analyze(text, folded)
        }

    def passes_checksum(self, entity: Entity) -> bool:
        """False only for a value of a type that has a check digit (one of its recognizers
        ``has_checksum``) when none of the type's recognizers validates it: a 15-digit ID passes
        on its county and date. Every other type passes. The value is judged by its match key
        (separators dropped, width folded), so ``6222 0210 ...`` is the card it spells."""
        judges = [r for r in self.recognizers if r.entity_type == entity.type]
        if not any(r.has_checksum for r in judges):
            return True
        key = match_key(entity.type, entity.value)
        return any(r.validate(key) for r in judges)


def default_registry() -> RecognizerRegistry:
    return RecognizerRegistry(
        [
            IdCardRecognizer(),
            FirstGenIdCardRecognizer(),
            UsccRecognizer(),
            BankCardRecognizer(),
            MobileRecognizer(),
            LandlineRecognizer(),
            EmailRecognizer(),
            IpRecognizer(),
            PassportRecognizer(),
            TravelPermitRecognizer(),
            LicensePlateRecognizer(),
        ]
    )


_DEFAULT: RecognizerRegistry | None = None


def _default() -> RecognizerRegistry:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = default_registry()
    return _DEFAULT


def analyze(
    text: str, *, entities: Sequence[str] | None = None, threshold: float = DEFAULT_THRESHOLD
) -> list[Detection]:
    """Rule hits in ``text`` from the default registry (built once)."""
    return _default().analyze(text, entities=entities, threshold=threshold)


def shapes(text: str, entity_type: str) -> set[tuple[int, int]]:
    """The default registry's :meth:`RecognizerRegistry.shapes`."""
    return _default().shapes(text, entity_type)


def passes_checksum(entity: Entity) -> bool:
    """The default registry's verdict on a value (see :meth:`RecognizerRegistry.passes_checksum`)."""
    return _default().passes_checksum(entity)
