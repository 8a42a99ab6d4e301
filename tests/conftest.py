"""Shared fixtures: the tiny local Qwen3 and small synthetic datasets, built in temporary folders."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

import workflows.demo.plan
from bench.fixtures import tiny_recipe  # noqa: F401 - the tests import it from here too
from piifactory.child import python_m

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly built tiny Qwen3 (random weights, local tokenizer); built once per session."""
    from piifactory.models.tiny_model import build

    return build(tmp_path_factory.mktemp("models") / "tiny-qwen3")


@pytest.fixture(scope="session")
def qwen_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Qwen3's real tokenizer (151,669 tokens) built from dashscope's BPE ranks; built once per session."""
    from piifactory.models.qwen_tokenizer import build

    return build("qwen3", tmp_path_factory.mktemp("qwen"))


@pytest.fixture(scope="session")
def qwen_vocab_model(qwen_tokenizer_dir: Path) -> Path:
    """The tiny Qwen3 layers with Qwen3's real tokenizer and 151,936 embedding rows (~20M parameters)."""
    from piifactory.models.tiny_model import build

    return build(
        qwen_tokenizer_dir.parent / "tiny-qwen3-vocab", qwen_vocab="qwen3", cache_dir=qwen_tokenizer_dir.parent
    )


class QuickDemo(NamedTuple):
    """A finished ``python -m workflows.demo.plan --quick`` workspace and the run's output."""

    root: Path
    result: subprocess.CompletedProcess[str]

    @property
    def model(self) -> Path:
        return self.root / "outputs/tiny_cpu_demo"


QUICK_DEMO_SIZE = ("--samples", "20000", "--epochs", "1.1")
"""The full demo's training (1.1 epochs of 20000 samples' train split, about 3800 steps) with the quick
plan's short predictions: the quick plan's own 800 samples leave a model whose GGUF comparisons would
be between near-empty answers, and a half-trained one (test F1 about 0.56) flipped near-tie choices
under q8_0 (F1 0.531 against HF's 0.5625 on 24 prompts: one entity); a fully trained model answers
with wider margins, though one of 100 answers still differs under q8_0 (tests/test_export_gguf.py)."""


@pytest.fixture(scope="session")
def quick_demo(tmp_path_factory: pytest.TempPathFactory) -> QuickDemo:
    """The quick demo, run once per session: tests/test_demo.py checks the run, tests/test_export_gguf.py
    exports its trained model (training it twice would cost CI the demo's minutes again)."""
    root = tmp_path_factory.mktemp("quick-demo")
    args = [*python_m(workflows.demo.plan), "--quick", *QUICK_DEMO_SIZE, "--root", str(root)]
    return QuickDemo(root, run_cli(args, cwd=REPO, timeout=1500))


def run_cli(
    args: list[str], cwd: Path = REPO, env: dict[str, str] | None = None, timeout: int = 900
) -> subprocess.CompletedProcess[str]:
    """Run a console script from the test's virtual environment; the output is kept for asserts."""
    full_env = {**os.environ, **(env or {})}
    exe = args[0] if os.path.isabs(args[0]) else str(VENV_BIN / args[0])
    proc = subprocess.Popen(
        [exe, *args[1:]],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        # The whole process group: a CLI that timed out (or was interrupted) leaves no trainer behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.returncode is None:
            proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
