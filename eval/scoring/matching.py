"""Multiset matching of predicted and gold entities on ``(type, schema.match_key)``.

A value that occurs twice counts twice; a repeated prediction beyond the gold count is a false
positive. Type-agnostic matching ("any PII") is what redaction needs: the value was found,
whatever its label.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from piifactory.schema import PII_TYPES, Entity, match_key, normalize_value

UNKNOWN = "(unknown type)"
TYPES: tuple[str, ...] = tuple(PII_TYPES)
ROWS: tuple[str, ...] = (*TYPES, UNKNOWN)
"""Count rows: the schema types, then predictions whose type is outside the schema (always FP)."""
_ROW = {name: i for i, name in enumerate(ROWS)}
MISSED, SPURIOUS = "(missed)", "(spurious)"


def entity_key(entity: Entity) -> str:
    return match_key(entity.type, entity.value) if entity.type in PII_TYPES else normalize_value(entity.value)


def unmatched(entities: Sequence[Entity], others: Sequence[Entity]) -> list[Entity]:
    """The entities (in order) that ``others`` leave unmatched on ``(type, entity_key)``, the key
    scoring counts by: ``138-1234-5678`` and ``13812345678`` are one phone, listed as neither."""
    left = Counter((e.type, entity_key(e)) for e in others)
    out: list[Entity] = []
    for entity in entities:
        key = (entity.type, entity_key(entity))
        if left[key]:
            left[key] -= 1
        else:
            out.append(entity)
    return out


def match_sample(
    gold: Sequence[Entity], pred: Sequence[Entity], unknown: Sequence[Entity] = ()
) -> tuple[list[int], tuple[int, int, int], Counter[tuple[str, str]]]:
    """Counts of one sample: flat ``[tp, fp, fn] * len(ROWS)``, any-PII ``(tp, fp, fn)`` and
    type-confusion pairs ``(gold type, predicted type)`` with MISSED / SPURIOUS for the unmatched."""
    gold_keys = Counter((e.type, entity_key(e)) for e in gold)
    pred_keys = Counter((e.type, entity_key(e)) for e in pred)
    flat = [0] * (3 * len(ROWS))
    left_gold: Counter[tuple[str, str]] = Counter()
    left_pred: Counter[tuple[str, str]] = Counter()
    confusion: Counter[tuple[str, str]] = Counter()
    for pair in gold_keys.keys() | pred_keys.keys():
        g, p = gold_keys.get(pair, 0), pred_keys.get(pair, 0)
        tp = min(g, p)
        row = 3 * _ROW[pair[0]]
        flat[row] += tp
        flat[row + 1] += p - tp
        flat[row + 2] += g - tp
        if tp:
            confusion[(pair[0], pair[0])] += tp
        if g > tp:
            left_gold[pair] = g - tp
        if p > tp:
            left_pred[pair] = p - tp
    flat[3 * _ROW[UNKNOWN] + 1] += len(unknown)
    for entity in unknown:
        left_pred[(UNKNOWN, entity_key(entity))] += 1
    any_tp = sum(confusion.values())
    for (g_type, key), g_count in sorted(left_gold.items()):
        for p_pair in sorted(left_pred):
            if not g_count:
                break
            if p_pair[1] == key and left_pred[p_pair]:
                used = min(g_count, left_pred[p_pair])
                confusion[(g_type, p_pair[0])] += used
                left_pred[p_pair] -= used
                g_count -= used
                any_tp += used
        if g_count:
            confusion[(g_type, MISSED)] += g_count
    for (p_type, _), count in left_pred.items():
        if count:
            confusion[(SPURIOUS, p_type)] += count
    n_pred = len(pred) + len(unknown)
    return flat, (any_tp, n_pred - any_tp, len(gold) - any_tp), confusion
