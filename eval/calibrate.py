"""Calibrate the recall dial on validation (a precision/recall curve from one biased pass) and
write the operating point that `predict --operating-point` reads.

The recall dial's calibration: one over-generating pass on the validation split
(``eval.predict --recall-bias B``, run here when a recipe is given; a finished file is reused),
then thresholds on the entity scores sweep the whole precision/recall curve without generating
again. Picks the operating point for a target (``--target-recall``, ``--target-precision``, or the
best F1 / F2), per type with ``--per-type``, plots the curve (overall and per type) with the chosen
point, and writes the point to ``--out`` for ``eval.predict --operating-point`` and the training
metric (``pii_factory.entity_metrics.operating_point``).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.decoding.dial import OperatingPoint, apply_point, write_point
from eval.inputs import load_generated
from eval.scoring.matching import entity_key
from eval.scoring.metrics import f_beta, prf
from eval.scoring.scorer import score_generations
from piifactory.command_line import command_parser
from piifactory.errors import PiiFactoryError
from piifactory.io import InputError, iter_jsonl
from piifactory.schema import PII_TYPES, Entity


@dataclass(frozen=True)
class Candidates:
    """Every entity the biased pass wrote: its type, score, and whether keeping it makes a true
    positive (the multiset matching of :mod:`eval.scoring.matching`: of the predictions with one match key,
    the best-scored ones take the gold mentions), plus the gold count per type."""

    types: np.ndarray  # index into PII_TYPES
    scores: np.ndarray
    correct: np.ndarray
    gold: np.ndarray  # per PII_TYPES index
    bias: float


def read_candidates(path: str | Path) -> tuple[Candidates, list[str], list, list[str], list[list[dict]]]:
    """(candidates, texts, gold, raw answers, scores) of an ``eval.predict`` file written with
    structure-safe decoding."""
    samples = load_generated(path)
    answers, scores, biases = [], [], set()
    for line, row in iter_jsonl(path):
        if not isinstance(row.get("scores"), list):
            raise InputError(
                path,
                line,
                "no entity scores: predict with structure-safe decoding (--values copy) "
                "and a recall bias, e.g. --recall-bias 4",
            )
        answers.append(row.get("raw_predict", row["predict"]))
        scores.append(row["scores"])
        biases.add(float(row.get("recall_bias", 0.0)))
    if len(biases) > 1:
        raise InputError(path, None, f"rows were predicted with different recall biases {sorted(biases)}")
    index = {name: i for i, name in enumerate(PII_TYPES)}
    types, values, correct = [], [], []
    gold_counts = np.zeros(len(PII_TYPES), dtype=np.int64)
    for gold, row_scores in zip(samples.gold, scores):
        wanted: dict[tuple[str, str], int] = defaultdict(int)
        for entity in gold:
            wanted[(entity.type, entity_key(entity))] += 1
            gold_counts[index[entity.type]] += 1
        groups: dict[tuple[str, str], list[float]] = defaultdict(list)
        for item in row_scores:
            if not str(item["value"]).strip():
                continue  # the scorer counts a blank value as an invalid item, neither right nor wrong
            entity = Entity(item["type"], item["value"])
            groups[(entity.type, entity_key(entity))].append(float(item["score"]))
        for key, group in groups.items():
            for rank, score in enumerate(sorted(group, reverse=True)):
                types.append(index[key[0]])
                values.append(score)
                correct.append(rank < wanted.get(key, 0))
    candidates = Candidates(
        np.array(types, dtype=np.int64),
        np.array(values),
        np.array(correct, dtype=bool),
        gold_counts,
        biases.pop() if biases else 0.0,
    )
    return candidates, samples.texts, samples.gold, answers, scores


def totals(c: Candidates, point: OperatingPoint) -> tuple[int, int, int]:
    """(tp, fp, fn) of the entities the point keeps: what the scorer counts on the filtered answers."""
    thresholds = np.array([point.threshold(name) for name in PII_TYPES])
    kept = c.scores >= thresholds[c.types]
    tp = int((kept & c.correct).sum())
    return tp, int(kept.sum()) - tp, int(c.gold.sum()) - tp


def curve(c: Candidates, type_index: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, precision, recall) for one threshold over all (or one type's) entities, from
    the highest score down; the last point keeps everything."""
    select = np.ones(len(c.scores), dtype=bool) if type_index is None else c.types == type_index
    scores, correct = c.scores[select], c.correct[select]
    gold = c.gold.sum() if type_index is None else c.gold[type_index]
    order = np.argsort(-scores, kind="stable")
    scores, correct = scores[order], correct[order]
    last = np.r_[scores[1:] != scores[:-1], True] if len(scores) else np.array([], dtype=bool)  # ties go together
    tp = np.cumsum(correct)[last]
    kept = np.arange(1, len(scores) + 1)[last]
    precision = np.where(kept > 0, tp / np.maximum(kept, 1), 1.0)
    recall = tp / gold if gold else np.zeros_like(precision, dtype=float)
    return scores[last], precision, recall


