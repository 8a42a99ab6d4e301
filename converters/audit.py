"""Label audit: the missing and contradictory labels that teach a model to stay silent.

More training cannot fix a value that gold labels in one place and not in another: the model learns
that both are right. ``audit`` reads every format the converters read (through
:func:`converters.readers.read_records`, with the same label map) and finds, per record:

- ``repeat``: a labelled value occurring again in the same text, unlabelled and not inside another
  labelled span (occurrences as :func:`piifactory.offsets.mentions` finds them);
- ``unlabelled_elsewhere``: a surface labelled in other records, unlabelled in this one;
- ``rule_hit``: a checksum-valid rule hit (:mod:`piifactory.rules.recognizers`) that no gold span covers;
- ``type_conflict``: a labelled surface whose type is not the label it has most often (a label
  the map drops counts: ``卢浮宫`` as ``address`` once and ``scene`` twice);
- ``overlap``: two labelled spans that cross or nest (or one span with two types).

It reads the input twice and keeps no record: the first pass counts, per labelled surface, its
types and the records that label it; the second pass checks each record against those counters
(an Aho-Corasick automaton of the labelled surfaces finds them in each text). State therefore
grows with the number of distinct labelled surfaces, never with the number of records.

Labels are mapped as the converters map them, so findings speak of what training sees; a span
the label map drops still marks its characters as decided (no gap is reported inside it).
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import ahocorasick
from tqdm import tqdm

from converters.conll import TokenForm
from converters.readers import read_records
from converters.record_checks import LabelMap
from converters.records import Record, Rejected
from piifactory.io import atomic_open
from piifactory.masking import mask
from piifactory.offsets import mentions
from piifactory.rules.recognizers import RecognizerRegistry, default_registry
from piifactory.schema import IDENTIFIER_TYPES, Entity, Sample

KINDS: dict[str, str] = {
    "repeat": "a labelled value occurs again in the same text, unlabelled (not inside another span)",
    "unlabelled_elsewhere": "a surface labelled in other records occurs here without a label",
    "rule_hit": "a checksum-valid rule hit that gold does not label",
    "type_conflict": "a surface labelled with a type other than the one it has most often (labels the map drops count)",
    "overlap": "two labelled spans cross or nest, or one span has two types",
}
"""Every kind of finding, with what it means (the report's legend)."""

MIN_SURFACE = 2
"""Surfaces shorter than this are not searched in other records: one character matches anywhere."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at ``path:line``; ``start``/``end`` are offsets into that record's text."""

    kind: str
    path: str
    line: int
    type: str
    value: str
    start: int
    end: int
    detail: str

    def to_json(self, show_values: bool) -> dict[str, Any]:
        return {
            "where": f"{self.path}:{self.line}",
            "kind": self.kind,
            "type": self.type,
            "value": mask(self.value, show_values),
            "start": self.start,
            "end": self.end,
            "detail": self.detail,
        }


@dataclass(slots=True)
class Surface:
    """What the audit keeps per labelled surface: its labelled mentions by type, the source
    labels the label map dropped on it, the records that label it, and (second pass) the records
    where it stands unlabelled."""

    types: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    labelled_in: int = 0
    unlabelled_in: int = 0

    @property
    def main_type(self) -> str:
        return self.types.most_common(1)[0][0]

    @property
    def mixed(self) -> bool:
        """Labelled under two types, or under a type and a label the map drops."""
        return len(self.types) + len(self.dropped) > 1 and bool(self.types)

    def labels(self) -> Counter[str]:
        """Every label on this surface, dropped ones marked, for messages and the report."""
        return self.types + Counter({f"{label} (dropped)": n for label, n in self.dropped.items()})

    def describe(self) -> str:
        return ", ".join(f"{label} {n}" for label, n in self.labels().most_common())


@dataclass
class AuditResult:
    """Counts for the report; the findings themselves stream to the JSONL file."""

    read: int = 0
    samples: int = 0
    chats: int = 0
    rejected: int = 0
    reject_reasons: Counter[str] = field(default_factory=Counter)
    rejected_at: list[str] = field(default_factory=list)
    types: Counter[str] = field(default_factory=Counter)
    dropped_labels: Counter[str] = field(default_factory=Counter)
    findings: Counter[str] = field(default_factory=Counter)
    findings_by_type: dict[str, Counter[str]] = field(default_factory=dict)
    records_with: Counter[str] = field(default_factory=Counter)
    surfaces: dict[str, Surface] = field(default_factory=dict)
    examples: list[Finding] = field(default_factory=list)
    added: Counter[str] = field(default_factory=Counter)
    reread: Counter[str] | None = None
    fixed_records: int = 0

    def count(self, finding: Finding) -> None:
        self.findings[finding.kind] += 1
        self.findings_by_type.setdefault(finding.type, Counter())[finding.kind] += 1
        if len(self.examples) < 20:
            self.examples.append(finding)

    @property
    def reconciled(self) -> bool:
        """After ``--fix repeats``: the fixed copy, read back, holds gold plus what was added."""
        return self.reread is None or self.reread == self.types + self.added


def _records(
    paths: Iterable[Path], fmt: str | None, label_map: LabelMap | None, tokens: TokenForm, desc: str, progress: bool
) -> Iterator[Record | Rejected]:
    for path in paths:
        items = read_records(path, fmt, label_map, overlap="keep", conll_tokens=tokens)
        yield from tqdm(items, desc=f"{desc} {path.name}", unit=" rec", disable=not progress, leave=False)


def _overlaps(where: tuple[str, int], entities: tuple[Entity, ...]) -> Iterator[Finding]:
    """Pairs of labelled spans that share characters (entities come sorted by start)."""
    for i, a in enumerate(entities):
        for b in entities[i + 1 :]:
            if b.start >= a.end:  # type: ignore[operator]
                break
            if (a.start, a.end) == (b.start, b.end):
                how = f"the same span labelled {a.type} and {b.type}"
            elif b.end <= a.end:  # type: ignore[operator]
                how = f"{b.type} [{b.start}, {b.end}) nested in {a.type} [{a.start}, {a.end})"
            else:
                how = f"{a.type} [{a.start}, {a.end}) and {b.type} [{b.start}, {b.end}) cross"
            yield Finding("overlap", *where, a.type, a.value, a.start, a.end, how)  # type: ignore[arg-type]


def _free(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return not any(span[0] < end and start < span[1] for start, end in taken)


class Auditor:
    """The checks: ``learn`` is the first pass over each record, ``check`` the second."""

    def __init__(self, registry: RecognizerRegistry | None = None) -> None:
        # Only a checksum makes a rule hit certain enough to call gold wrong for missing it.
        self.rules = RecognizerRegistry(r for r in (registry or default_registry()).recognizers if r.has_checksum)
        self.result = AuditResult()

    def learn(self, sample: Sample, dropped_spans: tuple[tuple[str, int, int], ...] = ()) -> None:
        """First pass: count each labelled surface's types, the records that label it, and the
        labels the map dropped on a surface."""
        surfaces = self.result.surfaces
        for label, start, end in dropped_spans:
            surfaces.setdefault(sample.text[start:end], Surface()).dropped[label] += 1
        for value in {e.value for e in sample.entities}:
            surfaces.setdefault(value, Surface()).labelled_in += 1
        for ent in sample.entities:
            surfaces[ent.value].types[ent.type] += 1
            self.result.types[ent.type] += 1

    def automaton(self) -> ahocorasick.Automaton | None:
        """Every labelled surface of at least MIN_SURFACE characters, for the second pass."""
        auto = ahocorasick.Automaton()
        for value, surface in self.result.surfaces.items():
            if len(value) >= MIN_SURFACE and surface.types:
                auto.add_word(value, value)
        if len(auto) == 0:
            return None
        auto.make_automaton()
        return auto

    def check(
        self,
        where: tuple[str, int],
        sample: Sample,
        auto: ahocorasick.Automaton | None,
        dropped_spans: tuple[tuple[str, int, int], ...] = (),
    ) -> tuple[list[Finding], list[Entity]]:
        """Second pass on one record: its findings, and the unlabelled repeats as entities. An
        occurrence inside a span the label map dropped is labelled (the annotator decided)."""
        text, gold = sample.text, sample.entities
        found = list(_overlaps(where, gold))
        surfaces = self.result.surfaces
        for ent in gold:
            surface = surfaces[ent.value]
            if surface.mixed and ent.type != surface.labels().most_common(1)[0][0]:
                found.append(
                    Finding(
                        "type_conflict",
                        *where,
                        ent.type,
                        ent.value,
                        ent.start,
                        ent.end,  # type: ignore[arg-type]
                        f"labelled {ent.type} here; this surface is labelled {surface.describe()}",
                    )
                )
        taken = [(e.start, e.end) for e in gold] + [(start, end) for _, start, end in dropped_spans]
        repeats: list[Entity] = []
        labelled = {e.value: e.type for e in gold}
        for value, etype in sorted(labelled.items(), key=lambda kv: -len(kv[0])):
            if text.count(value) < 2:  # a gold value is a slice of its text: seen once, it is the labelled one
                continue
            for span in mentions(text, value, etype in IDENTIFIER_TYPES):
                if _free(span, taken):
                    taken.append(span)
                    repeats.append(Entity(etype, text[span[0] : span[1]], *span))
                    found.append(
                        Finding(
                            "repeat", *where, etype, value, *span, f"labelled {etype} at another place in this text"
                        )
                    )
        if auto is not None:
            found += self._elsewhere(where, text, labelled, taken, auto)
        for hit in self.rules.analyze(text):
            if _free((hit.start, hit.end), taken):  # type: ignore[arg-type]
                taken.append((hit.start, hit.end))  # type: ignore[arg-type]
                found.append(
                    Finding(
                        "rule_hit",
                        *where,
                        hit.type,
                        hit.value,
                        hit.start,
                        hit.end,  # type: ignore[arg-type]
                        f"{hit.recognizer} validates it; gold has no span here",
                    )
                )
        return found, repeats

    def _elsewhere(
        self,
        where: tuple[str, int],
        text: str,
        labelled: dict[str, str],
        taken: list[tuple[int, int]],
        auto: ahocorasick.Automaton,
    ) -> Iterator[Finding]:
        """Each unlabelled occurrence here of a surface that other records label."""
        candidates = {value for _, value in auto.iter(text) if value not in labelled}
        for value in sorted(candidates, key=lambda v: -len(v)):
            surface = self.result.surfaces[value]
            etype = surface.main_type
            free = [s for s in mentions(text, value, etype in IDENTIFIER_TYPES) if _free(s, taken)]
            if not free:
                continue
            taken += free
            surface.unlabelled_in += 1
            for span in free:
                yield Finding(
                    "unlabelled_elsewhere",
                    *where,
                    etype,
                    value,
                    *span,
                    f"labelled {etype} in {surface.labelled_in} other record(s)",
                )


def _fixed_row(sample: Sample, repeats: list[Entity]) -> str:
    entities = sorted([*sample.entities, *repeats], key=lambda e: (e.start, -e.end))  # type: ignore[arg-type, operator]
    return json.dumps(Sample(sample.text, tuple(entities)).to_user_json(), ensure_ascii=False)


def audit(
    paths: list[Path],
    *,
    fmt: str | None = None,
    label_map: LabelMap | None = None,
    conll_tokens: TokenForm = "auto",
    findings_path: Path | None = None,
    show_values: bool = False,
    fix_path: Path | None = None,
    progress: bool = True,
    registry: RecognizerRegistry | None = None,
) -> AuditResult:
    """Audit ``paths`` (read twice, streamed); findings go to ``findings_path`` as JSONL and the
    copy with the repeats labelled to ``fix_path`` (users' format), both written atomically."""
    auditor = Auditor(registry)
    result = auditor.result
    for item in _records(paths, fmt, label_map, conll_tokens, "audit 1/2", progress):
        result.read += 1
        if isinstance(item, Rejected):
            result.rejected += 1
            result.reject_reasons[item.reason] += 1
            if len(result.rejected_at) < 20:
                result.rejected_at.append(f"{item.path}:{item.line}: {item.reason}")
        elif item.sample is None:
            result.chats += 1
        else:
            result.samples += 1
            result.dropped_labels.update(item.dropped)
            auditor.learn(item.sample, item.dropped_spans)
    auto = auditor.automaton()
    with contextlib.ExitStack() as stack:
        out: IO[str] | None = stack.enter_context(atomic_open(findings_path)) if findings_path is not None else None
        fixed: IO[str] | None = stack.enter_context(atomic_open(fix_path)) if fix_path is not None else None
        for item in _records(paths, fmt, label_map, conll_tokens, "audit 2/2", progress):
            if not isinstance(item, Record) or item.sample is None:
                continue
            found, repeats = auditor.check((item.path, item.line), item.sample, auto, item.dropped_spans)
            for finding in found:
                result.count(finding)
                if out is not None:
                    out.write(json.dumps(finding.to_json(show_values), ensure_ascii=False) + "\n")
            result.records_with.update({f.kind for f in found})
            if fixed is not None:
                fixed.write(_fixed_row(item.sample, repeats) + "\n")
                result.fixed_records += 1
                result.added.update(e.type for e in repeats)
    if fix_path is not None:
        result.reread = Counter()
        for item in read_records(fix_path, "pii", overlap="keep"):
            if isinstance(item, Record) and item.sample is not None:
                result.reread.update(e.type for e in item.sample.entities)
    return result


def describe_state(result: AuditResult) -> str:
    """How much cross-record state the audit held, for the report."""
    return (
        f"cross-record state: {len(result.surfaces)} distinct surfaces labelled or dropped (per-surface counters), "
        f"no records kept; inputs read twice, streamed"
    )


__all__ = ["KINDS", "AuditResult", "Auditor", "Finding", "audit", "describe_state"]
