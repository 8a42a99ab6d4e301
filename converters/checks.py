"""The per-record checks every input format goes through, turning raw entities into a Sample.

Policy (stated once, documented in docs/converters.md):
- empty or whitespace-only text is an error;
- a label must map to a canonical type (schema aliases or the user's mapping; null drops it);
- offsets must be integers with ``0 <= start < end <= len(text)`` and slice to the value when a
  value is given; an entity without offsets is placed at the next unused occurrence of its value;
- exact duplicates (same span, same type) are kept once; the same span with two types is an error;
- overlapping spans are an error, or with ``overlap="longest"`` the longest one wins.

Messages name types, offsets and lengths, never values: they reach terminals, CI logs and the
stats summary, and values are personal data (the rejects file keeps the whole record).
"""

from __future__ import annotations

from typing import Literal, Mapping

from converters.records import RawEntity, RecordError
from piifactory.schema import Entity, Sample, UnknownLabelError, canonical_type

OverlapPolicy = Literal["error", "longest"]
LabelMap = Mapping[str, "str | None"]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(ent: Entity) -> str:
    return f"{ent.type} [{ent.start}, {ent.end})"


def _place(text: str, raw: RawEntity, etype: str, taken: set[tuple[int, int]]) -> Entity:
    """Resolve one raw entity to an Entity with checked offsets."""
    value = raw.value
    if value is not None and not isinstance(value, str):
        raise RecordError(f"{etype} value must be a string, got {type(value).__name__}")
    if raw.start is None and raw.end is None:
        if not value:
            raise RecordError(f"{etype} entity has neither offsets nor a value")
        at = text.find(value)
        while at >= 0 and (at, at + len(value)) in taken:
            at = text.find(value, at + 1)
        if at < 0:
            raise RecordError(f"{etype} value ({len(value)} characters) not found in the text")
        return Entity(etype, value, at, at + len(value))
    if not (_is_int(raw.start) and _is_int(raw.end)):
        raise RecordError(f"{etype} offsets must be integers, got start={raw.start!r} end={raw.end!r}")
    start, end = raw.start, raw.end
    if not 0 <= start < end <= len(text):
        raise RecordError(f"{etype} span [{start}, {end}) is outside the text (length {len(text)}) or empty")
    piece = text[start:end]
    if value is not None and piece != value:
        raise RecordError(f"{etype} span [{start}, {end}) does not hold its value (the text there differs; value has {len(value)} characters)")
    return Entity(etype, piece, start, end)


def _resolve_overlaps(entities: list[Entity], overlap: OverlapPolicy) -> list[Entity]:
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


def build_sample(text: str, raws: list[RawEntity], label_map: LabelMap | None = None,
                 overlap: OverlapPolicy = "error") -> Sample:
    """Check one record and return it as a Sample with canonical types, in text order."""
    if not text.strip():
        raise RecordError("empty text")
    entities: list[Entity] = []
    taken: set[tuple[int, int]] = set()
    for raw in raws:
        if not isinstance(raw.label, str):
            raise RecordError(f"label must be a string, got {type(raw.label).__name__}")
        try:
            etype = canonical_type(raw.label, label_map)
        except UnknownLabelError:
            raise RecordError(f"unknown label {raw.label!r}: map it in a --label-map file (label -> type, or null to drop)") from None
        if etype is None:
            continue
        ent = _place(text, raw, etype, taken)
        taken.add((ent.start, ent.end))
        entities.append(ent)
    return Sample(text, tuple(_resolve_overlaps(entities, overlap)))
