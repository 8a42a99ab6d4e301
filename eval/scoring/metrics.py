"""Precision, recall, F-beta from counts; micro, macro and per-type summaries."""

from __future__ import annotations

import numpy as np

from eval.scoring.matching import TYPES


def prf(tp: float, fp: float, fn: float) -> dict[str, float]:
    """P, R, F1 and F2 (recall-first) of one set of counts; 0 where undefined."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f_beta(precision, recall, 1.0),
        "f2": f_beta(precision, recall, 2.0),
    }


def f_beta(precision: float, recall: float, beta: float) -> float:
    b2 = beta * beta
    denom = b2 * precision + recall
    return (1 + b2) * precision * recall / denom if denom else 0.0


def summarize(totals: np.ndarray) -> dict[str, dict]:
    """``totals`` is ``(len(ROWS), 3)`` summed tp/fp/fn. Micro sums every row (unknown-type
    predictions are false positives); macro averages the schema types seen in gold or predictions."""
    tp, fp, fn = (int(x) for x in totals.sum(axis=0))
    micro = {**prf(tp, fp, fn), "tp": tp, "fp": fp, "fn": fn}
    per_type: dict[str, dict] = {}
    for index, name in enumerate(TYPES):
        t, f_p, f_n = (int(x) for x in totals[index])
        if t + f_p + f_n:
            per_type[name] = {**prf(t, f_p, f_n), "tp": t, "fp": f_p, "fn": f_n, "support": t + f_n}
    keys = ("precision", "recall", "f1", "f2")
    macro = {k: float(np.mean([row[k] for row in per_type.values()])) if per_type else 0.0 for k in keys}
    macro["types"] = len(per_type)
    return {"micro": micro, "macro": macro, "per_type": per_type}


def micro_f1_batch(totals: np.ndarray) -> dict[str, np.ndarray]:
    """Vectorised micro P/R/F1/F2 and macro F1 for ``(replicates, len(ROWS), 3)`` totals."""
    tp, fp, fn = (totals.sum(axis=1)[:, i] for i in range(3))
    out = _prf_vec(tp, fp, fn)
    seen = totals[:, : len(TYPES)].sum(axis=2) > 0
    typed = _prf_vec(*(totals[:, : len(TYPES), i] for i in range(3)))["f1"]
    out["macro_f1"] = np.where(seen, typed, 0).sum(axis=1) / np.maximum(seen.sum(axis=1), 1)
    return out


def _prf_vec(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> dict[str, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 0.0)
        r = np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1), 0.0)
        f1 = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1), 0.0)
        f2 = np.where(4 * p + r > 0, 5 * p * r / np.where(4 * p + r > 0, 4 * p + r, 1), 0.0)
    return {"precision": p, "recall": r, "f1": f1, "f2": f2}
