"""Shared fixtures: the tiny local Qwen3 and small synthetic datasets, built in temporary folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from converters import Prompting, dataset_entry, merge_registry, to_chat, to_row, write_rows
from piifactory.synth import generate

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly built tiny Qwen3 (random weights, local tokenizer); built once per session."""
    from piifactory.tiny_model import build

    return build(tmp_path_factory.mktemp("models") / "tiny-qwen3")


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


def run_cli(args: list[str], cwd: Path = REPO, env: dict[str, str] | None = None, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    """Run a console script from the test's virtual environment; the output is kept for asserts."""
    full_env = {**os.environ, **(env or {})}
    exe = args[0] if os.path.isabs(args[0]) else str(VENV_BIN / args[0])
    return subprocess.run([exe, *args[1:]], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
