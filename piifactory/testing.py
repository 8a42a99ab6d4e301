"""Fixtures that the tests and the benchmarks share: small synthetic datasets registered the way
LLaMA-Factory reads them. Kept in the package so ``bench`` never imports ``tests``."""

from __future__ import annotations

from pathlib import Path

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
