"""Plain-text rendering of a score dict (terminal and Markdown share the rows)."""

from __future__ import annotations

from piifactory.tables import text_table


def metric_rows(result: dict) -> list[list[str]]:
    """Rows: type, P, R, F1, F2, TP, FP, FN, support; then micro, macro, any PII."""
    rows = []
    for name, m in result["per_type"].items():
        rows.append([name, *_pct(m), str(m["tp"]), str(m["fp"]), str(m["fn"]), str(m["support"])])
    micro, any_pii = result["micro"], result["any_pii"]
    rows.append(
        ["micro", *_pct(micro), str(micro["tp"]), str(micro["fp"]), str(micro["fn"]), str(micro["tp"] + micro["fn"])]
    )
    rows.append(["macro", *_pct(result["macro"]), "", "", "", ""])
    rows.append(
        [
            "any PII",
            *_pct(any_pii),
            str(any_pii["tp"]),
            str(any_pii["fp"]),
            str(any_pii["fn"]),
            str(any_pii["tp"] + any_pii["fn"]),
        ]
    )
    return rows


HEADER = ["type", "P", "R", "F1", "F2", "TP", "FP", "FN", "support"]


def _pct(m: dict) -> list[str]:
    return [f"{100 * m[k]:.1f}" for k in ("precision", "recall", "f1", "f2")]


def terminal_report(result: dict) -> str:
    parts = [text_table(HEADER, metric_rows(result), align="l" + "r" * (len(HEADER) - 1))]
    f = result["failures"]
    parts.append(
        f"samples {f['samples']}  parse failures {f['parse_failures']} ({100 * f['parse_failure_rate']:.1f}%)  "
        f"truncated {f['truncated']}  empty {f['empty_outputs']}  hallucinated values {f['hallucinations']}  "
        f"unknown types {f['unknown_types']}  invalid items {f['invalid_items']}"
    )
    if "spans" in result:
        rows = [
            [
                s,
                *[str(m[c]) for c in ("correct", "incorrect", "partial", "missed", "spurious")],
                f"{100 * m['precision']:.1f}",
                f"{100 * m['recall']:.1f}",
                f"{100 * m['f1']:.1f}",
            ]
            for s, m in result["spans"].items()
        ]
        parts.append(
            text_table(["span scheme", "COR", "INC", "PAR", "MIS", "SPU", "P", "R", "F1"], rows, align="l" + "r" * 8)
        )
    if result["ci"]:
        ci = result["ci"]
        parts.append(
            f"95% bootstrap CI ({ci['replicates']} resamples, seed {ci['seed']}): micro F1 "
            f"[{100 * ci['micro']['f1'][0]:.1f}, {100 * ci['micro']['f1'][1]:.1f}]  macro F1 "
            f"[{100 * ci['macro']['f1'][0]:.1f}, {100 * ci['macro']['f1'][1]:.1f}]"
        )
    return "\n\n".join(parts)
