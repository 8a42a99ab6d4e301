"""The recall dial: an operating point (end-of-list bias + score thresholds) and how it is applied.

A generative extractor has no threshold to turn; with structure-safe decoding it gets two knobs
(:mod:`eval.decoding.structure`): ``recall_bias`` makes the model write more entities, and every entity
carries the model's score, so ``min_score`` (overall, or per type) drops the ones it was unsure of.
One pass with a bias over-generates; thresholds on its scores then trace the whole
precision/recall curve (:mod:`eval.calibrate` picks the point and writes it to a file that
``eval.predict --operating-point`` and the training metric read).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from piifactory.answer import target_text
from piifactory.errors import UsageError
from piifactory.io import InputError, atomic_write_text
from piifactory.schema import PII_TYPES, Entity, UnknownLabelError, canonical_type


@dataclass(frozen=True)
class OperatingPoint:
    """How to decode (``recall_bias``) and which entities to keep (``score >= threshold``)."""

    recall_bias: float = 0.0
    min_score: float = 0.0
    per_type: Mapping[str, float] = field(default_factory=dict)  # type -> threshold, overrides min_score

    def threshold(self, entity_type: str) -> float:
        return self.per_type.get(entity_type, self.min_score)

    @property
    def filters(self) -> bool:
        return self.min_score > 0 or any(value > 0 for value in self.per_type.values())

    def keep(self, entity_type: str, score: float) -> bool:
        return score >= self.threshold(entity_type)


def parse_min_score(text: str) -> tuple[float, dict[str, float]]:
    """``0.3`` or ``0.3,PERSON=0.5,EMAIL=0.2`` (or only ``TYPE=S`` items) -> (default, per type)."""
    default, per_type = 0.0, {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.rpartition("=")
        try:
            number = float(value)
        except ValueError:
            raise UsageError(f"--min-score: {item!r} is not a number or TYPE=number") from None
        if not 0.0 <= number <= 1.0:
            raise UsageError(f"--min-score: {item!r} is outside [0, 1]")
        if not sep:
            default = number
            continue
        try:
            per_type[canonical_type(name)] = number  # type: ignore[index]
        except UnknownLabelError as exc:
            raise UsageError(f"--min-score: {exc}") from None
    return default, per_type


def read_point(path: str | Path) -> OperatingPoint:
    """An operating point written by :func:`write_point` (``eval.calibrate --out``)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        per_type = {str(k): float(v) for k, v in data.get("per_type", {}).items()}
        unknown = sorted(set(per_type) - set(PII_TYPES))
        if unknown:
            raise InputError(path, None, f"per_type names unknown types {unknown}")
        return OperatingPoint(float(data["recall_bias"]), float(data.get("min_score", 0.0)), per_type)
    except json.JSONDecodeError as exc:
        raise InputError(path, exc.lineno, f"not an operating point (invalid JSON: {exc.msg})") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(
            path, None, f"not an operating point ({exc!r}); write one with python -m eval.calibrate"
        ) from None


def write_point(path: str | Path, point: OperatingPoint, **about: object) -> None:
    """The point plus what it was chosen by and what it scored (``about``), atomically."""
    payload = {**asdict(point), "per_type": dict(point.per_type), **about}
    atomic_write_text(path, json.dumps(payload, ensure_ascii=False, indent=2) + "\n")


def scored_entities(answer: str, scores: Sequence[Mapping[str, float]]) -> list[tuple[Entity, float]]:
    """(entity, score) pairs of a structure-constrained answer: its i-th entity has the i-th score
    (such an answer always parses; entity order is the order the model wrote them)."""
    items = json.loads(answer)["entities"]
    if len(items) != len(scores):
        raise ValueError(f"{len(items)} entities but {len(scores)} scores")
    return [(Entity(item["type"], item["value"]), float(score["score"])) for item, score in zip(items, scores)]


def apply_point(
    answer: str, scores: Sequence[Mapping[str, float]], point: OperatingPoint, text: str | None = None
) -> str:
    """The answer with only the entities the point keeps (unchanged when it keeps them all)."""
    pairs = scored_entities(answer, scores)
    kept = [entity for entity, score in pairs if point.keep(entity.type, score)]
    return answer if len(kept) == len(pairs) else target_text(kept, text)
