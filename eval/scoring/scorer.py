"""The scorer as a library: ``score_generations`` is what ``python -m eval.score --json`` prints
and what the training plugin calls. One implementation, no second opinion anywhere else."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from eval.scoring import spans
from eval.scoring.bootstrap import interval, resampled_totals
from eval.scoring.matching import ROWS, match_sample
from eval.scoring.metrics import micro_f1_batch, prf, summarize
from piifactory.answer import Extraction, GoldError, extract, parse_gold
from piifactory.schema import Entity

FAILURE_KINDS = ("parse_failures", "truncated", "empty_outputs", "invalid_items", "hallucinations", "unknown_types")


@dataclass
class Scored:
    """Per-sample counts kept for the bootstrap, comparison and error lists."""

    counts: np.ndarray  # (samples, len(ROWS), 3): tp, fp, fn
    any_counts: np.ndarray  # (samples, 3)
    confusion: Counter[tuple[str, str]]
    failures: dict[str, int]
    span_counts: dict[str, dict[str, int]] | None
    extractions: list[Extraction] = field(repr=False)
    gold: list[tuple[Entity, ...]] = field(repr=False)


def _gold_entities(item: str | Sequence[Entity], index: int) -> tuple[Entity, ...]:
    if isinstance(item, str):
        try:
            return parse_gold(item)
        except ValueError as exc:
            raise GoldError(f"gold item {index}: {exc}") from None
    return tuple(item)


def score_samples(texts: Sequence[str], gold: Sequence[str | Sequence[Entity]], predictions: Sequence[str]) -> Scored:
    """Extract, match and count every sample (span schemes too when every gold entity has offsets)."""
    if not len(texts) == len(gold) == len(predictions):
        raise ValueError(f"length mismatch: {len(texts)} texts, {len(gold)} gold, {len(predictions)} predictions")
    n = len(texts)
    flats: list[list[int]] = []
    anys: list[tuple[int, int, int]] = []
    confusion: Counter[tuple[str, str]] = Counter()
    failures = dict.fromkeys(FAILURE_KINDS, 0)
    golds = [_gold_entities(item, i) for i, item in enumerate(gold)]
    with_spans = any(golds) and all(e.has_span for g in golds for e in g)
    span_counts = {s: dict.fromkeys(spans.CATEGORIES, 0) for s in spans.SCHEMES} if with_spans else None
    extractions: list[Extraction] = []
    for text, gold_i, raw in zip(texts, golds, predictions):
        ex = extract(raw, text)
        extractions.append(ex)
        flat, any_i, conf = match_sample(gold_i, ex.entities, ex.unknown)
        flats.append(flat)
        anys.append(any_i)
        confusion.update(conf)
        failures["parse_failures"] += ex.parse_failure
        failures["truncated"] += ex.truncated
        failures["empty_outputs"] += ex.empty_output
        failures["invalid_items"] += ex.invalid_items
        failures["hallucinations"] += ex.hallucinations
        failures["unknown_types"] += len(ex.unknown)
        if span_counts is not None:
            _add_spans(span_counts, text, gold_i, ex)
    counts = np.array(flats, dtype=np.int32).reshape(n, len(ROWS), 3)
    any_counts = np.array(anys, dtype=np.int32).reshape(n, 3)
    return Scored(counts, any_counts, confusion, failures, span_counts, extractions, golds)


def _add_spans(totals: dict[str, dict[str, int]], text: str, gold: Sequence[Entity], ex: Extraction) -> None:
    gold_spans = [(e.type, e.start, e.end) for e in gold]
    pred_spans, unplaced = spans.align(text, [*ex.entities, *ex.unknown])
    for scheme in spans.SCHEMES:
        for key, value in spans.evaluate(gold_spans, pred_spans, scheme).items():
            totals[scheme][key] += value
        totals[scheme]["spurious"] += unplaced


def report_dict(scored: Scored, *, bootstrap: int = 0, seed: int = 0) -> dict:
    """The JSON result: stable keys micro, macro, per_type, failures, ci (plus any_pii,
    confusion, spans and samples)."""
    n = scored.counts.shape[0]
    result = summarize(scored.counts.sum(axis=0))
    tp, fp, fn = (int(x) for x in scored.any_counts.sum(axis=0))
    result["any_pii"] = {**prf(tp, fp, fn), "tp": tp, "fp": fp, "fn": fn}
    failures: dict[str, float | int] = {"samples": n, **scored.failures}
    failures["parse_failure_rate"] = scored.failures["parse_failures"] / n if n else 0.0
    result["failures"] = failures
    result["confusion"] = [{"gold": g, "predicted": p, "count": c} for (g, p), c in sorted(scored.confusion.items())]
    if scored.span_counts is not None:
        result["spans"] = {s: spans.metrics(c, s) for s, c in scored.span_counts.items()}
    result["ci"] = confidence_intervals(scored, bootstrap, seed) if bootstrap > 0 and n else {}
    return result


def bootstrap_stats(scored: Scored, replicates: int, seed: int) -> dict[str, np.ndarray]:
    """Replicate values of micro P/R/F1/F2, macro F1 and any-PII F1 (same seed, same resamples)."""
    joined = np.concatenate([scored.counts, scored.any_counts[:, None, :]], axis=1)
    parts = [
        micro_f1_batch(t[:, :-1, :]) | {"any_pii_f1": _f1(t[:, -1, :])}
        for t in resampled_totals(joined, replicates, seed)
    ]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _f1(totals: np.ndarray) -> np.ndarray:
    tp, fp, fn = totals[:, 0], totals[:, 1], totals[:, 2]
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def confidence_intervals(scored: Scored, replicates: int, seed: int) -> dict:
    stats = bootstrap_stats(scored, replicates, seed)
    return {
        "level": 0.95,
        "replicates": replicates,
        "seed": seed,
        "micro": {k: interval(stats[k]) for k in ("precision", "recall", "f1", "f2")},
        "macro": {"f1": interval(stats["macro_f1"])},
        "any_pii": {"f1": interval(stats["any_pii_f1"])},
    }


def score_generations(
    texts: Sequence[str],
    gold: Sequence[str | Sequence[Entity]],
    predictions: Sequence[str],
    *,
    bootstrap: int = 0,
    seed: int = 0,
) -> dict:
    """Score raw model answers against gold (target strings or entity lists); see report_dict."""
    return report_dict(score_samples(texts, gold, predictions), bootstrap=bootstrap, seed=seed)
