"""``--report report.md``: the tables, failure counts, a masked error list and PNG plots
(per-type P/R/F1 and the type confusion), written next to the Markdown file."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from eval.scoring.matching import MISSED, SPURIOUS
from eval.scoring.score_tables import HEADER, metric_rows
from piifactory.io import atomic_open, atomic_write_text
from piifactory.tables import markdown_table


def save_png(fig, path: str | Path) -> Path:
    """Lay out, write atomically and close a matplotlib figure (every plot of the pack)."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)
    return Path(path)


def _plot_per_type(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(result["per_type"]) or ["(none)"]
    fig, ax = plt.subplots(figsize=(max(6, len(names) * 0.9), 4))
    x = np.arange(len(names))
    for offset, key in zip((-0.27, 0, 0.27), ("precision", "recall", "f1")):
        ax.bar(x + offset, [result["per_type"].get(n, {}).get(key, 0) for n in names], 0.27, label=key)
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title("per-type precision / recall / F1")
    save_png(fig, path)


def _plot_confusion(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    gold = sorted({c["gold"] for c in result["confusion"]} - {SPURIOUS}) + [SPURIOUS]
    pred = sorted({c["predicted"] for c in result["confusion"]} - {MISSED}) + [MISSED]
    grid = np.zeros((len(gold), len(pred)))
    for cell in result["confusion"]:
        grid[gold.index(cell["gold"]), pred.index(cell["predicted"])] = cell["count"]
    fig, ax = plt.subplots(figsize=(max(5, len(pred) * 0.8), max(4, len(gold) * 0.6)))
    ax.imshow(grid, cmap="Blues")
    ax.set_xticks(range(len(pred)), pred, rotation=45, ha="right")
    ax.set_yticks(range(len(gold)), gold)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    for (i, j), v in np.ndenumerate(grid):
        if v:
            ax.text(j, i, str(int(v)), ha="center", va="center", fontsize=8)
    save_png(fig, path)


def write_report(result: dict, errors: list[list[str]], path: str | Path, sections: Sequence[str] = ()) -> list[Path]:
    """Write the Markdown report and its plots, with ``sections`` (Markdown lines, e.g. the
    misses analysis) before the error list; returns the files written."""
    path = Path(path)
    per_type_png = path.with_name(path.stem + "_per_type.png")
    confusion_png = path.with_name(path.stem + "_confusion.png")
    _plot_per_type(result, per_type_png)
    _plot_confusion(result, confusion_png)
    f = result["failures"]
    lines = ["# PII extraction score", "", markdown_table(HEADER, metric_rows(result)), "", "## Failures", ""]
    lines += [markdown_table(["kind", "count"], [[k, str(v)] for k, v in f.items()]), ""]
    if "spans" in result:
        rows = [
            [s, *[str(m[c]) for c in ("correct", "incorrect", "partial", "missed", "spurious")], f"{m['f1']:.3f}"]
            for s, m in result["spans"].items()
        ]
        lines += [
            "## Span schemes (SemEval-2013)",
            "",
            markdown_table(["scheme", "COR", "INC", "PAR", "MIS", "SPU", "F1"], rows),
            "",
        ]
    if result["ci"]:
        ci = result["ci"]
        rows = [
            [f"{group} {k}", f"{lo:.3f}", f"{hi:.3f}"]
            for group in ("micro", "macro", "any_pii")
            for k, (lo, hi) in ci[group].items()
        ]
        lines += [
            f"## 95% bootstrap intervals ({ci['replicates']} resamples, seed {ci['seed']})",
            "",
            markdown_table(["metric", "low", "high"], rows),
            "",
        ]
    lines += ["## Plots", "", f"![per type]({per_type_png.name})", "", f"![confusion]({confusion_png.name})", ""]
    lines += list(sections)
    if errors:
        lines += [
            "## Errors (values masked unless --show-values)",
            "",
            markdown_table(["sample", "kind", "type", "value"], errors),
            "",
        ]
    atomic_write_text(path, "\n".join(lines))
    return [path, per_type_png, confusion_png]
