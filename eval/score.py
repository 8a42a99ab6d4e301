"""Score predictions against gold: span-level precision, recall and F1 per type and overall,
with bootstrap intervals, a Markdown report and where recall goes.

Scores a ``generated_predictions.jsonl`` (label vs predict), or a gold file against a
predictions file. Uses :func:`eval.scoring.scorer.score_generations`'s implementation, nothing else.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from eval.inputs import load
from eval.scoring import misses
from eval.scoring.markdown_report import write_report
from eval.scoring.matching import MISSED, SPURIOUS, unmatched
from eval.scoring.score_tables import terminal_report
from eval.scoring.scorer import Scored, report_dict, score_samples
from piifactory.command_line import command_parser
from piifactory.errors import PiiFactoryError
from piifactory.masking import mask


def error_rows(scored: Scored, show_values: bool, limit: int) -> list[list[str]]:
    """Per-sample problems: failures, misses and false positives (values masked by default),
    matched as scoring matches them."""
    rows: list[list[str]] = []
    for index, (ex, gold) in enumerate(zip(scored.extractions, scored.gold)):
        for flag in ("parse_failure", "truncated", "empty_output"):
            if getattr(ex, flag):
                rows.append([str(index), flag, "", ""])
        rows += [[str(index), MISSED, e.type, mask(e.value, show_values)] for e in unmatched(gold, ex.entities)]
        rows += [[str(index), SPURIOUS, e.type, mask(e.value, show_values)] for e in unmatched(ex.entities, gold)]
        rows += [[str(index), "unknown type", e.type, mask(e.value, show_values)] for e in ex.unknown]
        if len(rows) >= limit:
            break
    return rows[:limit]


def main(argv: list[str] | None = None) -> int:
    parser = command_parser(__name__, __doc__, "preds.jsonl --report report/score.md --misses")
    parser.add_argument("predictions", help="generated_predictions.jsonl, or predictions with --gold")
    parser.add_argument("--gold", help="gold file (JSONL or JSON array): input + output.entities, joined by id or line")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--report", help="write a Markdown report with PNG plots here")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for 95%% CIs (0: none)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the bootstrap")
    parser.add_argument("--show-values", action="store_true", help="show entity values in error lists (personal data)")
    parser.add_argument("--errors", type=int, default=50, help="error rows in the report")
    parser.add_argument(
        "--misses",
        action="store_true",
        help="print what is missed, grouped by type, value shape, length, position and repeats "
        "(the report always has this section)",
    )
    ns = parser.parse_args(argv)
    try:
        samples = load(ns.predictions, ns.gold)
    except (PiiFactoryError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    scored = score_samples(samples.texts, samples.gold, samples.predictions)
    result = report_dict(scored, bootstrap=ns.bootstrap, seed=ns.seed)
    missed = misses.analyze_misses(scored, samples.texts)
    if ns.report:
        plot = Path(ns.report).with_name(Path(ns.report).stem + "_misses.png")
        misses.plot(missed, plot)
        section = misses.markdown(missed, plot.name, ns.show_values, ns.errors)
        write_report(result, error_rows(scored, ns.show_values, ns.errors), ns.report, section)
    if ns.json:
        if ns.misses:
            result["misses"] = {
                d: {g: {"gold": n, "missed": m} for g, (n, m) in groups.items()} for d, groups in missed.totals.items()
            }
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(terminal_report(result))
        if ns.misses:
            print("\n" + misses.terminal(missed, ns.show_values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
