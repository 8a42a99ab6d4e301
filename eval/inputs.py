"""Read what the scorer scores: a ``generated_predictions.jsonl`` alone, or a gold file plus a
predictions file joined by id (or by line, with a length check). Every problem is an
:class:`InputError` with file and line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from piifactory.answer import GoldError, parse_gold
from piifactory.io import InputError, iter_jsonl, parse_json
from piifactory.schema import Entity, input_text


@dataclass(frozen=True)
class Samples:
    texts: list[str]
    gold: list[tuple[Entity, ...]]
    predictions: list[str]


def _rows(path: Path) -> Iterator[tuple[int, Any]]:
    """JSONL rows, or the items of a JSON array file (numbered from 1)."""
    if path.suffix == ".json":
        try:
            data = parse_json(path.read_text(encoding="utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(path, getattr(exc, "lineno", None), f"invalid JSON: {exc}") from None
        if not isinstance(data, list):
            raise InputError(path, None, "expected a JSON array of records")
        yield from enumerate(data, start=1)
    else:
        yield from iter_jsonl(path)


def _gold_of(path: Path, line: int, row: Any) -> tuple[str, tuple[Entity, ...]]:
    """(text, entities) of a gold record: user format, {"text", "entities"} or alpaca."""
    if not isinstance(row, dict):
        raise InputError(path, line, "record is not a JSON object")
    text = row.get("input", row.get("text"))
    target = row.get("output", row.get("label", {"entities": row.get("entities")}))
    if not isinstance(text, str):
        raise InputError(path, line, 'missing "input" (or "text") string')
    try:
        entities = parse_gold(target if isinstance(target, str) else json.dumps(target, ensure_ascii=False))
    except GoldError as exc:
        raise InputError(path, line, str(exc)) from None
    for e in entities:
        if e.has_span and text[e.start : e.end] != e.value:
            raise InputError(path, line, f"offsets {e.start}:{e.end} of a {e.type} do not cover its value")
    return text, entities


def load_gold(path: str | Path) -> tuple[list[str], list[tuple[Entity, ...]]]:
    """Texts and gold entities of a gold file alone (JSONL or a JSON array), every record checked
    as :func:`load_pair` checks it: strict entities, offsets that cover their values."""
    path = Path(path)
    texts: list[str] = []
    gold: list[tuple[Entity, ...]] = []
    for line, row in _rows(path):
        text, entities = _gold_of(path, line, row)
        texts.append(text)
        gold.append(entities)
    return texts, gold


def _predict_of(path: Path, line: int, row: Any) -> str:
    if not isinstance(row, dict) or not isinstance(row.get("predict"), str):
        raise InputError(path, line, 'missing "predict" string')
    return row["predict"]


def load_generated(path: str | Path) -> Samples:
    """LLaMA-Factory's ``generated_predictions.jsonl``: label vs predict; the text is the prompt's input."""
    path = Path(path)
    texts, gold, preds = [], [], []
    for line, row in _rows(path):
        prediction = _predict_of(path, line, row)
        label = row.get("label")
        if not isinstance(label, str):
            raise InputError(path, line, 'missing "label" string')
        try:
            gold.append(parse_gold(label))
        except GoldError as exc:
            raise InputError(path, line, str(exc)) from None
        texts.append(input_text(row["prompt"]) if isinstance(row.get("prompt"), str) else "")
        preds.append(prediction)
    return Samples(texts, gold, preds)


def load_pair(gold_path: str | Path, pred_path: str | Path) -> Samples:
    """Gold file and predictions joined by ``id`` when every row has one, else by line."""
    gold_path, pred_path = Path(gold_path), Path(pred_path)
    gold_rows = list(_rows(gold_path))
    pred_rows = list(_rows(pred_path))
    by_id = all(isinstance(r, dict) and "id" in r for _, r in gold_rows + pred_rows)
    if by_id:
        found = {}
        for line, row in pred_rows:
            key = str(row["id"])
            if key in found:
                raise InputError(pred_path, line, f"duplicate id {key!r}")
            found[key] = (line, row)
        ordered = []
        for line, row in gold_rows:
            if str(row["id"]) not in found:
                raise InputError(gold_path, line, f"id {row['id']!r} has no prediction in {pred_path}")
            ordered.append(found.pop(str(row["id"])))
        if found:
            line, row = next(iter(found.values()))
            raise InputError(pred_path, line, f"id {row['id']!r} is not in the gold file {gold_path}")
        pred_rows = ordered
    elif len(gold_rows) != len(pred_rows):
        raise InputError(
            pred_path, None, f"{len(pred_rows)} predictions for {len(gold_rows)} gold records (no ids to join on)"
        )
    texts, gold = zip(*(_gold_of(gold_path, line, row) for line, row in gold_rows)) if gold_rows else ((), ())
    preds = [_predict_of(pred_path, line, row) for line, row in pred_rows]
    return Samples(list(texts), list(gold), preds)


def load(predictions: str | Path, gold: str | Path | None = None) -> Samples:
    return load_pair(gold, predictions) if gold is not None else load_generated(predictions)
