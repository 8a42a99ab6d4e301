"""Field layouts of the JSON input formats, and detection of a format from one record.

Each parser only reads fields and checks their JSON types; offsets, values and labels are checked
in :mod:`converters.record_checks`, the same way for every format.
"""

from __future__ import annotations

import ast
import json
from typing import Any, Callable

from converters.records import Chat, RawEntity, RecordError

Parsed = tuple[str, list[RawEntity]]

# The names ``--from`` accepts, in detection order for documentation.
FORMATS = ("pii", "spans", "presidio", "cluener", "ai4privacy", "multipriv", "conll", "sft", "messages")


def _field(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    if key not in obj:
        raise RecordError(f"missing field '{where}{key}'")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise RecordError(f"field '{where}{key}' must be {names}, got {type(value).__name__}")
    return value


def _first(obj: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((obj[k] for k in keys if k in obj), None)


def _list(obj: dict[str, Any], key: str) -> list[Any]:
    value = _field(obj, key, (list, str))
    if isinstance(value, str):  # Nemotron-PII stores its spans as a Python literal
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise RecordError(f"field {key!r} is a string that is not a list literal") from None
        if not isinstance(value, list):
            raise RecordError(f"field {key!r} must be a list")
    return value


def parse_pii(obj: dict[str, Any]) -> Parsed:
    """The users' ``{"input", "output": {"entities": [{"type", "value", "start"?, "end"?}]}}``."""
    text = _field(obj, "input", str)
    output = _field(obj, "output", (dict, str))
    if isinstance(output, str):
        try:
            output = json.loads(output)
        except json.JSONDecodeError:
            raise RecordError("field 'output' is a string that is not JSON") from None
        if not isinstance(output, dict):
            raise RecordError("field 'output' must be an object with 'entities'")
    entities = _field(output, "entities", list, "output.")
    raws = []
    for i, ent in enumerate(entities):
        if not isinstance(ent, dict):
            raise RecordError(f"output.entities[{i}] must be an object, got {type(ent).__name__}")
        raws.append(
            RawEntity(
                _field(ent, "type", str, f"output.entities[{i}]."),
                _field(ent, "value", (str, int), f"output.entities[{i}]."),
                ent.get("start"),
                ent.get("end"),
            )
        )
    return text, raws


def _span(item: Any, i: int, key: str) -> RawEntity:
    if isinstance(item, list) and len(item) == 3:  # doccano: [start, end, label]
        return RawEntity(item[2], None, item[0], item[1])
    if not isinstance(item, dict):
        raise RecordError(f"{key}[{i}] must be an object, got {type(item).__name__}")
    label = _first(item, ("label", "entity_type", "type"))
    if label is None and isinstance(item.get("labels"), list) and len(item["labels"]) == 1:
        label = item["labels"][0]  # Label Studio keeps a one-element list
    if label is None:
        raise RecordError(f"{key}[{i}] has no 'label'")
    start = _first(item, ("start", "start_position", "start_offset"))
    end = _first(item, ("end", "end_position", "end_offset"))
    if start is None or end is None:
        raise RecordError(f"{key}[{i}] needs 'start' and 'end'")
    return RawEntity(label, _first(item, ("text", "entity_value", "value")), start, end)


def parse_spans(obj: dict[str, Any]) -> Parsed:
    """``{"text", "spans": [{"start", "end", "label"}]}`` (Label Studio, doccano, Nemotron) and
    presidio-research ``{"full_text", "spans": [{"entity_type", "entity_value",
    "start_position", "end_position"}]}``; exclusive ends."""
    text = _field(obj, "full_text" if "full_text" in obj else "text", str)
    key = next((k for k in ("spans", "entities", "label") if k in obj), "spans")
    return text, [_span(item, i, key) for i, item in enumerate(_list(obj, key))]


def parse_cluener(obj: dict[str, Any]) -> Parsed:
    """CLUENER2020 ``{"text", "label": {type: {surface: [[start, end]]}}}``, INCLUSIVE end."""
    text = _field(obj, "text", str)
    labels = obj.get("label", {})  # CLUENER's test split and negatives carry no label
    if not isinstance(labels, dict):
        raise RecordError(f"field 'label' must be an object, got {type(labels).__name__}")
    raws = []
    for label, surfaces in labels.items():
        if not isinstance(surfaces, dict):
            raise RecordError(f"label.{label} must be an object of surface -> [[start, end]]")
        for surface, pairs in surfaces.items():
            if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
                raise RecordError(f"label.{label}: each surface must map to a list of [start, end] pairs")
            for start, end in pairs:
                inclusive_end = end + 1 if isinstance(end, int) and not isinstance(end, bool) else end
                raws.append(RawEntity(label, surface, start, inclusive_end))
    return text, raws


def parse_ai4privacy(obj: dict[str, Any]) -> Parsed:
    """ai4privacy pii-masking ``source_text`` + ``privacy_mask: [{value, start, end, label}]``."""
    text = _field(obj, "source_text", str)
    raws = []
    for i, item in enumerate(_list(obj, "privacy_mask")):
        if not isinstance(item, dict):
            raise RecordError(f"privacy_mask[{i}] must be an object, got {type(item).__name__}")
        raws.append(
            RawEntity(
                _field(item, "label", str, f"privacy_mask[{i}]."), item.get("value"), item.get("start"), item.get("end")
            )
        )
    return text, raws


def parse_multipriv(obj: dict[str, Any]) -> Parsed:
    """MultiPriv person records ``{"naturalParagraph": text, attribute: value, ...}``: every
    other field is an attribute of the person the text is about, labelled by its field name.
    Values carry no offsets and may be JSON numbers or lists; each occurrence in the text is a
    mention. A null or empty attribute is missing: nothing to label."""
    text = _field(obj, "naturalParagraph", str)
    raws = []
    for key, value in obj.items():
        if key == "naturalParagraph":
            continue
        for item in value if isinstance(value, list) else [value]:
            if item is not None and item != "":
                raws.append(RawEntity(key, item, every=True))
    return text, raws


def parse_sft(obj: dict[str, Any]) -> Chat:
    """Plain ``{"instruction", "input"?, "output", "system"?}`` rows (domain Q&A SFT)."""
    instruction = _field(obj, "instruction", str)
    output = _field(obj, "output", str)
    text = obj.get("input", "")
    system = obj.get("system")
    if not isinstance(text, str):
        raise RecordError(f"field 'input' must be str, got {type(text).__name__}")
    if system is not None and not isinstance(system, str):
        raise RecordError(f"field 'system' must be str, got {type(system).__name__}")
    if not instruction.strip() or not output.strip():
        raise RecordError("empty 'instruction' or 'output'")
    return Chat(instruction, output, text, system)


def parse_messages(obj: dict[str, Any]) -> Chat:
    """One-turn OpenAI/sharegpt ``{"messages": [{"role", "content"}]}`` (system optional)."""
    messages = _field(obj, "messages", list)
    if not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in messages
    ):
        raise RecordError("every message needs string 'role' and 'content'")
    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else None
    turns = [m for m in messages if m["role"] != "system"]
    if [m["role"] for m in turns] != ["user", "assistant"]:
        raise RecordError("expected one user message and one assistant message")
    if not turns[0]["content"].strip() or not turns[1]["content"].strip():
        raise RecordError("empty user or assistant message")
    return Chat(turns[0]["content"], turns[1]["content"], "", system)


PARSERS: dict[str, Callable[[dict[str, Any]], Parsed | Chat]] = {
    "pii": parse_pii,
    "spans": parse_spans,
    "presidio": parse_spans,
    "cluener": parse_cluener,
    "ai4privacy": parse_ai4privacy,
    "multipriv": parse_multipriv,
    "sft": parse_sft,
    "messages": parse_messages,
}


def detect(obj: Any) -> str | None:
    """The format of one JSON record by its keys, or None when no layout fits."""
    if not isinstance(obj, dict):
        return None
    keys = set(obj)
    if {"source_text", "privacy_mask"} <= keys:
        return "ai4privacy"
    if "naturalParagraph" in keys:
        return "multipriv"
    if {"full_text", "spans"} <= keys:
        return "presidio"
    if {"input", "output"} <= keys and isinstance(obj["output"], dict):
        return "pii"
    if {"instruction", "output"} <= keys:
        return "sft"
    if "messages" in keys:
        return "messages"
    if "text" in keys and isinstance(obj.get("label"), dict):
        return "cluener"
    if "text" in keys and keys & {"spans", "entities", "label"}:
        return "spans"
    return None
