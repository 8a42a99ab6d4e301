"""Paired-bootstrap differences (B - A) between two runs on the same gold: the same seed gives
both runs the same resampled samples."""

from __future__ import annotations

import json
import sys

import numpy as np

from eval.inputs import Samples, load
from eval.scoring.bootstrap import interval
from eval.scoring.matching import entity_key
from eval.scoring.scorer import bootstrap_stats, report_dict, score_samples
from piifactory.command_line import command_parser
from piifactory.errors import PiiFactoryError, UsageError

METRICS = ("f1", "precision", "recall", "f2", "macro_f1", "any_pii_f1")


def _gold_signature(samples: Samples) -> list[list[tuple[str, str]]]:
    return [sorted((e.type, entity_key(e)) for e in g) for g in samples.gold]


def compare(a: Samples, b: Samples, *, replicates: int = 1000, seed: int = 0) -> dict:
    """Point deltas, 95% intervals and a two-sided bootstrap p-value per metric."""
    if len(a.gold) != len(b.gold) or _gold_signature(a) != _gold_signature(b):
        raise UsageError("the two runs are not scored on the same gold (sample count or entities differ)")
    scored_a, scored_b = score_samples(a.texts, a.gold, a.predictions), score_samples(b.texts, b.gold, b.predictions)
    stats_a, stats_b = bootstrap_stats(scored_a, replicates, seed), bootstrap_stats(scored_b, replicates, seed)
    point_a, point_b = _points(report_dict(scored_a)), _points(report_dict(scored_b))
    out = {}
    for metric in METRICS:
        delta = stats_b[metric] - stats_a[metric]
        p = 2 * min(float(np.mean(delta <= 0)), float(np.mean(delta >= 0)))
        point, ci = point_b[metric] - point_a[metric], interval(delta)
        out[metric] = {
            "a": point_a[metric],
            "b": point_b[metric],
            "delta": point,
            "ci": ci,
            "p_value": min(1.0, p),
            "separated": ci[0] > 0 or ci[1] < 0,
            "samples_needed": samples_to_separate(point, ci, len(a.gold)),
        }
    return {"replicates": replicates, "seed": seed, "samples": len(a.gold), "deltas": out}


def samples_to_separate(delta: float, ci: list[float], samples: int) -> int | None:
    """About how many samples would make a 95% interval this wide exclude 0 for a difference this
    large: the interval narrows as 1/sqrt(n), so n * (half-width / |delta|)^2. None when the
    observed difference is 0 (no size would show it); ``samples`` when it is already separated."""
    half_width = (ci[1] - ci[0]) / 2
    if ci[0] > 0 or ci[1] < 0:
        return samples
    if delta == 0 or half_width == 0:
        return None
    return int(np.ceil(samples * (half_width / abs(delta)) ** 2))


def _points(result: dict) -> dict[str, float]:
    micro = result["micro"]
    return {
        **{k: micro[k] for k in ("f1", "precision", "recall", "f2")},
        "macro_f1": result["macro"]["f1"],
        "any_pii_f1": result["any_pii"]["f1"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = command_parser(__name__, __doc__, "runA/preds.jsonl runB/preds.jsonl")
    parser.add_argument("a", help="run A: generated_predictions.jsonl, or predictions with --gold")
    parser.add_argument("b", help="run B, on the same gold samples as A")
    parser.add_argument("--gold", help="gold file when A and B are bare prediction files")
    parser.add_argument("--bootstrap", type=int, default=1000, help="paired bootstrap resamples")
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed of the bootstrap (the same samples for A and B)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    ns = parser.parse_args(argv)
    try:
        result = compare(load(ns.a, ns.gold), load(ns.b, ns.gold), replicates=ns.bootstrap, seed=ns.seed)
    except (PiiFactoryError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if ns.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"B - A over {result['samples']} samples, {result['replicates']} paired resamples (seed {result['seed']})")
    for metric, d in result["deltas"].items():
        print(
            f"{metric:>11}  A {100 * d['a']:5.1f}  B {100 * d['b']:5.1f}  delta {100 * d['delta']:+5.1f}  "
            f"95% CI [{100 * d['ci'][0]:+.1f}, {100 * d['ci'][1]:+.1f}]  p {d['p_value']:.3f}  {_verdict(d, result['samples'])}"
        )
    return 0


def _verdict(d: dict, samples: int) -> str:
    """Whether this split tells A and B apart on the metric, and if not, about what would."""
    if d["separated"]:
        return "separated"
    if d["samples_needed"] is None:
        return "no difference seen"
    return f"not separated: ~{d['samples_needed']} samples needed"


if __name__ == "__main__":
    sys.exit(main())
