"""The answer format ``{"entities": [{"type", "value"}, ...]}``: its writer (:func:`target_text`,
what the model is trained to say) and its readers (:func:`extract` for a model's raw answer,
:func:`parse_gold` for a gold target), kept together so the two cannot drift.

Reading never lies about what happened: a JSON parse failure, a truncated answer, an unknown type
or a value absent from the input is flagged on the :class:`Extraction`, never silently turned into "no entities".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Iterable

from piifactory.errors import PiiFactoryError
from piifactory.io import parse_json
from piifactory.schema import Entity, UnknownLabelError, canonical_type, normalize_value, order_by_appearance

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_CHAT_END = re.compile(r"<\|(?:im_end|endoftext|eot_id|end)\|>")
_CHAT_START = re.compile(r"<\|im_start\|>[a-z]*\n?")
_FENCE = re.compile(r"```[A-Za-z0-9_-]*\s*\n?(.*?)(?:```|\Z)", re.DOTALL)
_DECODER = json.JSONDecoder()

VALUE_OPEN = r'"value"\s*:\s*"'
"""Regex of where an entity's value string opens in an answer: copy-constrained decoding starts
there, and the focal loss's value-token weights find the values by it."""


def target_text(entities: Iterable[Entity], text: str | None = None) -> str:
    """The model's answer: ``{"entities": [{"type", "value"}, ...]}`` in order of appearance.

    Offsets are left out on purpose: a generative model copies values, it does not count
    characters; the scorer aligns values back to the text.
    """
    ordered = order_by_appearance(entities, text)
    payload = {"entities": [{"type": e.type, "value": e.value} for e in ordered]}
    return json.dumps(payload, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Extraction:
    """What was recovered from one answer. ``entities`` carry canonical types only; entities with
    a type outside the schema are kept apart in ``unknown`` (they still count as false positives)."""

    entities: tuple[Entity, ...]
    unknown: tuple[Entity, ...] = ()
    parse_failure: bool = False
    truncated: bool = False
    empty_output: bool = False
    invalid_items: int = 0
    hallucinations: int = 0


def clean_answer(raw: str) -> tuple[str, bool]:
    """Strip think blocks, chat markers and code fences; returns (text, truncated_in_think)."""
    text = _THINK.sub("", raw)
    if "</think>" in text:  # the prompt opened the think block; the answer closes it
        text = text.rsplit("</think>", 1)[1]
    if "<think>" in text:  # still thinking when generation stopped
        return "", True
    text = _CHAT_START.sub("", _CHAT_END.split(text, 1)[0])
    fence = _FENCE.search(text)
    if fence:
        text = fence.group(1)
    return text.strip(), False


def _decode_prefix(text: str) -> tuple[object | None, bool]:
    """Decode the first JSON value in ``text``, ignoring trailing text; (value, truncated)."""
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        return None, False
    begin = min(starts)
    try:
        return _DECODER.raw_decode(text, begin)[0], False
    except RecursionError:  # nested deeper than the interpreter allows: not an answer
        return None, False
    except json.JSONDecodeError as exc:
        truncated = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        return None, truncated


def _salvage(text: str) -> tuple[list[object], bool]:
    """Complete entity objects of a broken list; (items, stopped_at_end_of_text)."""
    bracket = text.find("[")
    if bracket < 0:
        return [], False
    items: list[object] = []
    pos = bracket + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            return items, True
        try:
            item, pos = _DECODER.raw_decode(text, pos)
        except RecursionError:
            return items, False
        except json.JSONDecodeError as exc:
            return items, exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        items.append(item)


def _items_of(value: object) -> list[object] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        if isinstance(value.get("entities"), list):
            return value["entities"]
        if "type" in value and "value" in value:
            return [value]
    return None


def extract(raw: str, text: str | None = None) -> Extraction:
    """Entities from a model answer; ``text`` (the input) enables the hallucination count."""
    if not raw.strip():
        return Extraction((), empty_output=True)
    cleaned, truncated = clean_answer(raw)
    if truncated:
        return Extraction((), truncated=True)
    value, truncated = _decode_prefix(cleaned)
    parse_failure = False
    if value is None:
        items, at_end = _salvage(cleaned)
        truncated = truncated or (at_end and bool(cleaned))
        parse_failure = not truncated
    else:
        found = _items_of(value)
        parse_failure = found is None
        items = found or []
    entities, unknown, invalid = _entities(items)
    hallucinations = 0
    if text is not None:
        haystack = normalize_value(text)
        hallucinations = sum(normalize_value(e.value) not in haystack for e in (*entities, *unknown))
    return Extraction(tuple(entities), tuple(unknown), parse_failure, truncated, False, invalid, hallucinations)


def _entities(items: list[object]) -> tuple[list[Entity], list[Entity], int]:
    entities: list[Entity] = []
    unknown: list[Entity] = []
    invalid = 0
    for item in items:
        if not isinstance(item, dict):
            invalid += 1
            continue
        label, value = item.get("type"), item.get("value")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(label, str) or not isinstance(value, str) or not value.strip():
            invalid += 1
            continue
        try:
            entity_type = canonical_type(label)
        except UnknownLabelError:
            unknown.append(Entity(label.strip(), value))
            continue
        if entity_type is not None:
            entities.append(Entity(entity_type, value, *_offsets(item)))
    return entities, unknown, invalid


def _offsets(item: dict) -> tuple[int | None, int | None]:
    start, end = item.get("start"), item.get("end")
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end:
        return start, end
    return None, None


class GoldError(PiiFactoryError, ValueError):
    """A gold answer that is not a clean ``{"entities": [...]}`` (gold must never be salvaged)."""


def parse_gold(target: str) -> tuple[Entity, ...]:
    """Strictly parse a gold target string; raises :class:`GoldError` on anything doubtful."""
    try:
        value = parse_json(target)
    except json.JSONDecodeError as exc:
        raise GoldError(f"gold is not JSON: {exc.msg} (column {exc.colno})") from None
    items = _items_of(value)
    if items is None:
        raise GoldError('gold is not {"entities": [...]}')
    entities, unknown, invalid = _entities(items)
    if unknown or invalid:
        raise GoldError(f"gold has {len(unknown)} entities of unknown type and {invalid} invalid items")
    return tuple(entities)
