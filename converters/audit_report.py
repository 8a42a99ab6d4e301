"""The label audit's Markdown report: counts by kind and type, the surfaces labelled
inconsistently, the first findings with ``file:line``, and the fix reconciled. Values are masked
unless asked (:func:`piifactory.masking.mask`)."""

from __future__ import annotations

import heapq

from converters.audit import KINDS, AuditResult, describe_state
from piifactory.masking import mask
from piifactory.tables import markdown_table

TOP = 10


def _surface_rows(result: AuditResult, show_values: bool) -> tuple[list[list[object]], list[list[object]]]:
    items = result.surfaces.items()
    elsewhere = heapq.nlargest(TOP, ((s.unlabelled_in, v) for v, s in items if s.unlabelled_in))
    mixed = heapq.nlargest(TOP, ((sum(s.labels().values()), v) for v, s in items if s.mixed))
    return (
        [
            [mask(v, show_values), result.surfaces[v].describe(), result.surfaces[v].labelled_in, n]
            for n, v in elsewhere
        ],
        [[mask(v, show_values), result.surfaces[v].describe()] for _, v in mixed],
    )


def render(result: AuditResult, inputs: list[str], label_map: str, show_values: bool = False) -> str:
    """The whole report as Markdown."""
    lines = [
        f"# Label audit of {', '.join(inputs)}",
        "",
        f"label map: {label_map}; values {'shown' if show_values else 'masked'}; {describe_state(result)}.",
        "",
        f"read {result.read} = PII records {result.samples} + chat rows {result.chats} + rejected {result.rejected}",
    ]
    if result.dropped_labels:
        lines.append(
            "spans dropped on purpose by the label map (no gap is reported inside one): "
            + ", ".join(f"{label} {n}" for label, n in result.dropped_labels.most_common())
        )
    if result.reject_reasons:
        lines += ["", "Rejected records (see `python -m converters convert --skip-invalid` for the records):", ""]
        lines += [f"- {n} x {reason}" for reason, n in result.reject_reasons.most_common()]
    lines += ["", "## Findings by kind", ""]
    lines.append(
        markdown_table(
            ["kind", "findings", "records", "what it means"],
            [[k, result.findings[k], result.records_with[k], what] for k, what in KINDS.items()],
            align="lrrl",
        )
    )
    lines += ["", "## Per type", "", "Labelled spans by type and the findings of each kind on that type.", ""]
    all_types = sorted(set(result.types) | set(result.findings_by_type))
    rows = [[t, result.types[t], *(result.findings_by_type.get(t, {}).get(k, 0) for k in KINDS)] for t in all_types]
    rows.append(["all", sum(result.types.values()), *(result.findings[k] for k in KINDS)])
    lines.append(markdown_table(["type", "labelled", *KINDS], rows, align="l" + "r" * (len(KINDS) + 1)))
    elsewhere, mixed = _surface_rows(result, show_values)
    if elsewhere:
        lines += ["", f"## Surfaces labelled in some records and not in others (top {TOP})", ""]
        lines.append(
            markdown_table(
                ["surface", "labelled as", "records labelling it", "records leaving it unlabelled"],
                elsewhere,
                align="llrr",
            )
        )
    if mixed:
        lines += ["", f"## Surfaces under two or more types (top {TOP})", ""]
        lines.append(markdown_table(["surface", "labelled as"], mixed))
    if result.examples:
        lines += ["", f"## First {len(result.examples)} findings (all of them in the findings JSONL)", ""]
        lines.append(
            markdown_table(
                ["where", "kind", "type", "value", "span", "detail"],
                [
                    [
                        f"{f.path}:{f.line}",
                        f.kind,
                        f.type,
                        mask(f.value, show_values),
                        f"[{f.start}, {f.end})",
                        f.detail,
                    ]
                    for f in result.examples
                ],
            )
        )
    if result.reread is not None:
        lines += [
            "",
            "## Fix: unlabelled repeats labelled",
            "",
            f"{result.fixed_records} records written in the users' format (rejected records and chat rows are not in it); the copy read back "
            + (
                "holds gold plus what was added, type by type."
                if result.reconciled
                else "DOES NOT hold gold plus what was added."
            ),
            "",
        ]
        fixed_types = sorted(set(result.types) | set(result.added) | set(result.reread))
        lines.append(
            markdown_table(
                ["type", "gold", "added", "gold + added", "read back"],
                [
                    [t, result.types[t], result.added[t], result.types[t] + result.added[t], result.reread[t]]
                    for t in fixed_types
                ],
                align="lrrrr",
            )
        )
    return "\n".join(lines) + "\n"
