"""The one writer of tables: Markdown (reports, the demo summary, benchmark results, rule tables)
and aligned plain text (the terminal), so every table of the pack looks the same."""

from __future__ import annotations

from collections.abc import Sequence


def _aligns(align: str | None, width: int) -> str:
    """One character per column: ``l`` (left) or ``r`` (right, for numbers)."""
    align = align or "l" * width
    if len(align) != width or set(align) - {"l", "r"}:
        raise ValueError(f"align {align!r} needs one of 'l'/'r' for each of the {width} columns")
    return align


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    """A GitHub Markdown table; ``align`` as in :func:`_aligns` (right-aligned columns get ``---:``)."""
    marks = ["---:" if a == "r" else "---" for a in _aligns(align, len(header))]
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(marks) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def text_table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    """Columns padded to their widest cell, two spaces apart, a dashed rule under the header."""
    aligns = _aligns(align, len(header))
    body = [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in [list(header), *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(cells, widths, aligns))

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, body)])