def _metric(tp: int, fp: int, fn: int, objective: str, target: float | None) -> float:
    m = prf(tp, fp, fn)
    if objective == "recall":  # best precision with recall at or above the target
        return m["precision"] + (m["recall"] * 1e-6) if m["recall"] >= target else -1.0 + m["recall"]  # type: ignore[operator]
    if objective == "precision":  # best recall with precision at or above the target
        return m["recall"] + (m["precision"] * 1e-6) if m["precision"] >= target else -1.0 + m["precision"]  # type: ignore[operator]
    return f_beta(m["precision"], m["recall"], 2.0 if objective == "f2" else 1.0)


def choose(c: Candidates, objective: str, target: float | None = None, per_type: bool = False) -> OperatingPoint:
    """The point that does best on ``objective`` (``recall`` / ``precision`` with a ``target``,
    ``f1`` or ``f2``): one threshold, or with ``per_type`` one per type by coordinate ascent on
    the micro objective (types without gold in the split keep the overall threshold)."""
    grid = np.unique(np.r_[0.0, c.scores])

    def value(point: OperatingPoint) -> float:
        return _metric(*totals(c, point), objective, target)

    best = max((OperatingPoint(c.bias, float(s)) for s in grid), key=value)
    if not per_type:
        return best
    thresholds = dict.fromkeys(PII_TYPES, best.min_score)
    for _ in range(3):  # coordinate ascent; converges in one or two rounds
        changed = False
        for i, name in enumerate(PII_TYPES):
            if not c.gold[i] and not (c.types == i).any():
                continue
            options = np.unique(np.r_[0.0, c.scores[c.types == i], 1.01])
            current = value(OperatingPoint(c.bias, best.min_score, dict(thresholds)))
            pick = max(
                options, key=lambda s: value(OperatingPoint(c.bias, best.min_score, {**thresholds, name: float(s)}))
            )
            if value(OperatingPoint(c.bias, best.min_score, {**thresholds, name: float(pick)})) > current + 1e-12:
                thresholds[name], changed = float(pick), True
        if not changed:
            break
    return OperatingPoint(c.bias, best.min_score, {k: v for k, v in thresholds.items() if v != best.min_score})


def recall_at_precision(c: Candidates, floor: float) -> tuple[float, float]:
    """(best recall with precision >= floor, its threshold) on the one-threshold curve; (0, 1) if none."""
    thresholds, precision, recall = curve(c)
    ok = precision >= floor
    if not ok.any():
        return 0.0, 1.0
    best = int(np.argmax(np.where(ok, recall, -1)))
    return float(recall[best]), float(thresholds[best])


