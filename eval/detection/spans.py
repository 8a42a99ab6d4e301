"""What the detector returns per text: spans ``{type, start, end, value, score, source}`` with
offsets into the text, and their conversion to Presidio's ``RecognizerResult``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence

from piifactory.errors import UsageError
from piifactory.rules.recognizers import Detection

SOURCES = {"model": "model", "rules": "rules", "both": "both", "rules-over-model": "rules"}
"""A merged entity's source (:mod:`piifactory.rules.hybrid`) as a span reports it: a rule hit that
replaced a wrong model value is the rule's."""


@dataclass(frozen=True, slots=True)
class Span:
    """One entity found in a text: ``text[start:end] == value``; ``score`` in [0, 1] (the model's
    own entity score, the rule's score, the higher of the two when both found it); ``source`` is
    ``model``, ``rules`` or ``both``."""

    type: str
    start: int
    end: int
    value: str
    score: float
    source: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def spans_of(detections: Iterable[Detection]) -> list[Span]:
    """The detections that have offsets, as spans in order of position (a model value that is not
    in the text has none: it cannot be pointed at or redacted)."""
    found = [
        Span(d.type, d.start, d.end, d.value, round(float(d.score), 4), SOURCES[d.source])  # type: ignore[arg-type]
        for d in detections
        if d.entity.has_span
    ]
    return sorted(found, key=lambda s: (s.start, -s.end))


def to_recognizer_results(spans: Sequence[Span], result_class: type | None = None) -> list:
    """Presidio ``RecognizerResult`` objects (``presidio_analyzer``'s class unless ``result_class``
    is given), so the spans feed Presidio's ``AnonymizerEngine`` or any tool built on it."""
    if result_class is None:
        try:
            from presidio_analyzer import RecognizerResult as result_class
        except ImportError:
            raise UsageError(
                "Presidio's RecognizerResult needs presidio-analyzer (pip install presidio-analyzer)"
            ) from None
    return [result_class(entity_type=s.type, start=s.start, end=s.end, score=s.score) for s in spans]
