"""The label audit (converters.audit): each check on a small fixture, the report and findings
file, ``--fix repeats``, bounded state, and planted gaps in synthetic data found (>= 95%) with
nothing reported on the clean copy."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from bench import audit_speed as bench_audit
from converters.audit import audit
from converters.audit_report import render
from converters.cli import main
from piifactory.rules.checksums import id_card_check_char
from piifactory.synth import generate

ID = "11010519491231002" + id_card_check_char("11010519491231002")
ID2 = "44030419800101123" + id_card_check_char("44030419800101123")


def pii(text: str, *entities: tuple[str, str, int]) -> dict[str, Any]:
    """A users'-format record; each entity is (type, value, start)."""
    return {
        "input": text,
        "output": {"entities": [{"type": t, "value": v, "start": s, "end": s + len(v)} for t, v, s in entities]},
    }


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def findings(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run(tmp_path: Path, records: list[dict[str, Any]], **kwargs: Any) -> tuple[Any, list[dict[str, Any]]]:
    src = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "findings.jsonl"
    result = audit([src], findings_path=out, progress=False, **kwargs)
    return result, findings(out)


def kinds(found: list[dict[str, Any]]) -> list[tuple[str, str, int, int]]:
    return [(f["kind"], f["where"].rsplit(":", 1)[1], f["start"], f["end"]) for f in found]


def test_repeat_unlabelled_in_the_same_text_but_not_inside_another_span(tmp_path: Path) -> None:
    text = "张三说张三科技有限公司欠张三钱"
    record = pii(text, ("PERSON", "张三", 0), ("ORG", "张三科技有限公司", 3))
    result, found = run(tmp_path, [record])
    assert kinds(found) == [("repeat", "1", 12, 14)]  # the one inside the ORG span is no repeat
    assert found[0]["type"] == "PERSON" and result.findings["repeat"] == 1


def test_surface_labelled_in_one_record_and_not_in_another(tmp_path: Path) -> None:
    records = [
        pii("请联系李四处理", ("PERSON", "李四", 3)),
        {"input": "李四明天到", "output": {"entities": []}},
        pii("李四科技有限公司来函", ("ORG", "李四科技有限公司", 0)),
        {"input": "价格为1李四2", "output": {"entities": []}},
    ]
    result, found = run(tmp_path, records)
    assert kinds(found) == [("unlabelled_elsewhere", "2", 0, 2), ("unlabelled_elsewhere", "4", 4, 6)]
    assert result.surfaces["李四"].labelled_in == 1 and result.surfaces["李四"].unlabelled_in == 2


def test_checksum_valid_rule_hit_that_gold_does_not_label(tmp_path: Path) -> None:
    wrong = ID[:-1] + ("0" if ID[-1] != "0" else "1")
    records = [
        {"input": f"身份证号{ID}，已登记", "output": {"entities": []}},
        pii(f"身份证号{ID2}，已登记", ("ID_CARD", ID2, 4)),
        {"input": f"编号{wrong}校验失败", "output": {"entities": []}},
        {"input": "手机13812345678", "output": {"entities": []}},
    ]  # a phone has no check digit
    _, found = run(tmp_path, records)
    assert kinds(found) == [("rule_hit", "1", 4, 22)]
    assert found[0]["type"] == "ID_CARD"


def test_one_surface_under_two_types(tmp_path: Path) -> None:
    records = [
        pii("华为发布新品", ("ORG", "华为", 0)),
        pii("华为的员工", ("ORG", "华为", 0)),
        pii("他叫华为", ("PERSON", "华为", 2)),
    ]
    result, found = run(tmp_path, records)
    assert kinds(found) == [("type_conflict", "3", 2, 4)]
    assert "ORG 2, PERSON 1" in found[0]["detail"]
    assert result.surfaces["华为"].main_type == "ORG"


def test_a_label_the_map_drops_counts_as_a_type_and_covers_its_span(tmp_path: Path) -> None:
    rows = [
        {
            "text": "卢浮宫在巴黎，卢浮宫很大",
            "label": {"address": {"卢浮宫": [[0, 2]], "巴黎": [[4, 5]]}, "scene": {"卢浮宫": [[7, 9]]}},
        },
        {"text": "参观卢浮宫", "label": {"scene": {"卢浮宫": [[2, 4]]}}},
    ]
    src = tmp_path / "c.json"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "f.jsonl"
    result = audit([src], label_map={"address": "ADDRESS", "scene": None}, findings_path=out, progress=False)
    assert kinds(findings(out)) == [("type_conflict", "1", 0, 3)]
    assert result.surfaces["卢浮宫"].describe() == "scene (dropped) 2, ADDRESS 1"


def test_overlapping_nested_and_same_span_two_types(tmp_path: Path) -> None:
    text = "北京大学附属医院张医生"
    records = [
        {"text": text, "spans": [{"start": 0, "end": 8, "label": "ORG"}, {"start": 0, "end": 2, "label": "ADDRESS"}]},
        {"text": text, "spans": [{"start": 0, "end": 4, "label": "ORG"}, {"start": 2, "end": 6, "label": "ORG"}]},
        {"text": text, "spans": [{"start": 8, "end": 9, "label": "PERSON"}, {"start": 8, "end": 9, "label": "ORG"}]},
    ]
    _, found = run(tmp_path, records)
    overlaps = [f for f in found if f["kind"] == "overlap"]
    assert [(f["where"].rsplit(":", 1)[1], f["detail"]) for f in overlaps] == [
        ("1", "ADDRESS [0, 2) nested in ORG [0, 8)"),
        ("2", "ORG [0, 4) and ORG [2, 6) cross"),
        ("3", "the same span labelled ORG and PERSON"),
    ]


def test_every_input_format_the_converters_read_with_a_preset(tmp_path: Path) -> None:
    cluener = tmp_path / "c.json"
    rows = [
        {"text": "王五在上海，王五", "label": {"name": {"王五": [[0, 1]]}, "address": {"上海": [[3, 4]]}}},
        {"text": "《王五传》", "label": {"book": {"《王五传》": [[0, 4]]}}},
    ]
    cluener.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    result = audit([cluener], label_map={"name": "PERSON", "address": "ADDRESS", "book": None}, progress=False)
    assert result.types == {"PERSON": 1, "ADDRESS": 1} and result.dropped_labels == {"book": 1}
    assert result.findings == {"repeat": 1}  # inside the dropped book title the annotator decided: no gap
    conll = tmp_path / "s.bmes"
    conll.write_text("赵 B-NAME\n六 E-NAME\n说 O\n赵 O\n六 O\n", encoding="utf-8")
    result = audit([conll], label_map={"NAME": "PERSON"}, progress=False)
    assert result.types == {"PERSON": 1} and result.findings == {"repeat": 1}


def test_rejected_records_are_counted_with_their_reasons(tmp_path: Path) -> None:
    records = [
        pii("王五来了", ("PERSON", "王五", 0)),
        {"input": "x", "output": {"entities": [{"type": "WHAT", "value": "x"}]}},
    ]
    result, _ = run(tmp_path, records)
    assert result.read == 2 and result.samples == 1 and result.rejected == 1
    assert result.rejected_at[0].endswith(
        ":2: unknown label 'WHAT': map it with --label-map (a preset such as cluener, "
        "or a file: label -> type, or null to drop)"
    )


def test_values_masked_unless_asked_and_the_report_counts_per_type(tmp_path: Path) -> None:
    records = [pii("张三说张三", ("PERSON", "张三", 0))]
    result, found = run(tmp_path, records)
    assert found[0]["value"] == "**"
    report = render(result, ["in.jsonl"], "none")
    assert "张三" not in report
    assert "| PERSON | 1 | 1 | 0 | 0 | 0 | 0 |" in report and "| all | 1 | 1 | 0 | 0 | 0 | 0 |" in report
    _, shown = run(tmp_path, records, show_values=True)
    assert shown[0]["value"] == "张三" and "张三" in render(result, ["in.jsonl"], "none", show_values=True)


def test_cli_fix_repeats_writes_a_reconciled_copy_atomically(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_jsonl(
        tmp_path / "in.jsonl",
        [pii("张三说张三和张三", ("PERSON", "张三", 0)), pii(f"卡主李四{ID}", ("PERSON", "李四", 2))],
    )
    fixed, report = tmp_path / "fixed.jsonl", tmp_path / "audit.md"
    assert (
        main(
            ["audit", str(src), "--fix", "repeats", "--fixed-out", str(fixed), "--report", str(report), "--no-progress"]
        )
        == 0
    )
    rows = [json.loads(line) for line in fixed.read_text(encoding="utf-8").splitlines()]
    assert [e["start"] for e in rows[0]["output"]["entities"]] == [0, 3, 6]
    assert len(rows[1]["output"]["entities"]) == 1  # a rule hit is reported, not labelled
    text = report.read_text(encoding="utf-8")
    assert "holds gold plus what was added" in text and "| PERSON | 2 | 2 | 4 | 4 |" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.md", "fixed.jsonl", "in.jsonl"]  # no temporary left
    again = audit([fixed], progress=False)
    assert again.findings == {"rule_hit": 1}


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(tmp_path / "missing.jsonl"), "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'missing.jsonl'}: no such file"
    assert main(["audit", str(tmp_path / "missing.jsonl"), "--fixed-out", "x.jsonl"]) == 2


def test_state_grows_with_distinct_surfaces_not_records(tmp_path: Path) -> None:
    records = [pii(f"王五第{i}次来访", ("PERSON", "王五", 0)) for i in range(2000)]
    result, found = run(tmp_path, records)
    assert found == [] and len(result.surfaces) == 1 and result.surfaces["王五"].labelled_in == 2000


def twins(n: int, seed: int) -> list[dict[str, Any]]:
    """Synthetic samples, each twice (a numbered suffix keeps the texts apart): every value is
    labelled in two records, as names and numbers recur across a real corpus."""
    out = []
    for i, sample in enumerate(generate(n, seed=seed)):
        for copy in range(2):
            record = sample.to_user_json()
            record["input"] += f"（第{i}-{copy}条）"
            out.append(record)
    return out


def test_clean_synthetic_data_gets_no_finding(tmp_path: Path) -> None:
    result, found = run(tmp_path, twins(300, seed=3))
    assert sum(result.types.values()) > 500
    assert found == [] and sum(result.findings.values()) == 0


def plant_gaps(records: list[dict[str, Any]], rate: float, seed: int) -> set[tuple[int, int, int]]:
    """Remove labels at random (seeded) from one copy of each twin pair: each gap is a value left
    unlabelled where its other copy labels it, the gap the audit is for. ``(line, start, end)``
    of each removed label. (A value labelled nowhere is invisible to a label audit, unless a
    checksum rule finds it.)"""
    rng = random.Random(seed)
    planted = set()
    for first in range(0, len(records), 2):
        pair = records[first : first + 2]
        for j in reversed(range(len(pair[0]["output"]["entities"]))):
            if rng.random() < rate:
                copy = rng.randrange(2)
                ent = pair[copy]["output"]["entities"].pop(j)
                planted.add((first + copy + 1, ent["start"], ent["end"]))
    return planted


@pytest.mark.parametrize("seed", [4, 15])
def test_planted_gaps_are_found(tmp_path: Path, seed: int) -> None:
    """At least 95% of the planted gaps found, and nothing reported that was not planted."""
    records = twins(300, seed=seed)
    planted = plant_gaps(records, 0.15, seed)
    assert len(planted) > 80
    _, found = run(tmp_path, records)
    reported = {(int(f["where"].rsplit(":", 1)[1]), f["start"], f["end"]) for f in found}
    assert {f["kind"] for f in found} <= {"repeat", "unlabelled_elsewhere", "rule_hit"}
    assert reported <= planted
    assert len(reported & planted) / len(planted) >= 0.95, f"found {len(reported & planted)} of {len(planted)}"


def test_bench_rows_side_by_side_with_convert() -> None:
    rows = bench_audit.run(0.001)
    assert [r.figure for r in rows] == [
        "audit (2 passes, every check, findings JSONL)",
        "audit / convert speed",
        "audit peak RSS 10000 / 1000 records",
    ]
    assert all(r.value > 0 for r in rows) and "convert" in rows[1].note
