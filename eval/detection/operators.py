"""Redaction with Presidio's operator names and parameters, per entity type with a ``DEFAULT``:
``replace`` (``new_value``, default ``<TYPE>``), ``redact`` (removes the value), ``mask``
(``masking_char``, ``chars_to_mask``, ``from_end``), ``hash`` (``hash_type`` sha256 or sha512,
hex digest) and ``keep``. Operators are Presidio's HTTP shape ``{TYPE: {"type": NAME, ...params}}``
or objects with ``operator_name`` and ``params`` (Presidio's ``OperatorConfig``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from eval.detection.spans import Span
from piifactory.errors import UsageError

OPERATORS = ("replace", "redact", "mask", "hash", "keep")
DEFAULT = "DEFAULT"
DEFAULT_OPERATOR = {"type": "replace"}


@dataclass(frozen=True, slots=True)
class Redacted:
    """Presidio's ``EngineResult`` shape: the new text and one item per replaced region, with
    offsets into the new text."""

    text: str
    items: list[dict[str, Any]]


def _config(operator: object) -> tuple[str, dict[str, Any]]:
    if isinstance(operator, Mapping):
        params = dict(operator)
        name = params.pop("type", params.pop("operator_name", None))
    elif hasattr(operator, "operator_name"):
        name, params = operator.operator_name, dict(getattr(operator, "params", None) or {})
    else:
        raise UsageError(f"an operator is {{'type': NAME, ...}} or an OperatorConfig, not {operator!r}")
    if name not in OPERATORS:
        raise UsageError(f"unknown operator {name!r}; choose from {', '.join(OPERATORS)}")
    return str(name), params


def check_operators(operators: Mapping[str, object] | None) -> dict[str, tuple[str, dict[str, Any]]]:
    """``{TYPE: (name, params)}`` with every operator read and checked (a bad one is a UsageError)."""
    configs = {DEFAULT: _config(DEFAULT_OPERATOR)}
    if operators is not None and not isinstance(operators, Mapping):
        raise UsageError('operators must be an object {TYPE: {"type": NAME, ...}}')
    for entity_type, operator in (operators or {}).items():
        configs[str(entity_type)] = _config(operator)
    for name, params in configs.values():
        apply_operator(name, params, "x", "T")  # every parameter checked before any text is touched
    return configs


def apply_operator(name: str, params: Mapping[str, Any], value: str, entity_type: str) -> str:
    """What replaces ``value`` under one operator."""
    try:
        if name == "replace":
            return str(params.get("new_value", f"<{entity_type}>"))
        if name == "redact":
            return ""
        if name == "keep":
            return value
        if name == "hash":
            kind = params.get("hash_type", "sha256")
            if kind not in ("sha256", "sha512"):
                raise UsageError(f"hash_type {kind!r}: choose sha256 or sha512")
            return hashlib.new(kind, value.encode("utf-8")).hexdigest()
        char = str(params.get("masking_char", "*"))
        if len(char) != 1:
            raise UsageError(f"masking_char must be one character, not {char!r}")
        count = min(int(params.get("chars_to_mask", len(value))), len(value))
        if count < 0:
            raise UsageError("chars_to_mask must be at least 0")
        if params.get("from_end", False):
            return value[: len(value) - count] + char * count
        return char * count + value[count:]
    except (TypeError, ValueError) as exc:
        if isinstance(exc, UsageError):
            raise
        raise UsageError(f"operator {name!r}: bad parameter ({exc})") from None


def redact(text: str, spans: Sequence[Span], operators: Mapping[str, object] | None = None) -> Redacted:
    """``text`` with every span replaced by its type's operator (``DEFAULT``: ``<TYPE>``).
    Overlapping spans are redacted as one region under the type of the one starting first (the
    longest there), so no character any span covers is left in clear."""
    configs = check_operators(operators)
    regions: list[list] = []  # [start, end, type]
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if regions and span.start < regions[-1][1]:
            regions[-1][1] = max(regions[-1][1], span.end)
        else:
            regions.append([span.start, span.end, span.type])
    pieces, items, cursor, length = [], [], 0, 0
    for start, end, entity_type in regions:
        pieces.append(text[cursor:start])
        length += start - cursor
        name, params = configs.get(entity_type, configs[DEFAULT])
        new = apply_operator(name, params, text[start:end], entity_type)
        items.append(
            {"start": length, "end": length + len(new), "entity_type": entity_type, "text": new, "operator": name}
        )
        pieces.append(new)
        length += len(new)
        cursor = end
    pieces.append(text[cursor:])
    return Redacted("".join(pieces), items)
