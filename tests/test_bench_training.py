"""The training benchmarks at their smallest sizes: they run, and their figures are sane ratios."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import suite as runner
from bench import train_eval, train_gpu, train_loss


def test_registered_in_the_runner() -> None:
    assert {runner.BENCHMARKS[k] for k in ("focal-loss", "entity-eval", "training-gpu")} == {
        train_loss,
        train_eval,
        train_gpu,
    }


@pytest.mark.slow
def test_focal_loss_bench(tiny_model: Path) -> None:
    """The pieces of ``run`` at the smallest size (run itself: `make bench`)."""
    medians = train_loss.time_steps(tiny_model, 2)
    assert 0.3 < medians["focal"] / medians["default"] < 3.0, medians  # same model and batch
    memory = train_loss.peak_added(tiny_model, "focal", 1)
    assert memory["added_mb"] > 10 and memory["peak_mb"] > memory["before_mb"], memory  # logits, activations, grads


@pytest.mark.slow
def test_the_answer_logits_variant_trains_on_the_same_loss(tiny_model: Path) -> None:
    """``focal-answer`` (skip_prompt_logits) skips prompt logits, not loss: the bench compares like with like."""
    model = train_loss.load(tiny_model)
    inputs, labels = train_loss.make_batch(tiny_model, 4)
    losses = {v: train_loss.step_fn(model, inputs, labels, v)() for v in train_loss.VARIANTS}
    assert losses["focal-answer"] == pytest.approx(losses["focal"], rel=1e-5), losses
    medians = train_loss.time_steps(tiny_model, 2, batch=4, variants=train_loss.VARIANTS)
    assert set(medians) == set(train_loss.VARIANTS) and min(medians.values()) > 0, medians


@pytest.mark.slow
def test_entity_eval_bench(tiny_model: Path, tmp_path: Path) -> None:
    """The pieces of ``run`` on 4 rows and 8 new tokens (run itself: `make bench`)."""
    from bench.fixtures import write_alpaca_splits

    data = write_alpaca_splits(tmp_path, {"val": 4})
    trainer = train_eval.capture_trainer(tiny_model, data, tmp_path / "out", eval_batch=4, rows=4, max_new_tokens=8)
    result = train_eval.compare(trainer, rounds=1)  # asserts entity metrics only on the entity side
    assert result["max_new_tokens"] == 8
    assert result["entity"] > result["plain"] > 0, result  # generation on top of the same loss pass


def test_gpu_bench_gives_no_figure_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert train_gpu.run(1.0) == []
    assert train_gpu.NOTES == ["skipped: no CUDA (Qwen-sized LoRA step and HF vs vLLM prediction need a GPU)"]
    rows, notes = runner.run_all(["training-gpu"], 1.0)
    assert rows == [] and notes == ["training-gpu: " + train_gpu.NOTES[0]]
    markdown = runner.render_markdown(rows, {"cpu": "x"}, 1.0, notes)
    assert "Not measured in this run:" in markdown and "- training-gpu: skipped: no CUDA" in markdown
