"""``python -m eval.compare A B [--gold GOLD]``: paired-bootstrap deltas (B - A) between two runs
on the same gold. The same seed gives both runs the same resampled samples."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from eval.bootstrap import interval
from eval.inputs import Samples, load
from eval.matching import entity_key
from eval.scoring import bootstrap_stats, report_dict, score_samples
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
        out[metric] = {"a": point_a[metric], "b": point_b[metric], "delta": point_b[metric] - point_a[metric], "ci": interval(delta), "p_value": min(1.0, p)}
    return {"replicates": replicates, "seed": seed, "samples": len(a.gold), "deltas": out}


def _points(result: dict) -> dict[str, float]:
    micro = result["micro"]
    return {**{k: micro[k] for k in ("f1", "precision", "recall", "f2")}, "macro_f1": result["macro"]["f1"], "any_pii_f1": result["any_pii"]["f1"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--gold", help="gold file when A and B are bare prediction files")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
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
        print(f"{metric:>11}  A {100 * d['a']:5.1f}  B {100 * d['b']:5.1f}  delta {100 * d['delta']:+5.1f}  "
              f"95% CI [{100 * d['ci'][0]:+.1f}, {100 * d['ci'][1]:+.1f}]  p {d['p_value']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
