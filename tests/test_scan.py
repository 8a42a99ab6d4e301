"""``pii-factory scan``: every input kind, offsets that hold, resuming after a real SIGKILL, and
the same output from a local Ray Data actor pool."""

import csv
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

import workflows.scan.__main__
from piifactory.child import python_m
from piifactory.synth import generate
from tests.conftest import REPO, VENV_BIN
from workflows.scan.command import main

TEXT = "请联系张伟，手机号码是13812345678，谢谢。"


def _write_jsonl(path: Path, n: int, seed: int = 3) -> list[str]:
    texts = [s.text for s in generate(n, seed=seed)]
    path.write_text(
        "".join(json.dumps({"id": i, "input": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts)),
        encoding="utf-8",
    )
    return texts


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_scan_jsonl_keeps_fields_adds_entities_whose_offsets_hold_and_redacts(tmp_path: Path, capsys) -> None:
    texts = _write_jsonl(tmp_path / "in.jsonl", 40)
    out = tmp_path / "out.jsonl"
    assert (
        main(["--rules-only", "--input", str(tmp_path / "in.jsonl"), "--out", str(out), "--redact", "--no-progress"])
        == 0
    )
    rows = _rows(out)
    assert [r["id"] for r in rows] == list(range(40)) and [r["input"] for r in rows] == texts
    found = 0
    for row in rows:
        for span in row["entities"]:
            assert row["input"][span["start"] : span["end"]] == span["value"] and span["source"] == "rules"
            assert span["value"] not in row["redacted"] and f"<{span['type']}>" in row["redacted"]
            found += 1
    assert found > 10
    err = capsys.readouterr().err
    assert "40 rows" in err and "docs/s" in err and "entities by type: " in err and "entities by source: rules" in err
    assert not (tmp_path / "out.jsonl.parts").exists()


def test_scan_csv_parquet_text_and_a_folder(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    with open(folder / "a.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, ["name", "body"])
        writer.writeheader()
        writer.writerow({"name": "x", "body": TEXT})
    pq.write_table(pa.table({"body": [TEXT, "无"], "n": [1, 2]}), folder / "sub" / "b.parquet")
    (folder / "c.txt").write_text(f"第一行\n{TEXT}\n", encoding="utf-8")
    (folder / ".hidden.txt").write_text(TEXT, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert (
        main(["--rules-only", "--input", str(folder), "--out", str(out), "--text-field", "body", "--no-progress"]) == 0
    )
    rows = _rows(out)
    assert [(r["file"], r.get("name"), r.get("n"), r.get("line")) for r in rows] == [
        ("a.csv", "x", None, None),
        ("c.txt", None, None, 1),
        ("c.txt", None, None, 2),
        ("sub/b.parquet", None, 1, None),
        ("sub/b.parquet", None, 2, None),
    ]
    phones = [[(e["type"], e["start"], e["end"]) for e in r["entities"]] for r in rows]
    assert phones == [[("PHONE", 11, 22)], [], [("PHONE", 11, 22)], [("PHONE", 11, 22)], []]


def test_scan_bad_input_is_file_line_exit_2(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "in.jsonl"
    bad.write_text('{"input": "a"}\n{"text": "b"}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["--rules-only", "--input", str(bad), "--out", str(out), "--no-progress"]) == 2
    assert f"error: {bad}:2: no string field 'input'" in capsys.readouterr().err and not out.exists()
    assert main(["--input", str(bad), "--out", str(out)]) == 2  # neither recipe nor --rules-only
    assert "give a RECIPE, or --rules-only" in capsys.readouterr().err
    ops = tmp_path / "ops.json"
    ops.write_text('{"PHONE": {"type": "shred"}}', encoding="utf-8")
    argv = ["--rules-only", "--input", str(bad), "--out", str(out), "--redact", "--operators", str(ops)]
    assert main(argv) == 2 and "unknown operator 'shred'" in capsys.readouterr().err


def _scan_command(source: Path, out: Path) -> list[str]:
    return [
        *python_m(workflows.scan.__main__),
        "--rules-only",
        "--input",
        str(source),
        "--out",
        str(out),
        "--redact",
        "--part-size",
        "1",
        "--no-progress",
    ]


def test_scan_killed_with_sigkill_and_rerun_equals_an_uninterrupted_scan(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    _write_jsonl(source, 600)
    whole = tmp_path / "whole.jsonl"
    assert main(_scan_command(source, whole)[3:]) == 0
    out = tmp_path / "killed.jsonl"
    parts = tmp_path / "killed.jsonl.parts"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [str(VENV_BIN / "python"), *_scan_command(source, out)[1:]], cwd=REPO, env=env, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while len(list(parts.glob("part-*.jsonl"))) < 40 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    written = len(list(parts.glob("part-*.jsonl")))
    assert child.returncode == -signal.SIGKILL and not out.exists() and 40 <= written < 600, written
    assert not list(parts.glob("part-*.jsonl"))[0].name.startswith(".")  # only whole parts carry the name
    rerun = subprocess.run(
        [str(VENV_BIN / "python"), *_scan_command(source, out)[1:]], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"({600 - written} scanned now" in rerun.stderr or f"({600 - written + 1} scanned now" in rerun.stderr
    assert out.read_bytes() == whole.read_bytes() and not parts.exists()
    assert len(_rows(out)) == 600


def test_rerun_with_other_settings_is_refused_and_a_finished_file_is_kept(tmp_path: Path, capsys) -> None:
    source = tmp_path / "in.jsonl"
    _write_jsonl(source, 5)
    out = tmp_path / "out.jsonl"
    parts = tmp_path / "out.jsonl.parts"
    parts.mkdir()
    (parts / "manifest.json").write_text('{"part_size": 2, "settings": {}}', encoding="utf-8")
    (parts / "part-000000.jsonl").write_text("{}\n", encoding="utf-8")
    assert main(["--rules-only", "--input", str(source), "--out", str(out), "--no-progress"]) == 2
    assert "holds an unfinished scan with other settings" in capsys.readouterr().err
    out.write_text("finished\n", encoding="utf-8")
    import shutil

    shutil.rmtree(parts)
    assert main(["--rules-only", "--input", str(source), "--out", str(out), "--no-progress"]) == 2
    assert "exists (a finished scan)" in capsys.readouterr().err and out.read_text() == "finished\n"


@pytest.mark.slow
def test_scan_on_local_ray_with_two_actors_equals_one_process(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    _write_jsonl(source, 120)
    here, on_ray = tmp_path / "here.jsonl", tmp_path / "ray.jsonl"
    common = ["--rules-only", "--input", str(source), "--redact", "--part-size", "25", "--no-progress"]
    assert main([*common, "--out", str(here)]) == 0
    assert main([*common, "--out", str(on_ray), "--ray", "local", "--actors", "2", "--batch-size", "2"]) == 0
    assert on_ray.read_bytes() == here.read_bytes()


@pytest.mark.slow
def test_scan_with_a_model_recipe_and_rules_both(tiny_model: Path, tmp_path: Path) -> None:
    import yaml

    from bench.fixtures import tiny_inference_recipe, write_alpaca_splits

    data = write_alpaca_splits(tmp_path, {"train": 2})
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        yaml.safe_dump(tiny_inference_recipe(tiny_model, data, dataset="pii_synth_train")), encoding="utf-8"
    )
    source = tmp_path / "in.jsonl"
    texts = [TEXT, *_write_jsonl(tmp_path / "more.jsonl", 5)]
    source.write_text("".join(json.dumps({"input": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    argv = [str(recipe), "--input", str(source), "--out", str(out), "--rules", "both", "--recall-bias", "6"]
    assert main([*argv, "--max-new-tokens", "32", "--batch-size", "3", "--no-progress"]) == 0
    rows = _rows(out)
    assert [r["input"] for r in rows] == texts
    assert ("PHONE", 11, 22) in {(e["type"], e["start"], e["end"]) for e in rows[0]["entities"]}
    for row in rows:
        assert all(row["input"][e["start"] : e["end"]] == e["value"] for e in row["entities"])
