import random

from nervaluate import Evaluator

from eval.scoring import spans
from eval.scoring.scorer import score_generations
from piifactory.answer import target_text
from piifactory.schema import Entity
from piifactory.synth import generate

LABELS = ["PERSON", "PHONE", "ORG"]


def _random_spans(rng: random.Random, n: int) -> list[tuple[str, int, int]]:
    out = []
    for _ in range(n):
        start = rng.randrange(0, 40)
        out.append((rng.choice(LABELS), start, start + rng.randrange(1, 8)))
    return out


def test_counts_agree_with_nervaluate_on_random_spans() -> None:
    rng = random.Random(7)
    docs_true, docs_pred = [], []
    for _ in range(300):
        docs_true.append(_random_spans(rng, rng.randrange(0, 5)))
        docs_pred.append(_random_spans(rng, rng.randrange(0, 5)))
    as_dicts = lambda docs: [[{"label": t, "start": s, "end": e - 1} for t, s, e in d] for d in docs]  # inclusive end
    results = Evaluator(as_dicts(docs_true), as_dicts(docs_pred), tags=LABELS, loader="dict").evaluate()["overall"]
    for scheme in spans.SCHEMES:
        ours = dict.fromkeys(spans.CATEGORIES, 0)
        for g, p in zip(docs_true, docs_pred):
            for k, v in spans.evaluate(g, p, scheme).items():
                ours[k] += v
        theirs = results[scheme]
        assert ours == {c: getattr(theirs, c) for c in spans.CATEGORIES}, scheme
        assert abs(spans.metrics(ours, scheme)["f1"] - theirs.f1) < 1e-12


def test_scorer_aligns_values_and_scores_spans() -> None:
    samples = generate(20, seed=3)
    texts = [s.text for s in samples]
    gold = [list(s.entities) for s in samples]
    assert all(e.has_span for g in gold for e in g)
    perfect = score_generations(texts, gold, [target_text(s.entities, s.text) for s in samples])
    assert perfect["spans"]["strict"]["f1"] == 1.0 and perfect["micro"]["f1"] == 1.0
    text = "客户王小明的电话是13800138000。"
    gold_one = [[Entity("PERSON", "王小明", 2, 5), Entity("PHONE", "13800138000", 9, 20)]]
    answer = '{"entities": [{"type": "PERSON", "value": "王小"}, {"type": "ORG", "value": "13800138000"}, {"type": "PHONE", "value": "999"}]}'
    result = score_generations([text], gold_one, [answer])["spans"]
    assert result["partial"]["partial"] == 1 and result["partial"]["correct"] == 1
    assert result["strict"]["incorrect"] == 2 and result["exact"]["correct"] == 1
    assert result["ent_type"]["correct"] == 1 and result["ent_type"]["incorrect"] == 1
    assert all(result[s]["spurious"] == 1 for s in spans.SCHEMES)  # "999" is not in the text
