"""kill -9 in the middle of a conversion and of a prediction: nothing half-written at the target
paths, and the rerun gives what an uninterrupted run gives (prediction resumes where it stopped)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable

import pytest
import yaml

import converters
import eval.predict
from bench.convert import write_input
from bench.fixtures import tiny_recipe, write_alpaca_splits
from piifactory.child import python_m
from tests.conftest import REPO

TARGETS = ("info.json", "out/kd_train.json", "out/kd_val.json", "out/kd_test.json", "out/kd_rejects.jsonl")
CONVERT = [
    *python_m(converters),
    "convert",
    "in.jsonl",
    "--name",
    "kd",
    "--out-dir",
    "out",
    "--dataset-info",
    "info.json",
    "--skip-invalid",
    "--no-progress",
]
ORIGINAL_INFO = b'{"other": {"file_name": "other.json"}}\n'
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def _start(argv: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_when(proc: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float = 300) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` holds; fails if it finished first."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"finished before it could be killed: {proc.stderr.read().decode()[-2000:]}"
        assert time.monotonic() < deadline, "never reached the point to kill at"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def _snapshot(root: Path) -> dict[str, bytes | None]:
    return {t: (root / t).read_bytes() if (root / t).exists() else None for t in TARGETS}


def _conversion_root(base: Path, name: str) -> Path:
    root = base / name
    root.mkdir()
    shutil.copy(base / "in.jsonl", root / "in.jsonl")
    (root / "info.json").write_bytes(ORIGINAL_INFO)
    return root


def test_kill_9_during_conversion_leaves_no_partial_output_and_rerun_is_identical(tmp_path: Path) -> None:
    write_input(tmp_path / "in.jsonl", 30_000)
    with open(tmp_path / "in.jsonl", "a", encoding="utf-8") as handle:
        handle.write("not json\n")  # one reject, so the rejects file is a target too
    reference = _conversion_root(tmp_path, "reference")
    subprocess.run(CONVERT, cwd=reference, env=ENV, check=True, capture_output=True)
    expected = _snapshot(reference)
    assert all(expected.values())

    killed = _conversion_root(tmp_path, "killed")
    out = killed / "out"
    moments: dict[str, Callable[[], bool]] = {
        "reading": lambda: out.is_dir() and any(out.glob(".kd_rejects.jsonl.*.tmp")),
        "writing": lambda: out.is_dir() and any(p.stat().st_size > 0 for p in out.glob(".kd_train.json.*.tmp")),
    }
    for moment, ready in moments.items():
        _kill_when(_start(CONVERT, killed), ready)
        for target, content in _snapshot(killed).items():
            if target == "info.json":
                assert content in (ORIGINAL_INFO, expected[target]), (
                    f"dataset_info.json half-written when killed while {moment}"
                )
            else:
                assert content in (None, expected[target]), f"{target} half-written when killed while {moment}"
    subprocess.run(CONVERT, cwd=killed, env=ENV, check=True, capture_output=True)
    assert _snapshot(killed) == expected


@pytest.mark.slow
def test_kill_9_during_prediction_resumes_without_duplicates(tiny_model: Path, tmp_path: Path) -> None:
    write_alpaca_splits(tmp_path, {"train": 2, "val": 24})
    recipe = tiny_recipe(tiny_model, tmp_path, tmp_path / "out", finetuning_type="lora", cutoff_len=384)
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe), encoding="utf-8")
    argv = lambda out: [
        *python_m(eval.predict),
        str(tmp_path / "recipe.yaml"),
        "--out",
        str(out),
        "--batch-size",
        "1",
        "--max-new-tokens",
        "12",
        "--no-progress",
    ]  # 4 samples per write
    reference, resumed = tmp_path / "reference.jsonl", tmp_path / "resumed.jsonl"
    subprocess.run(argv(reference), cwd=REPO, env=ENV, check=True, capture_output=True)

    lines = lambda: resumed.read_bytes().count(b"\n") if resumed.exists() else 0
    _kill_when(_start(argv(resumed), REPO), lambda: lines() >= 8)
    before = resumed.read_bytes()
    kept = before.count(b"\n")
    assert 8 <= kept < 24
    done = subprocess.run(argv(resumed), cwd=REPO, env=ENV, check=True, capture_output=True, text=True)
    after = resumed.read_bytes()
    assert after.startswith(before[: before.rfind(b"\n") + 1]), "the rerun changed lines written before the kill"
    ids = [json.loads(line)["id"] for line in after.decode("utf-8").splitlines()]
    assert sorted(ids, key=int) == [str(i) for i in range(24)] and len(ids) == len(set(ids))
    assert f"wrote {24 - kept} predictions" in done.stderr
    by_id = lambda data: {json.loads(line)["id"]: line for line in data.decode("utf-8").splitlines()}
    assert by_id(after) == by_id(reference.read_bytes()), "resumed predictions differ from an uninterrupted run"
