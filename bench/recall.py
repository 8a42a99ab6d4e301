"""The recall dial: what each mechanism adds and what it costs, side by side in one run.

Mechanisms, each on top of the one before: copy-constrained values, structure-safe decoding, the
end-of-list bias with thresholds chosen on the validation split (best F1), the second look, and
the rules merge (``union``). Time is generation time as a ratio to plain greedy decoding (free
values) on the same prompts with the same model loaded once, in all (what a user waits: answers of
different lengths take different times) and per generated token (the constraint's cost per step). Quality needs a trained model: with
the demo's (``make demo`` leaves it in ``outputs/tiny_cpu_demo`` and its splits in ``data/``) the
rows give precision and recall on the test split and recall at precision >= 0.95; without it the
tiny model is untrained and only the time ratios are meaningful (they are what is reported).
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
from pathlib import Path

from bench.common import Row, scaled, timed
from bench.fixtures import tiny_inference_recipe, write_alpaca_splits

DEMO_MODEL = Path("outputs/tiny_cpu_demo")
RECIPE = Path("llamafactory_configs/tiny_cpu_demo.yaml")
FULL_SAMPLES = 200  # per split
BIAS = 4.0
BATCH = 16
MAX_NEW_TOKENS = 256  # the untrained model writes until the limit: 64 there
NOTES: list[str] = []


def _trained() -> bool:
    return (DEMO_MODEL / "model.safetensors").is_file() and all(
        Path(f"data/pii_synth_{split}.json").is_file() for split in ("val", "test")
    )


def run(scale: float) -> list[Row]:
    from eval.detection.inference_args import load_recipe
    from eval.detection.prompts import render_dataset, renderer
    from piifactory.models.tiny_model import build

    n = scaled(FULL_SAMPLES, scale, 8)
    trained = _trained()
    NOTES.clear()
    with tempfile.TemporaryDirectory(prefix="bench-recall-") as tmp, contextlib.redirect_stdout(sys.stderr):
        if trained:
            recipe = load_recipe(RECIPE, [f"model_name_or_path={DEMO_MODEL}"])
            model_note = f"demo model ({DEMO_MODEL}), {n} val + {n} test samples"
        else:
            data = write_alpaca_splits(Path(tmp), {"val": n, "test": n})
            recipe = tiny_inference_recipe(build(Path(tmp) / "tiny-qwen3"), data, cutoff_len=512)
            model_note = f"untrained tiny Qwen3 (no demo model: time only), {n} samples"
            NOTES.append(
                "quality rows need `make demo` first (outputs/tiny_cpu_demo); this run timed an untrained model"
            )
        render = renderer(recipe)
        val = render_dataset(recipe, render, "pii_synth_val")
        test = render_dataset(recipe, render, "pii_synth_test")
        return _measure(recipe, render, val[:n], test[:n], trained, model_note)


def _measure(recipe, render, val, test, trained: bool, note: str) -> list[Row]:
    from eval.calibrate import choose, read_candidates, recall_at_precision
    from eval.decoding.dial import OperatingPoint
    from eval.detection.backends import hf_generator
    from eval.detection.detector import Detector, Options
    from eval.predict import record
    from eval.scoring.scorer import score_generations

    tokenizer = render.tokenizer

    def generator(structure: bool, bias: float):
        return hf_generator(render.args, tokenizer, render.template, structure=structure, recall_bias=bias)

    budget = MAX_NEW_TOKENS if trained else 64

    def answers_of(generate, prompts, copy: bool):
        sources = [p.text for p in prompts] if copy else None
        return timed(lambda: generate([p.input_ids for p in prompts], budget, BATCH, sources))

    def records(prompts, answers, point, rules="off"):
        detector = Detector(Options(point=point, rules=rules), recipe, render)
        return [record(detector, detector.serve(p, a)) for p, a in zip(prompts, answers)]

    def score(prompts, recs):
        return score_generations([p.text for p in prompts], [p.label for p in prompts], [r["predict"] for r in recs])

    def per_token(answers, seconds: float) -> float:
        return seconds / max(1, sum(len(tokenizer.encode(a.text, add_special_tokens=False)) + 1 for a in answers))

    plain = generator(False, 0.0)
    answers_of(plain, test[:2], False)  # warm-up
    results: dict[str, tuple[dict, float]] = {}
    steps: dict[str, float] = {}  # seconds per generated token: the constraint's cost per decoding step
    free, seconds = answers_of(plain, test, False)
    results["plain greedy (free values)"], steps["plain greedy (free values)"] = (
        (score(test, records(test, free, OperatingPoint())), seconds),
        per_token(free, seconds),
    )
    copied, seconds = answers_of(plain, test, True)
    results["+ copy-constrained values"], steps["+ copy-constrained values"] = (
        (score(test, records(test, copied, OperatingPoint())), seconds),
        per_token(copied, seconds),
    )
    structured, seconds = answers_of(generator(True, 0.0), test, True)
    results["+ structure-safe decoding"], steps["+ structure-safe decoding"] = (
        (score(test, records(test, structured, OperatingPoint())), seconds),
        per_token(structured, seconds),
    )
    biased = generator(True, BIAS)
    with tempfile.TemporaryDirectory(prefix="bench-recall-val-") as tmp:  # calibrate on validation, as a user does
        path = Path(tmp) / "val.jsonl"
        val_answers, _ = answers_of(biased, val, True)
        lines = (json.dumps(r, ensure_ascii=False) for r in records(val, val_answers, OperatingPoint(BIAS)))
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        point = choose(read_candidates(path)[0], "f1")
    test_biased, seconds = answers_of(biased, test, True)
    steps[f"+ recall bias {BIAS:g}, thresholds chosen on validation"] = per_token(test_biased, seconds)
    served = records(test, test_biased, point)
    results[f"+ recall bias {BIAS:g}, thresholds chosen on validation"] = (score(test, served), seconds)
    looker = Detector(Options(point=point, batch_size=BATCH, max_new_tokens=budget), recipe, render, biased)
    looked, extra = timed(lambda: looker.second_look(test, test_biased)[0])
    results["+ second look"] = (score(test, records(test, looked, point)), seconds + extra)
    ruled, merge_seconds = timed(lambda: records(test, looked, point, "union"))
    results["+ rules union"] = (score(test, ruled), seconds + extra + merge_seconds)
    base = results["plain greedy (free values)"][1]
    rows = []
    for name, (result, elapsed) in results.items():
        micro = result["micro"]
        if trained:
            rows.append(
                Row(
                    "recall-dial",
                    f"{name}: precision / recall",
                    micro["recall"],
                    "recall",
                    f"P {micro['precision']:.3f} R {micro['recall']:.3f} F1 {micro['f1']:.3f}; "
                    f"unparseable {result['failures']['parse_failures'] + result['failures']['truncated']}; {note}",
                )
            )
        rows.append(Row("recall-dial", f"{name}: time", elapsed / base, "x plain greedy", note))
        if name in steps:
            rows.append(
                Row(
                    "recall-dial",
                    f"{name}: time per generated token",
                    steps[name] / steps["plain greedy (free values)"],
                    "x plain greedy",
                    "the constraint's cost per decoding step (answers differ in length)",
                )
            )
    if trained:
        with tempfile.TemporaryDirectory(prefix="bench-recall-test-") as tmp:
            path = Path(tmp) / "test.jsonl"
            lines = (json.dumps(r, ensure_ascii=False) for r in records(test, test_biased, OperatingPoint(BIAS)))
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            recall, threshold = recall_at_precision(read_candidates(path)[0], 0.95)
        rows.append(
            Row(
                "recall-dial",
                "recall at precision >= 0.95 (test curve)",
                recall,
                "recall",
                f"bias {BIAS:g}, one threshold {threshold:.3f}; {note}",
            )
        )
    return rows
