"""What is missed: the gold entities no prediction matched, grouped by what might explain them.

The analysis users asked for before training more: is recall lost on one type, on one way of
writing a value (digits in groups, full-width characters, ``+86``, Latin against Han, long
values), on long texts or late positions, on values the text repeats? Every gold entity falls in
one group per dimension; a group's miss rate is its missed / its gold count, so a dimension shows
where recall goes. Examples show the value's shape and the words before it, never the value
(every gold value in the context is masked too) unless ``--show-values``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from eval.scoring.matching import unmatched
from eval.scoring.scorer import Scored
from piifactory.offsets import place
from piifactory.schema import Entity
from piifactory.tables import markdown_table, text_table

DIMENSIONS = ("type", "value shape", "script", "value length", "text length", "position in text", "repeats in text")
_GROUPED_DIGITS = re.compile(r"[0-9０-９][ \-－\u3000][0-9０-９]")
_PLUS_86 = re.compile(r"^\s*(?:\+|＋|\(\+?|（\+?)?(?:86|８６)(?:\)|）)?[ \-－]?[0-9０-９]")
_FULL_WIDTH = re.compile(r"[\uFF01-\uFF5E\u3000]")
_HAN = re.compile(r"[\u3400-\u9FFF\uF900-\uFAFF]")
_LATIN = re.compile(r"[A-Za-z0-9]")


def _bucket(value: int, edges: Sequence[int], unit: str) -> str:
    """The bucket of ``value`` among ``edges``, named like ``4-8 chars`` or ``400+ chars``."""
    low = 0
    for edge in edges:
        if value < edge:
            return f"{low}-{edge - 1} {unit}"
        low = edge
    return f"{low}+ {unit}"


def value_shape(value: str) -> str:
    """How the value is written: ``+86``, ``digits in groups``, ``full-width``, or ``plain``."""
    if _PLUS_86.match(value):
        return "+86"
    if _GROUPED_DIGITS.search(value):
        return "digits in groups"
    if _FULL_WIDTH.search(value):
        return "full-width"
    return "plain"


def script(value: str) -> str:
    han, latin = bool(_HAN.search(value)), bool(_LATIN.search(unicodedata.normalize("NFKC", value)))
    return "Han + Latin" if han and latin else "Han" if han else "Latin / digits" if latin else "other"


def groups(entity: Entity, text: str, span: tuple[int, int] | None) -> dict[str, str]:
    """The entity's group in each dimension."""
    if span is None:
        position = "not in text"
    else:
        third = 3 * span[0] // max(len(text), 1)
        position = ("first third", "middle third", "last third")[min(third, 2)]
    return {
        "type": entity.type,
        "value shape": value_shape(entity.value),
        "script": script(entity.value),
        "value length": _bucket(len(entity.value), (4, 9, 16, 30), "chars"),
        "text length": _bucket(len(text), (50, 150, 400), "chars"),
        "position in text": position,
        "repeats in text": "repeated" if text.count(entity.value) > 1 else "once",
    }


def shape_mask(value: str) -> str:
    """The value's shape without its content: digits 9, letters a / A, Han 汉, full-width forms
    their full-width counterparts; separators and punctuation kept."""
    out = []
    for char in value:
        folded = unicodedata.normalize("NFKC", char)
        wide = char != folded and len(folded) == 1
        if folded.isdigit() and folded.isascii():
            out.append("９" if wide else "9")
        elif folded.isascii() and folded.isalpha():
            shape = "A" if folded.isupper() else "a"
            out.append(chr(ord(shape) + 0xFEE0) if wide else shape)
        elif _HAN.match(char):
            out.append("汉")
        else:
            out.append(char)
    return "".join(out)


@dataclass(frozen=True)
class Miss:
    sample: int
    entity: Entity
    groups: dict[str, str]
    context: str  # the words before the value (gold values masked)


@dataclass(frozen=True)
class MissReport:
    """Per dimension, per group: (gold, missed); and every miss with its groups."""

    totals: dict[str, dict[str, tuple[int, int]]]
    misses: list[Miss]

    @property
    def missed(self) -> int:
        return len(self.misses)


