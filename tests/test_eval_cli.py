import json
from pathlib import Path

from converters import Prompting, to_chat, to_row
from eval import compare, score
from piifactory.answer import target_text
from piifactory.schema import DEFAULT_INSTRUCTION, Entity, input_text
from piifactory.synth import generate


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _generated(tmp_path: Path, name: str = "gp.jsonl", drop_every: int = 0) -> Path:
    rows = []
    for i, s in enumerate(generate(12, seed=4)):
        kept = s.entities[:-1] if drop_every and i % drop_every == 0 else s.entities
        rows.append({"prompt": s.text, "predict": target_text(kept, s.text), "label": target_text(s.entities, s.text)})
    return _write_jsonl(tmp_path / name, rows)


def test_json_output_and_report(tmp_path: Path, capsys) -> None:
    path = _generated(tmp_path, drop_every=2)
    assert score.main([str(path), "--json", "--bootstrap", "50", "--report", str(tmp_path / "r" / "report.md")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert list(result)[:3] == ["micro", "macro", "per_type"] and {"failures", "ci"} <= set(result)
    assert result["micro"]["fn"] > 0 and result["micro"]["fp"] == 0 and result["ci"]["replicates"] == 50
    report = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    for png in ("report_per_type.png", "report_confusion.png"):
        assert (tmp_path / "r" / png).read_bytes()[:4] == b"\x89PNG" and png in report
    missed = [r for r in report.splitlines() if "(missed)" in r]
    assert missed and all("*" in r for r in missed)
    gold_values = {e.value for s in generate(12, seed=4) for e in s.entities}
    assert not any(v in report for v in gold_values)  # masked


def test_gold_file_joined_by_id_and_by_line(tmp_path: Path, capsys) -> None:
    samples = generate(5, seed=9)
    gold = _write_jsonl(tmp_path / "gold.jsonl", [{"id": f"s{i}", **s.to_user_json()} for i, s in enumerate(samples)])
    preds = _write_jsonl(
        tmp_path / "pred.jsonl",
        [{"id": f"s{i}", "predict": target_text(s.entities, s.text)} for i, s in reversed(list(enumerate(samples)))],
    )
    assert score.main([str(preds), "--gold", str(gold), "--json", "--bootstrap", "0"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["micro"]["f1"] == 1.0 and result["spans"]["strict"]["f1"] == 1.0
    short = _write_jsonl(tmp_path / "short.jsonl", [{"predict": "{}"}])
    nolabel = _write_jsonl(tmp_path / "g2.jsonl", [s.to_user_json() for s in samples])
    assert score.main([str(short), "--gold", str(nolabel)]) == 2
    assert "1 predictions for 5 gold records" in capsys.readouterr().err


def test_value_only_in_the_instruction_is_a_hallucination(tmp_path: Path, capsys) -> None:
    sample = next(iter(generate(1, seed=5)))
    user = to_row(to_chat(sample, Prompting()), "sharegpt")["messages"][0]["content"]
    assert input_text(user) == sample.text  # sharegpt: the user message minus the instruction
    assert "原文片段" in DEFAULT_INSTRUCTION and "原文片段" not in sample.text
    copied = '{"entities": [{"type": "PERSON", "value": "原文片段"}]}'
    decoded = f"user\n{user}\nassistant\n<think>\n\n</think>\n\n"  # as predict writes "prompt"
    path = _write_jsonl(
        tmp_path / "gp.jsonl",
        [{"prompt": decoded, "predict": copied, "label": target_text(sample.entities, sample.text)}],
    )
    assert score.main([str(path), "--json", "--bootstrap", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["failures"]["hallucinations"] == 1


def test_bad_files_name_file_and_line(tmp_path: Path, capsys) -> None:
    good = json.dumps({"prompt": "x", "predict": "{}", "label": '{"entities": []}'})
    cases = {
        "broken.jsonl": (good + "\n{not json\n", ":2: invalid JSON"),
        "nolabel.jsonl": (good + "\n" + good + "\n" + json.dumps({"predict": "{}"}) + "\n", ':3: missing "label"'),
        "badgold.jsonl": (
            json.dumps({"predict": "{}", "label": '{"entities": [{"type": "FOO", "value": "x"}]}'}) + "\n",
            ":1: gold has 1 entities of unknown type",
        ),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
        assert score.main([str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert f"{tmp_path / name}{message}" in err, err
    offsets = _write_jsonl(
        tmp_path / "off.jsonl",
        [{"input": "张三来了", "output": {"entities": [{"type": "PERSON", "value": "张三", "start": 1, "end": 3}]}}],
    )
    preds = _write_jsonl(tmp_path / "p.jsonl", [{"predict": "{}"}])
    assert score.main([str(preds), "--gold", str(offsets)]) == 2
    assert f"{offsets}:1: offsets 1:3" in capsys.readouterr().err


def test_compare_cli(tmp_path: Path, capsys) -> None:
    a, b = _generated(tmp_path, "a.jsonl", drop_every=2), _generated(tmp_path, "b.jsonl")
    assert compare.main([str(a), str(b), "--json", "--bootstrap", "200"]) == 0
    deltas = json.loads(capsys.readouterr().out)["deltas"]
    assert deltas["recall"]["delta"] > 0 and deltas["precision"]["delta"] == 0
    other = _write_jsonl(tmp_path / "o.jsonl", [{"prompt": "x", "predict": "{}", "label": '{"entities": []}'}])
    assert compare.main([str(a), str(other)]) == 2
    assert "same gold" in capsys.readouterr().err


def test_report_error_list_matches_values_as_scoring_does(tmp_path: Path, capsys) -> None:
    """Gold 138-1234-5678 and predicted 13812345678 are one phone to the scorer, so the error list
    names neither; a real miss and a real false positive are still listed."""
    text = "张三的电话是138-1234-5678，李四的邮箱是ls@example.com。"
    gold = target_text([Entity("PERSON", "张三"), Entity("PHONE", "138-1234-5678"), Entity("PERSON", "李四")], text)
    pred = target_text(
        [Entity("PERSON", "张三"), Entity("PHONE", "13812345678"), Entity("EMAIL", "ls@example.com")], text
    )
    path = _write_jsonl(tmp_path / "gp.jsonl", [{"prompt": text, "predict": pred, "label": gold}])
    report = tmp_path / "report.md"
    assert score.main([str(path), "--json", "--bootstrap", "0", "--show-values", "--report", str(report)]) == 0
    phone = json.loads(capsys.readouterr().out)["per_type"]["PHONE"]
    assert (phone["tp"], phone["fp"], phone["fn"]) == (1, 0, 0)
    errors = [
        line for line in report.read_text(encoding="utf-8").splitlines() if "(missed)" in line or "(spurious)" in line
    ]
    assert errors == ["| 0 | (missed) | PERSON | 李四 |", "| 0 | (spurious) | EMAIL | ls@example.com |"]
