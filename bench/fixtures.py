"""Fixtures that the tests and the benchmarks share: small synthetic datasets registered the way
LLaMA-Factory reads them. Kept in the package so ``bench`` never imports ``tests``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from converters import Prompting, dataset_entry, merge_registry, to_chat, to_row, write_rows
from piifactory.synth import generate


def write_alpaca_splits(dataset_dir: Path, sizes: dict[str, int], prefix: str = "pii_synth") -> Path:
    """Synthetic samples as alpaca JSON files plus a dataset_info.json that registers them."""
    info_path = dataset_dir / "dataset_info.json"
    info_path.unlink(missing_ok=True)
    for offset, (split, n) in enumerate(sizes.items()):
        name = f"{prefix}_{split}"
        rows = (to_row(to_chat(s, Prompting()), "alpaca") for s in generate(n, seed=100 + offset))
        write_rows(dataset_dir / f"{name}.json", rows, "json")
        merge_registry(info_path, {name: dataset_entry(f"{name}.json", "alpaca", with_system=False)})
    return dataset_dir


def tiny_inference_recipe(model: Path, data: Path, **overrides: Any) -> dict[str, Any]:
    """The tiny model as training saw it (template, thinking, cutoff) for prediction on CPU."""
    base = {
        "model_name_or_path": str(model),
        "stage": "sft",
        "finetuning_type": "full",
        "dataset_dir": str(data),
        "template": "qwen3",
        "enable_thinking": False,
        "cutoff_len": 256,
    }
    return {**base, **overrides}


def tiny_recipe(model: Path, data: Path, out: Path, **overrides: Any) -> dict[str, Any]:
    """A full fine-tune of the tiny model on CPU over ``write_alpaca_splits``' pii_synth train/val;
    each test adds what it exercises (steps, evaluation, saving, the ``pii_factory`` block)."""
    base = {
        **tiny_inference_recipe(model, data),
        "do_train": True,
        "dataset": "pii_synth_train",
        "eval_dataset": "pii_synth_val",
        "overwrite_cache": True,
        "preprocessing_num_workers": 1,
        "output_dir": str(out),
        "report_to": "none",
        "use_cpu": True,
        "seed": 42,
        "learning_rate": 3.0e-3,
        "per_device_train_batch_size": 2,
        "logging_steps": 1,
    }
    return {**base, **overrides}


def shrunk_for_cpu(config: dict[str, Any], model: Path, data: Path, out: Path, steps: int, **overrides: Any) -> dict:
    """A shipped GPU recipe cut to a few CPU steps on the tiny model (bf16 off, one evaluation and
    one save at the last step), the rest of it as shipped; ``overrides`` name the datasets and sizes."""
    return {
        **config,
        "model_name_or_path": str(model),
        "dataset_dir": str(data),
        "output_dir": str(out),
        "use_cpu": True,
        "bf16": False,
        "max_steps": steps,
        "save_steps": steps,
        "eval_steps": steps,
        "logging_steps": 1,
        "gradient_accumulation_steps": 1,
        "preprocessing_num_workers": 1,
        "load_best_model_at_end": False,
        **overrides,
    }
