"""Personal data stays out of what the pack prints: converter summaries, stats and error messages,
the score table and report (unless --show-values), and predict's log. Each test also shows the
values are really in the data it checks, so a leak would be caught."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

import eval.predict
from bench.fixtures import tiny_recipe, write_alpaca_splits
from converters import cli
from eval import score
from piifactory.answer import target_text
from piifactory.child import python_m
from piifactory.synth import generate
from tests.conftest import REPO
from tests.test_hardening_fuzz import call


def _values(samples) -> set[str]:
    return {e.value for s in samples for e in s.entities if len(e.value) >= 2}


def _leaked(values: set[str], *outputs: str) -> list[str]:
    return sorted(v for v in values if any(v in out for out in outputs))


BAD = [  # one record per check that used to quote the value
    {
        "input": "张三电话13800138000",
        "output": {"entities": [{"type": "PHONE", "value": "13800138001", "start": 4, "end": 15}]},
    },
    {"input": "张三电话13800138000", "output": {"entities": [{"type": "PERSON", "value": "李四光"}]}},
    {
        "input": "王小明来了",
        "output": {
            "entities": [
                {"type": "PERSON", "value": "王小明", "start": 0, "end": 3},
                {"type": "PERSON", "value": "王小", "start": 0, "end": 2},
            ]
        },
    },
    {
        "input": "王小明来了",
        "output": {
            "entities": [
                {"type": "PERSON", "value": "王小明", "start": 0, "end": 3},
                {"type": "ORG", "value": "王小明", "start": 0, "end": 3},
            ]
        },
    },
]
BAD_VALUES = {"13800138001", "13800138000", "李四光", "王小明", "王小"}


def test_converter_summary_stats_and_errors_show_no_values(tmp_path: Path) -> None:
    samples = generate(300, seed=21)
    values = _values(samples) | BAD_VALUES
    src = tmp_path / "in.jsonl"
    lines = [json.dumps(s.to_user_json(), ensure_ascii=False) for s in samples] + [
        json.dumps(r, ensure_ascii=False) for r in BAD
    ]
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    base = ["convert", str(src), "--name", "p", "--out-dir", str(tmp_path / "out"), "--no-register", "--no-progress"]
    outputs = [call(cli.main, base)[2], *call(cli.main, [*base, "--skip-invalid"])[1:]]
    outputs += [call(cli.main, ["stats", str(src), "--no-progress", *extra])[1] for extra in ([], ["--json"])]
    for bad in BAD:  # strict mode stops at each bad record with a message about it
        one = tmp_path / "one.jsonl"
        one.write_text(json.dumps(bad, ensure_ascii=False) + "\n", encoding="utf-8")
        code, _, err = call(
            cli.main,
            ["convert", str(one), "--name", "q", "--out-dir", str(tmp_path / "q"), "--no-register", "--no-progress"],
        )
        assert code == 2 and err.startswith(f"error: {one}:1: ")
        outputs.append(err)
    cluener = tmp_path / "c.jsonl"
    cluener.write_text('{"text": "叶老桂博士", "label": {"name": {"叶老桂": "0,3"}}}\n', encoding="utf-8")
    outputs.append(
        call(cli.main, ["convert", str(cluener), "--name", "c", "--out-dir", str(tmp_path / "c"), "--no-register"])[2]
    )
    conll = tmp_path / "c.conll"
    conll.write_text("叶 B-PER\n老桂\n", encoding="utf-8")
    outputs.append(
        call(cli.main, ["convert", str(conll), "--name", "c", "--out-dir", str(tmp_path / "c"), "--no-register"])[2]
    )
    assert "rejected 4" in outputs[1] and "rejected 4" in outputs[3]
    assert _leaked(values, *outputs) == []
    rejects = (tmp_path / "out" / "p_rejects.jsonl").read_text(encoding="utf-8")
    assert "李四光" in rejects, "the rejects file keeps the whole record for the user to fix"


def test_score_table_and_report_mask_values_unless_asked(tmp_path: Path) -> None:
    samples = generate(60, seed=22)
    rows = []
    for i, s in enumerate(samples):
        wrong = [type(e)("ORG" if e.type == "PERSON" else e.type, e.value) for e in s.entities[1:]]  # misses and swaps
        rows.append(
            {
                "id": str(i),
                "prompt": s.text,
                "predict": target_text(wrong, s.text),
                "label": target_text(s.entities, s.text),
            }
        )
    preds = tmp_path / "generated_predictions.jsonl"
    preds.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    values = _values(samples)
    outputs = []
    for extra in ([], ["--json"]):
        code, out, err = call(score.main, [str(preds), "--bootstrap", "0", "--report", str(tmp_path / "r.md"), *extra])
        assert code == 0
        outputs += [out, err, (tmp_path / "r.md").read_text(encoding="utf-8")]
    assert "(missed)" in outputs[2] and _leaked(values, *outputs) == []
    call(score.main, [str(preds), "--bootstrap", "0", "--report", str(tmp_path / "shown.md"), "--show-values"])
    assert _leaked(values, (tmp_path / "shown.md").read_text(encoding="utf-8")), "--show-values shows them"


@pytest.mark.slow
def test_predict_logs_show_no_values(tiny_model: Path, tmp_path: Path) -> None:
    write_alpaca_splits(tmp_path, {"train": 2, "val": 6})
    recipe = tiny_recipe(tiny_model, tmp_path, tmp_path / "out", finetuning_type="lora", cutoff_len=384)
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe), encoding="utf-8")
    out = tmp_path / "preds.jsonl"
    done = subprocess.run(
        [
            *python_m(eval.predict),
            str(tmp_path / "recipe.yaml"),
            "--out",
            str(out),
            "--max-new-tokens",
            "4",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    values = _values(generate(6, seed=101))  # write_alpaca_splits seeds the second split with 101
    assert _leaked(values, out.read_text(encoding="utf-8")), "the predictions file itself holds the data"
    assert _leaked(values, done.stdout, done.stderr) == []
