"""Entity-F1 evaluation against a plain evaluation: ``trainer.evaluate`` with and without it.

One trainer, built by LLaMA-Factory's own SFT workflow (``run_exp`` with the plugin block, neither
training nor evaluating, the trainer captured when the workflow creates it), on the tiny model
and one synthetic eval set. The plain evaluation is that trainer with its entity evaluator
detached (eval loss only, what a stock recipe computes); the entity evaluation adds greedy
generation and scoring of every eval row. The two alternate after a warm-up each, and the ratio
is of the medians. The tiny model is untrained, so most answers run to ``max_new_tokens``
(the longest gold answer + 25%): an upper bound for a trained model, which stops at its EOS.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.common import Row, scaled

EVAL_ROWS = 16


def capture_trainer(
    model_dir: Path,
    data_dir: Path,
    out: Path,
    eval_batch: int,
    rows: int = EVAL_ROWS,
    max_new_tokens: int | None = None,
):
    """The plugin trainer LLaMA-Factory's workflow builds for a recipe with entity metrics."""
    from llamafactory.train.tuner import run_exp

    import plugins.trainer as plugin_trainer
    from bench.fixtures import tiny_recipe

    captured = []
    stock_factory = plugin_trainer.plugin_trainer_class

    def capturing(base, options):
        cls = stock_factory(base, options)

        class Captured(cls):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                captured.append(self)

        return Captured

    plugin_trainer.plugin_trainer_class = capturing
    try:
        run_exp(
            tiny_recipe(
                model_dir,
                data_dir,
                out,
                do_train=False,
                do_eval=False,
                cutoff_len=384,
                dataset=None,
                per_device_eval_batch_size=eval_batch,
                disable_tqdm=True,
                pii_factory={
                    "entity_metrics": {
                        "eval_samples": rows,
                        "batch_size": eval_batch,
                        "max_new_tokens": max_new_tokens,
                        "save_predictions": False,
                    },
                    "preflight": {"mode": "off"},
                },
            )
        )
    finally:
        plugin_trainer.plugin_trainer_class = stock_factory
    (trainer,) = captured
    return trainer


def compare(trainer, rounds: int) -> dict[str, float]:
    """Median seconds of ``trainer.evaluate()`` plain and with entity metrics, interleaved."""
    evaluator = trainer.entity_evaluator
    times: dict[str, list[float]] = {"plain": [], "entity": []}

    def once(variant: str) -> dict:
        trainer.entity_evaluator = evaluator if variant == "entity" else None
        start = time.perf_counter()
        metrics = trainer.evaluate()
        times[variant].append(time.perf_counter() - start)
        return metrics

    metrics = once("entity")
    assert "eval_entity_f1" in metrics, metrics
    assert "eval_entity_f1" not in once("plain")
    times = {"plain": [], "entity": []}  # the first of each was the warm-up
    for round_ in range(rounds):
        for variant in ("plain", "entity") if round_ % 2 == 0 else ("entity", "plain"):
            once(variant)
    trainer.entity_evaluator = evaluator
    return {variant: statistics.median(seconds) for variant, seconds in times.items()} | {
        "max_new_tokens": evaluator.subset("eval", trainer.eval_dataset).max_new_tokens
    }


def run(scale: float) -> list[Row]:
    from bench.fixtures import write_alpaca_splits
    from bench.train_loss import build_model

    rounds = scaled(6, scale, 2)
    with tempfile.TemporaryDirectory(prefix="bench-train-eval-") as tmp:
        work = Path(tmp)
        model_dir = build_model(work)
        data_dir = work / "data"
        data_dir.mkdir()
        write_alpaca_splits(data_dir, {"val": EVAL_ROWS})
        trainer = capture_trainer(model_dir, data_dir, work / "out", eval_batch=EVAL_ROWS)
        result = compare(trainer, rounds)
    return [
        Row(
            "training",
            "evaluate with entity F1 / plain evaluate",
            result["entity"] / result["plain"],
            "ratio",
            f"tiny Qwen3 (untrained), {EVAL_ROWS} eval rows, generation batch {EVAL_ROWS}, up to {result['max_new_tokens']} new "
            f"tokens; median of {rounds} interleaved trainer.evaluate() each ({result['plain']:.2f} s plain, "
            f"{result['entity']:.2f} s with entity F1)",
        ),
    ]