def analyze_misses(scored: Scored, texts: Sequence[str], context: int = 8) -> MissReport:
    """Group every gold entity of every sample, and list the ones the predictions leave unmatched
    (the scorer's matching: type and match key)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    missed_counts: dict[str, Counter[str]] = defaultdict(Counter)
    misses: list[Miss] = []
    for index, (text, gold, ex) in enumerate(zip(texts, scored.gold, scored.extractions)):
        spans = place(text, gold)
        left = unmatched(gold, ex.entities)
        remaining = Counter(left)
        masked_text = _mask_values(text, spans)
        for entity, span in zip(gold, spans):
            found = groups(entity, text, span)
            for dimension, group in found.items():
                counts[dimension][group] += 1
            if remaining[entity]:
                remaining[entity] -= 1
                for dimension, group in found.items():
                    missed_counts[dimension][group] += 1
                before = masked_text[max(0, span[0] - context) : span[0]] if span else ""
                misses.append(Miss(index, entity, found, before))
    totals = {d: {g: (counts[d][g], missed_counts[d][g]) for g in sorted(counts[d])} for d in DIMENSIONS}
    return MissReport(totals, misses)


def _mask_values(text: str, spans: Sequence[tuple[int, int] | None]) -> str:
    chars = list(text)
    for span in spans:
        if span is not None:
            chars[span[0] : span[1]] = shape_mask(text[span[0] : span[1]])
    return "".join(chars)


def rows(report: MissReport) -> list[list[str]]:
    """One row per (dimension, group): gold, missed, miss rate; groups by miss rate within a dimension."""
    out = []
    for dimension in DIMENSIONS:
        ranked = sorted(report.totals[dimension].items(), key=lambda item: (-item[1][1] / max(item[1][0], 1), item[0]))
        for group, (gold, missed) in ranked:
            out.append([dimension, group, str(gold), str(missed), f"{100 * missed / gold:.1f}%" if gold else "-"])
    return out


HEADER = ["dimension", "group", "gold", "missed", "miss rate"]


def example_rows(report: MissReport, show_values: bool, limit: int) -> list[list[str]]:
    """Misses with their shape and the words before them (values masked unless asked)."""
    return [
        [
            str(m.sample),
            m.entity.type,
            m.entity.value if show_values else shape_mask(m.entity.value),
            m.groups["value shape"],
            m.context,
        ]
        for m in report.misses[:limit]
    ]


EXAMPLE_HEADER = ["sample", "type", "value (shape)", "written as", "before it (gold values masked)"]


def terminal(report: MissReport, show_values: bool, limit: int = 20) -> str:
    parts = [f"{report.missed} gold entities missed", text_table(HEADER, rows(report), "llrrr")]
    if report.misses:
        parts.append(text_table(EXAMPLE_HEADER, example_rows(report, show_values, limit)))
    return "\n\n".join(parts)


def markdown(report: MissReport, plot_name: str | None, show_values: bool, limit: int = 50) -> list[str]:
    """The report section: the table, the plot, masked examples."""
    lines = [
        "## What is missed",
        "",
        f"{report.missed} gold entities missed. Miss rate = missed / gold of the group; "
        "the groups of a dimension split every gold entity.",
        "",
        markdown_table(HEADER, rows(report), "llrrr"),
        "",
    ]
    if plot_name:
        lines += [f"![misses]({plot_name})", ""]
    if report.misses:
        masked = "" if show_values else " (values as shapes: 9 digit, a letter, 汉 Han)"
        lines += [
            f"Examples{masked}:",
            "",
            markdown_table(EXAMPLE_HEADER, example_rows(report, show_values, limit)),
            "",
        ]
    return lines


def plot(report: MissReport, path: str | Path) -> Path:
    """Miss rate per group, one panel per dimension, bar labels missed / gold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from eval.scoring.markdown_report import save_png

    fig, axes = plt.subplots(
        len(DIMENSIONS),
        1,
        figsize=(7, 1.1 + 0.32 * sum(len(t) for t in report.totals.values())),
        gridspec_kw={"height_ratios": [max(len(report.totals[d]), 1) for d in DIMENSIONS]},
    )
    for ax, dimension in zip(axes, DIMENSIONS):
        items = list(report.totals[dimension].items())
        names = [group for group, _ in items]
        rates = [missed / gold if gold else 0.0 for _, (gold, missed) in items]
        ax.barh(range(len(items)), rates, color="tab:red")
        ax.set_yticks(range(len(items)), names, fontsize=8)
        ax.invert_yaxis()
        for y, (_, (gold, missed)) in enumerate(items):
            ax.text(0.005, y, f"{missed}/{gold}", va="center", fontsize=7)
        ax.set_xlim(0, max(max(rates, default=0.0) * 1.15, 0.05))
        ax.set_title(dimension, fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=7)
    axes[-1].set_xlabel("miss rate (missed / gold)")
    return save_png(fig, path)
