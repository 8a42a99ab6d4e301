"""bench.demo_seeds reads each seed's workspace into one row (the demo runs themselves are replaced
by a fake that writes what a finished demo leaves; three real demos are far too long for a test)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from bench import demo_seeds
from piifactory.machine import cpu_model


def _fake_demo(command, cwd, stdout, stderr, env):
    root = Path(command[command.index("--root") + 1])
    seed = int(command[-1].split("=")[1])
    report = root / "outputs/tiny_cpu_demo/report"
    report.mkdir(parents=True)
    (report / "score.json").write_text(json.dumps({"micro": {"f1": 0.95 + seed / 1000}}), encoding="utf-8")
    (report / "rules_vs_model_genres.json").write_text(json.dumps({"model": {"micro": {"f1": 0.1}}}), encoding="utf-8")
    stdout.write(f"[demo] train (llamafactory-cli): {300 + seed}.0s\n")
    assert env["OMP_NUM_THREADS"] and "--quick" not in command
    return subprocess.CompletedProcess(command, 0 if seed != 2 else 1)


def test_one_row_per_seed_with_the_cpu(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(demo_seeds.subprocess, "run", _fake_demo)
    assert demo_seeds.main(["--seeds", "1", "2", "--workdir", str(tmp_path)]) == 1  # seed 2's demo missed its goal
    out = capsys.readouterr().out
    assert f"On {cpu_model()}, " in out
    assert "| 1 | 0.951 | 0.100 | 301.0s | 0 |" in out and "| 2 | 0.952 | 0.100 | 302.0s | 1 |" in out


def test_a_run_without_a_report_says_where_its_log_is(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(demo_seeds.subprocess, "run", lambda command, **kw: subprocess.CompletedProcess(command, 3))
    row = demo_seeds.run_seed(5, tmp_path / "seed5", quick=True)
    assert row == ["5", "-", "-", "-", f"3 (see {tmp_path / 'seed5' / 'demo.log'})"]
