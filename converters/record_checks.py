"""The per-record checks every input format goes through, turning raw entities into a Sample.

Policy (stated once, documented in docs/converters.md):
- empty or whitespace-only text is an error;
- a label must map to a canonical type (schema aliases or the user's mapping; null drops it);
- offsets must be integers with ``0 <= start < end <= len(text)`` and slice to the value when a
  value is given; an entity without offsets is placed by :func:`piifactory.offsets.place` (the
  next unused occurrence of its value), an attribute value (``every``) at each of its mentions;
  a value may be a JSON integer (written as its digits);
- exact duplicates (same span, same type) are kept once; the same span with two types is an error;
- overlapping spans are an error, or with ``overlap="longest"`` the longest one wins; the label
  audit reads with ``overlap="keep"``: every distinct span stays, so it can report the overlaps.

Messages name types, offsets and lengths, never values: they reach terminals, CI logs and the
stats summary, and values are personal data (the rejects file keeps the whole record).
"""

from __future__ import annotations

from typing import Literal, Mapping

from converters.records import RawEntity, RecordError
from piifactory.offsets import mentions, occurrences, place
from piifactory.schema import Entity, Sample, UnknownLabelError, canonical_type

OverlapPolicy = Literal["error", "longest", "keep"]
LabelMap = Mapping[str, "str | None"]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(ent: Entity) -> str:
    return f"{ent.type} [{ent.start}, {ent.end})"


def _value(raw: RawEntity, etype: str) -> str | None:
    """The raw value as text: an integer (MultiPriv stores ID numbers as JSON integers) is
    written as its digits; a float is refused, its text form is not the one in the text."""
    if raw.value is None or isinstance(raw.value, str):
        return raw.value
    if _is_int(raw.value):
        return str(raw.value)
    raise RecordError(f"{etype} value must be a string or an integer, got {type(raw.value).__name__}")


def _given(text: str, raw: RawEntity, etype: str, value: str | None) -> Entity:
    """An entity whose source gave offsets: they must be integers in the text that slice to the
    value exactly (a loose match would hide an offset error of the source)."""
    if not (_is_int(raw.start) and _is_int(raw.end)):
        raise RecordError(f"{etype} offsets must be integers, got start={raw.start!r} end={raw.end!r}")
    start, end = raw.start, raw.end
    if not 0 <= start < end <= len(text):
        raise RecordError(f"{etype} span [{start}, {end}) is outside the text (length {len(text)}) or empty")
    piece = text[start:end]
    if value is not None and piece != value:
        raise RecordError(
            f"{etype} span [{start}, {end}) does not hold its value (the text there differs; value has {len(value)} characters)"
        )
    return Entity(etype, piece, start, end)


def _not_placed(text: str, ent: Entity) -> RecordError:
    if next(occurrences(text, ent.value, ent.is_identifier), None) is None:
        return RecordError(f"{ent.type} value ({len(ent.value)} characters) not found in the text")
    return RecordError(
        f"{ent.type} value ({len(ent.value)} characters) is listed more times than it occurs in the text"
    )


def _place_values(text: str, entities: list[Entity]) -> list[Entity]:
    """Entities without offsets placed by :func:`piifactory.offsets.place`, each value being
    the text's own characters there (a loose match takes the text's form)."""
    if all(e.has_span for e in entities):
        return entities
    out = []
    for ent, span in zip(entities, place(text, entities)):
        if span is None:
            raise _not_placed(text, ent)
        out.append(ent if ent.has_span else Entity(ent.type, text[span[0] : span[1]], *span))
    return out


def _place_attributes(text: str, attributes: list[Entity], entities: list[Entity]) -> list[Entity]:
    """Every mention of each attribute value (longest value first, so a short value is not
    taken from inside a longer one); a mention inside a span already placed is skipped."""
    taken = [(e.start, e.end) for e in entities]
    out = []
    for ent in sorted(attributes, key=lambda e: -len(e.value)):
        found = mentions(text, ent.value, ent.is_identifier)
        free = [(s, e) for s, e in found if not any(s < te and ts < e for ts, te in taken)]
        if not free:
            if not found:
                raise _not_placed(text, ent)
            raise RecordError(f"{ent.type} value ({len(ent.value)} characters) occurs only inside other values")
        taken += free
        out += [Entity(ent.type, text[s:e], s, e) for s, e in free]
    return out


def _resolve_overlaps(entities: list[Entity], overlap: OverlapPolicy) -> list[Entity]:
    if overlap == "keep":
        return sorted(set(entities), key=lambda e: (e.start, -e.end, e.type))
    ordered = sorted(entities, key=lambda e: (e.start, -e.end))
    kept: list[Entity] = []
    for ent in ordered:
        if kept and kept[-1].start == ent.start and kept[-1].end == ent.end:
            if kept[-1].type != ent.type:
                raise RecordError(f"the same span has two types: {_describe(kept[-1])} and {ent.type}")
            continue  # exact duplicate: kept once
        if kept and ent.start < kept[-1].end:
            if overlap == "error":
                raise RecordError(f"spans overlap: {_describe(kept[-1])} and {_describe(ent)}")
            if ent.end - ent.start > kept[-1].end - kept[-1].start:
                kept[-1] = ent
            continue
        kept.append(ent)
    return kept


def build_sample(
    text: str,
    raws: list[RawEntity],
    label_map: LabelMap | None = None,
    overlap: OverlapPolicy = "error",
    dropped: list[str] | None = None,
    dropped_spans: list[tuple[str, int, int]] | None = None,
) -> Sample:
    """Check one record and return it as a Sample with canonical types, in text order. The
    labels of spans the label map drops (null) are appended to ``dropped`` when given, and
    ``(label, start, end)`` to ``dropped_spans`` for those whose offsets lie in the text."""
    if not text.strip():
        raise RecordError("empty text")
    entities: list[Entity] = []
    attributes: list[Entity] = []
    for raw in raws:
        if not isinstance(raw.label, str):
            raise RecordError(f"label must be a string, got {type(raw.label).__name__}")
        try:
            etype = canonical_type(raw.label, label_map)
        except UnknownLabelError:
            raise RecordError(
                f"unknown label {raw.label!r}: map it with --label-map (a preset such as cluener, or a file: label -> type, or null to drop)"
            ) from None
        if etype is None:
            if dropped is not None:
                dropped.append(raw.label)
            if (
                dropped_spans is not None
                and _is_int(raw.start)
                and _is_int(raw.end)
                and 0 <= raw.start < raw.end <= len(text)
            ):
                dropped_spans.append((raw.label, raw.start, raw.end))
            continue
        value = _value(raw, etype)
        if raw.every:
            if value is not None and value.strip():  # a missing attribute has nothing to label
                attributes.append(Entity(etype, value))
        elif raw.start is not None or raw.end is not None:
            entities.append(_given(text, raw, etype, value))
        elif not value:
            raise RecordError(f"{etype} entity has neither offsets nor a value")
        else:
            entities.append(Entity(etype, value))
    entities = _place_values(text, entities)
    if attributes:
        entities += _place_attributes(text, attributes, entities)
    return Sample(text, tuple(_resolve_overlaps(entities, overlap)))
