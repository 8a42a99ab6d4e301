import json

from eval.compare import compare
from eval.inputs import Samples
from eval.scoring.scorer import score_generations
from piifactory.answer import target_text
from piifactory.synth import generate

SAMPLES = generate(60, seed=11)
TEXTS = [s.text for s in SAMPLES]
GOLD = [target_text(s.entities, s.text) for s in SAMPLES]
# A run that drops the last entity of every third sample.
WORSE = [target_text(s.entities[:-1] if i % 3 == 0 else s.entities, s.text) for i, s in enumerate(SAMPLES)]


def test_bootstrap_is_seeded_and_brackets_the_point() -> None:
    a = score_generations(TEXTS, GOLD, WORSE, bootstrap=300, seed=5)
    b = score_generations(TEXTS, GOLD, WORSE, bootstrap=300, seed=5)
    c = score_generations(TEXTS, GOLD, WORSE, bootstrap=300, seed=6)
    assert a["ci"] == b["ci"] and a["ci"] != c["ci"]
    low, high = a["ci"]["micro"]["recall"]
    assert low <= a["micro"]["recall"] <= high and low < high
    assert a["ci"]["micro"]["precision"] == [1.0, 1.0]  # nothing spurious in any resample
    json.dumps(a)  # plain types only


def test_paired_compare_sees_the_drop() -> None:
    entities = [s.entities for s in SAMPLES]
    result = compare(Samples(TEXTS, entities, WORSE), Samples(TEXTS, entities, GOLD), replicates=300, seed=0)
    recall = result["deltas"]["recall"]
    assert recall["delta"] > 0 and recall["ci"][0] > 0 and recall["p_value"] < 0.05
    same = compare(Samples(TEXTS, entities, GOLD), Samples(TEXTS, entities, GOLD), replicates=100)
    assert same["deltas"]["f1"]["delta"] == 0 and same["deltas"]["f1"]["ci"] == [0.0, 0.0]
