"""Span scoring with the SemEval-2013 schemes (strict, exact, partial, ent_type).

The matching loops follow nervaluate 1.2 rule for rule (greedy, predictions in order, each gold
span used once, any overlap counts), so the counts agree with it on the same spans; a test checks
this. Spans here have an exclusive end, as in the schema.
"""

from __future__ import annotations

from typing import Sequence

from piifactory.offsets import place
from piifactory.schema import Entity

SCHEMES = ("strict", "exact", "partial", "ent_type")
CATEGORIES = ("correct", "incorrect", "partial", "missed", "spurious")
Span = tuple[str, int, int]


def align(text: str, entities: Sequence[Entity]) -> tuple[list[Span], int]:
    """Place predicted values in the text with :func:`piifactory.offsets.place` (the k-th
    prediction of a value takes its k-th occurrence). Returns spans in prediction order and the
    number of values not found."""
    placed = place(text, entities)
    spans = [(e.type, *span) for e, span in zip(entities, placed) if span is not None]
    return spans, placed.count(None)  # type: ignore[misc]


def _overlaps(a: Span, b: Span) -> bool:
    return a[1] < b[2] and b[1] < a[2]


def _distance(a: Span, b: Span) -> int:
    return abs(a[1] - b[1]) + abs(a[2] - b[2])


def evaluate(gold: Sequence[Span], pred: Sequence[Span], scheme: str) -> dict[str, int]:
    """Counts of one text under one scheme."""
    counts = dict.fromkeys(CATEGORIES, 0)
    used: set[int] = set()
    for p in pred:
        hit, other, best = None, None, None
        for gi, g in enumerate(gold):
            if gi in used:
                continue
            same_bounds = p[1] == g[1] and p[2] == g[2]
            if scheme == "ent_type":
                if _overlaps(p, g):
                    if p[0] == g[0]:
                        d = _distance(p, g)
                        if best is None or d < best:
                            hit, best = gi, d
                    elif other is None:
                        other = gi
                continue
            if same_bounds and (scheme != "strict" or p[0] == g[0]):
                hit = gi
                break
            if _overlaps(p, g) and other is None:
                other = gi
        if hit is not None:
            counts["correct"] += 1
            used.add(hit)
        elif other is not None:
            counts["partial" if scheme == "partial" else "incorrect"] += 1
            used.add(other)
        else:
            counts["spurious"] += 1
    counts["missed"] += len(gold) - len(used)
    return counts


def metrics(counts: dict[str, int], scheme: str) -> dict[str, float | int]:
    """nervaluate's precision/recall/F1: partial matches earn half credit in partial/ent_type."""
    actual = counts["correct"] + counts["incorrect"] + counts["partial"] + counts["spurious"]
    possible = counts["correct"] + counts["incorrect"] + counts["partial"] + counts["missed"]
    credit = counts["correct"] + (0.5 * counts["partial"] if scheme in ("partial", "ent_type") else 0)
    p = credit / actual if actual else 0.0
    r = credit / possible if possible else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {**counts, "actual": actual, "possible": possible, "precision": p, "recall": r, "f1": f1}
