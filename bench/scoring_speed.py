"""``eval.scoring.scorer`` on synthetic predictions, and its span counting against nervaluate.

Gold comes from ``piifactory.synth``; predictions are the gold answer perturbed the ways a model
gets it wrong (a dropped entity, a swapped type, an invented value, a cut-off answer, a think
block, prose around a code fence, no JSON at all), so every branch of the extraction is on the clock.
"""

from __future__ import annotations

import json
import random

from bench.common import Row, best_of, scaled, timed
from eval.scoring import spans
from eval.scoring.scorer import score_generations
from piifactory.answer import extract
from piifactory.schema import PII_TYPES, Entity, Sample
from piifactory.synth import generate

FULL_LINES = 100_000
_TYPES = tuple(PII_TYPES)


def _answer(entities: list[Entity]) -> str:
    return json.dumps({"entities": [{"type": e.type, "value": e.value} for e in entities]}, ensure_ascii=False)


def perturb(sample: Sample, rng: random.Random) -> str:
    """One plausible model answer for ``sample``."""
    ents = list(sample.entities)
    roll = rng.random()
    if roll < 0.35 or not ents:
        answer = _answer(ents)
    elif roll < 0.50:
        ents.pop(rng.randrange(len(ents)))
        answer = _answer(ents)
    elif roll < 0.62:
        i = rng.randrange(len(ents))
        ents[i] = Entity(rng.choice(_TYPES), ents[i].value)
        answer = _answer(ents)
    elif roll < 0.72:
        piece = sample.text[: rng.randrange(1, 6)]
        answer = _answer([*ents, Entity(rng.choice(_TYPES), rng.choice((piece, "张三丰", "13900000000")))])
    elif roll < 0.82:
        full = _answer(ents)
        answer = full[: rng.randrange(1, len(full))]
    elif roll < 0.92:
        answer = "<think>\n先找姓名，再找号码。\n</think>\n\n" + _answer(ents)
    elif roll < 0.97:
        answer = "答案如下：\n```json\n" + _answer(ents) + "\n```\n以上。"
    else:
        answer = "文本中没有发现个人信息。"
    return answer


def dataset(n: int, seed: int = 0) -> tuple[list[str], list[list[Entity]], list[str]]:
    """``n`` texts, gold entity lists (with offsets) and perturbed predictions."""
    rng = random.Random(seed)
    samples = generate(n, seed=seed)
    return [s.text for s in samples], [list(s.entities) for s in samples], [perturb(s, rng) for s in samples]


def _span_data(texts: list[str], preds: list[str]) -> list[list[spans.Span]]:
    out = []
    for text, raw in zip(texts, preds):
        ex = extract(raw, text)
        out.append(spans.align(text, [*ex.entities, *ex.unknown])[0])
    return out


def _ours(gold: list[list[spans.Span]], pred: list[list[spans.Span]]) -> dict[str, dict[str, int]]:
    totals = {s: dict.fromkeys(spans.CATEGORIES, 0) for s in spans.SCHEMES}
    for g, p in zip(gold, pred):
        for scheme in spans.SCHEMES:
            total = totals[scheme]
            for key, value in spans.evaluate(g, p, scheme).items():
                total[key] += value
    return totals


def _nervaluate(gold: list[list[spans.Span]], pred: list[list[spans.Span]]) -> dict[str, dict[str, int]]:
    from nervaluate import Evaluator

    as_dicts = lambda docs: [[{"label": t, "start": s, "end": e - 1} for t, s, e in d] for d in docs]  # inclusive end
    result = Evaluator(as_dicts(gold), as_dicts(pred), tags=list(_TYPES), loader="dict").evaluate()["overall"]
    return {s: {c: getattr(result[s], c) for c in spans.CATEGORIES} for s in spans.SCHEMES}


def run(scale: float) -> list[Row]:
    n = scaled(FULL_LINES, scale, 200)
    texts, gold, preds = dataset(n)
    _, seconds = timed(lambda: score_generations(texts, gold, preds))
    rows = [Row("scorer", "score_generations", n / seconds, "lines/s", f"{n} lines, span schemes on, no bootstrap")]
    gold_spans = [[(e.type, e.start, e.end) for e in g] for g in gold]
    pred_spans = _span_data(texts, preds)
    ours, t_ours = best_of(3, lambda: _ours(gold_spans, pred_spans))
    theirs, t_theirs = best_of(3, lambda: _nervaluate(gold_spans, pred_spans))
    if ours != theirs:
        raise AssertionError(f"span counts differ from nervaluate: ours {ours}, nervaluate {theirs}")
    rows.append(
        Row(
            "scorer",
            "span counting vs nervaluate",
            t_theirs / t_ours,
            "x faster",
            f"{n} documents, 4 schemes, identical counts (best of 3 each: ours {t_ours:.2f} s, nervaluate {t_theirs:.2f} s)",
        )
    )
    return rows