def plot(c: Candidates, point: OperatingPoint, chosen: dict, path: str | Path, title: str) -> Path:
    """The P/R curve of one threshold (overall, bold) and per type (thin), with the chosen point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from eval.scoring.markdown_report import save_png

    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    for i, name in enumerate(PII_TYPES):
        if c.gold[i]:
            _, precision, recall = curve(c, i)
            ax.plot(recall, precision, lw=0.9, alpha=0.7, label=name)
    _, precision, recall = curve(c)
    ax.plot(recall, precision, color="black", lw=2.4, label="all types")
    ax.plot([chosen["recall"]], [chosen["precision"]], "r*", markersize=16, label=f"chosen: {_describe(point)}")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(min(0.5, float(recall.min(initial=1.0))) - 0.02, 1.01)
    ax.set_ylim(min(0.5, float(precision.min(initial=1.0))) - 0.02, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left", ncol=2)
    ax.set_title(title, fontsize=10)
    return save_png(fig, path)


def _describe(point: OperatingPoint) -> str:
    extra = "".join(f", {k}>={v:.2f}" for k, v in sorted(point.per_type.items()))
    return f"bias {point.recall_bias:g}, score>={point.min_score:.3f}{extra}"


def calibrate(
    predictions: Path, objective: str, target: float | None, per_type: bool, out: Path, plot_path: Path | None
) -> dict:
    """Sweep, choose, check with the scorer, write the point (and the plot); returns the summary."""
    c, texts, gold, answers, scores = read_candidates(predictions)
    point = choose(c, objective, target, per_type)
    served = [apply_point(answer, row, point, text) for answer, row, text in zip(answers, scores, texts)]
    chosen = score_generations(texts, list(gold), served)["micro"]  # the scorer itself, not the sweep
    everything = score_generations(texts, list(gold), answers)["micro"]
    at_95 = recall_at_precision(c, 0.95)
    summary = {
        "chosen_by": f"{objective}"
        + (f" >= {target}" if target is not None else "")
        + (", per type" if per_type else ""),
        "validation": {k: round(chosen[k], 4) for k in ("precision", "recall", "f1", "f2")},
        "all_entities": {k: round(everything[k], 4) for k in ("precision", "recall", "f1", "f2")},
        "recall_at_precision_0.95": round(at_95[0], 4),
        "predictions": str(predictions),
    }
    write_point(out, point, **summary)
    if plot_path is not None:
        plot(c, point, chosen, plot_path, f"{predictions.name}: one pass, bias {c.bias:g}; {summary['chosen_by']}")
    return {**summary, "point": point}


def main(argv: list[str] | None = None) -> int:
    parser = command_parser(
        __name__,
        __doc__,
        "llamafactory_configs/qwen4b_lora.yaml adapter_name_or_path=saves/qwen3-4b/pii --dataset pii_val "
        "--predictions val_biased.jsonl --target-recall 0.95 --out op.json",
    )
    parser.add_argument(
        "recipe", nargs="?", help="training recipe: predict the split first (else --predictions must exist)"
    )
    parser.add_argument("overrides", nargs="*", help="key=value overrides for the recipe")
    parser.add_argument(
        "--predictions", required=True, type=Path, help="the biased pass (written here with a recipe; resumes)"
    )
    parser.add_argument("--dataset", help="the validation split (default: the recipe's eval_dataset)")
    parser.add_argument("--recall-bias", type=float, default=4.0, help="bias of the over-generating pass")
    parser.add_argument("--batch-size", type=int, default=8, help="prompts generated together")
    parser.add_argument("--max-new-tokens", type=int, default=512, help="answer length limit")
    goal = parser.add_mutually_exclusive_group()
    goal.add_argument("--target-recall", type=float, help="best precision with at least this recall")
    goal.add_argument("--target-precision", type=float, help="best recall with at least this precision")
    goal.add_argument("--best", choices=("f1", "f2"), help="best F1 (default) or F2")
    parser.add_argument(
        "--per-type", action="store_true", help="one threshold per type (needs a large validation split)"
    )
    parser.add_argument("--out", required=True, type=Path, help="operating point JSON")
    parser.add_argument("--plot", type=Path, help="P/R curve PNG (default: next to --out)")
    ns = parser.parse_args(argv)
    objective, target = (
        ("recall", ns.target_recall)
        if ns.target_recall is not None
        else (("precision", ns.target_precision) if ns.target_precision is not None else (ns.best or "f1", None))
    )
    try:
        if ns.recipe is not None:
            from eval import predict
            from eval.inference_args import load_recipe

            predict.run(
                load_recipe(ns.recipe, ns.overrides),
                ns.predictions,
                dataset=ns.dataset,
                batch_size=ns.batch_size,
                max_new_tokens=ns.max_new_tokens,
                point=OperatingPoint(recall_bias=ns.recall_bias),
            )
        result = calibrate(
            ns.predictions, objective, target, ns.per_type, ns.out, ns.plot or ns.out.with_suffix(".png")
        )
    except (PiiFactoryError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    v = result["validation"]
    print(
        f"{_describe(result['point'])}: P {v['precision']:.3f}  R {v['recall']:.3f}  F1 {v['f1']:.3f}  F2 {v['f2']:.3f} "
        f"({result['chosen_by']}); recall at precision >= 0.95: {result['recall_at_precision_0.95']:.3f}; "
        f"written to {ns.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
