"""Rules alone, model alone and each model + rules policy on the same predictions: precision,
recall and F1 per type in one Markdown table.

    --predictions generated_predictions.jsonl [--gold test.jsonl]   model, rules and hybrids
    --gold test.jsonl                                                 rules alone
    --synthetic 500 --seed 0                                          rules alone, generated data
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Sequence

from eval.inputs import load, load_gold
from eval.scoring.scorer import score_generations
from piifactory.command_line import command_parser, hidden_alias
from piifactory.errors import PiiFactoryError
from piifactory.io import atomic_write_text
from piifactory.rules.hybrid import POLICIES, apply, to_prediction
from piifactory.rules.recognizers.registry import analyze
from piifactory.schema import PII_TYPES, Entity
from piifactory.synth import generate
from piifactory.tables import markdown_table


def systems(texts: Sequence[str], generations: Sequence[str] | None) -> dict[str, list[str]]:
    """Answer strings per system: ``rules``, and with model answers ``model`` and each policy."""
    out = {"rules": [to_prediction(t, analyze(t)) for t in texts]}
    if generations is not None:
        out["model"] = list(generations)
        for policy in POLICIES[1:]:
            out[policy] = [apply(t, g, policy) for t, g in zip(texts, generations)]
    return out


def compare(
    texts: Sequence[str], gold: Sequence[Sequence[Entity]], generations: Sequence[str] | None = None
) -> dict[str, dict]:
    """``score_generations`` result of each system, by system name."""
    return {name: score_generations(texts, gold, answers) for name, answers in systems(texts, generations).items()}


def _cell(m: dict | None) -> str:
    if m is None:
        return "-"
    return f"{100 * m['precision']:.1f} / {100 * m['recall']:.1f} / {100 * m['f1']:.1f}"


def table(results: dict[str, dict], gold: Sequence[Sequence[Entity]]) -> str:
    """One Markdown table: a row per type (and micro), a column per system, cells P / R / F1 (%),
    and a last row of unreadable answers (parse failures + truncated), which score as misses."""
    support = {t: sum(e.type == t for g in gold for e in g) for t in PII_TYPES}
    seen = [t for t in PII_TYPES if support[t] or any(t in r["per_type"] for r in results.values())]
    header = ["type", "gold", *(f"{name} P / R / F1" for name in results)]
    rows = [[t, str(support[t]), *(_cell(r["per_type"].get(t)) for r in results.values())] for t in seen]
    rows.append(["micro", str(sum(support.values())), *(_cell(r["micro"]) for r in results.values())])
    failed = (r["failures"]["parse_failures"] + r["failures"]["truncated"] for r in results.values())
    rows.append(["unreadable answers", str(len(gold)), *(str(n) for n in failed)])
    return markdown_table(header, rows)


def main(argv: list[str] | None = None) -> int:
    parser = command_parser(__name__, __doc__, "--predictions preds.jsonl --out rules_vs_model.md")
    parser.add_argument("--predictions", type=Path, help="generated_predictions.jsonl (predict, label[, id])")
    parser.add_argument("--gold", type=Path, help="gold JSONL in the users' format; joined by id or line")
    parser.add_argument("--samples", type=int, metavar="N", help="score rules alone on N synthetic samples")
    hidden_alias(parser, "--synthetic", "samples", type=int)
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic samples")
    parser.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    parser.add_argument("--out-json", type=Path, help="also write each system's score (micro, per type) as JSON here")
    hidden_alias(parser, "--json", "out_json", type=Path)
    args = parser.parse_args(argv)
    if sum(x is not None for x in (args.predictions, args.gold, args.samples)) == 0 or (
        args.samples is not None and (args.predictions or args.gold)
    ):
        parser.error("give --predictions [--gold], --gold, or --samples N")
    generations = None
    try:
        if args.predictions is not None:
            samples = load(args.predictions, args.gold)
            texts, gold, generations = samples.texts, samples.gold, samples.predictions
        elif args.gold is not None:
            texts, gold = load_gold(args.gold)
        else:
            synthetic = generate(args.samples, seed=args.seed)
            texts, gold = [s.text for s in synthetic], [s.entities for s in synthetic]
    except (PiiFactoryError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results = compare(texts, gold, generations)
    markdown = table(results, gold)
    print(markdown)
    if args.out is not None:
        atomic_write_text(args.out, markdown + "\n")
    if args.out_json is not None:
        atomic_write_text(args.out_json, json.dumps(results, ensure_ascii=False, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
