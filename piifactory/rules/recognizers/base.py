"""The recognizer frame: Presidio's ``PatternRecognizer`` shape (patterns, ``validate``, context
words) in a few lines of our own, because presidio-analyzer 2.2.366 needs pydantic >= 2.12.5
against the pinned 2.12.3 and pulls in spaCy, thinc and blis (see docs/rules.md).

Matching runs on a width-folded copy of the text whose characters map one to one onto the
original, so every offset found in the copy is an offset into the original text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from piifactory.offsets import fold_width
from piifactory.schema import Entity

# Look-arounds for numbers: `\b` does not separate CJK from digits, and a number inside a longer
# (possibly grouped) number is not a match. Groups are split by a hyphen or one or two spaces
# (people pad groups of four with double spaces).
NOT_AFTER = r"(?<![0-9A-Za-z])(?<![0-9][ -])(?<![0-9]  )"
NOT_BEFORE = r"(?![0-9A-Za-z])(?![ -][0-9])(?!  [0-9])"
GROUP_SEP = r"(?:-| {1,2})"


def compact(value: str) -> str:
    """A matched value without spaces and hyphens, upper-cased: what checksums are computed on."""
    return re.sub(r"[ \-]", "", fold_width(value)).upper()


@dataclass(frozen=True, slots=True)
class Detection:
    """An entity with where it came from (``rules``, ``model`` or ``both``) and a confidence."""

    entity: Entity
    source: str
    score: float = 1.0
    recognizer: str = ""

    @property
    def type(self) -> str:
        return self.entity.type

    @property
    def value(self) -> str:
        return self.entity.value

    @property
    def start(self) -> int | None:
        return self.entity.start

    @property
    def end(self) -> int | None:
        return self.entity.end

    def overlaps(self, other: "Detection") -> bool:
        if not (self.entity.has_span and other.entity.has_span):
            return False
        return self.start < other.end and other.start < self.end  # type: ignore[operator]


@dataclass(frozen=True, slots=True)
class Pattern:
    """A named regex and the score a match gets before validation and context."""

    name: str
    regex: str
    score: float


class PatternRecognizer:
    """One entity type: regex candidates, a ``validate`` step, and context words.

    ``validate`` returns False to drop a candidate (a failed checksum or an impossible date) and
    True to keep it, raised to ``validated_score`` when that is set (a passed checksum is stronger
    evidence than the shape alone). A context word in the ``context_window`` characters before a
    match adds ``context_boost``, as Presidio's context enhancer does.
    """

    entity_type: ClassVar[str]
    patterns: ClassVar[tuple[Pattern, ...]]
    has_checksum: ClassVar[bool] = False
    """True when ``validate`` checks a check digit: a value it refuses is then wrong, not merely
    unusual, and ``--rules verify`` drops a model's value of that type on its word."""
    context: ClassVar[tuple[str, ...]] = ()
    validated_score: ClassVar[float | None] = None
    context_boost: ClassVar[float] = 0.35
    context_window: ClassVar[int] = 12

    def __init__(self) -> None:
        self._compiled = [(p, re.compile(p.regex, re.ASCII)) for p in self.patterns]

    @property
    def name(self) -> str:
        return type(self).__name__

    def validate(self, value: str) -> bool:
        """Whether a matched (width-folded) text, or a model's value by its match key
        (``RecognizerRegistry.passes_checksum``), is a real instance of the type."""
        raise NotImplementedError

    def analyze(self, text: str, folded: str | None = None) -> list[Detection]:
        """Hits in ``text``; ``folded`` is ``fold_width(text)`` when the caller has it already
        (the registry folds once for all its recognizers: folding was a quarter of the time)."""
        folded = fold_width(text) if folded is None else folded
        found: list[Detection] = []
        for pattern, regex in self._compiled:
            for match in regex.finditer(folded):
                if not self.validate(match.group()):
                    continue
                score = max(pattern.score, self.validated_score or 0.0)
                if self.has_context(folded, match.start()):
                    score = min(1.0, score + self.context_boost)
                entity = Entity(self.entity_type, text[match.start() : match.end()], match.start(), match.end())
                found.append(Detection(entity, "rules", round(score, 4), self.name))
        return found

    def has_context(self, folded: str, start: int) -> bool:
        window = folded[max(0, start - self.context_window) : start].lower()
        return any(word in window for word in self.context)
