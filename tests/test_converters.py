"""converters: every input format into alpaca/sharegpt rows, checks with file:line messages,
registry merging, split, balancing and chunking."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from bench.fixtures import write_alpaca_splits
from converters import Balance, ConvertOptions, chunk_sample, convert, file_keys, find_leaks, iter_rows
from converters.cli import main
from converters.tokens import char_spans
from piifactory.schema import DEFAULT_INSTRUCTION, Entity, Sample
from piifactory.synth import generate

FIXTURES = Path(__file__).parent / "fixtures" / "converters"


def _answer(*entities: tuple[str, str]) -> str:
    return json.dumps({"entities": [{"type": t, "value": v} for t, v in entities]}, ensure_ascii=False)


# (fixture, extra CLI args, expected (input, answer) per row in input order)
FORMAT_CASES = {
    "pii": (
        "pii.jsonl",
        [],
        [
            ("客户张伟，手机号13812345678，请回电。", _answer(("PERSON", "张伟"), ("PHONE", "13812345678"))),
            (
                "收件人：李娜，地址：北京市朝阳区建国路88号，电话010-65001234",
                _answer(("PERSON", "李娜"), ("ADDRESS", "北京市朝阳区建国路88号"), ("PHONE", "010-65001234")),
            ),
            ("订单号DD2024010100001已发货，金额25.00元。", _answer()),
        ],
    ),
    "spans": (
        "spans.jsonl",
        [],
        [
            (
                "王芳的邮箱是wangfang@example.com，身份证号110101199003071234。",
                _answer(("PERSON", "王芳"), ("EMAIL", "wangfang@example.com"), ("ID_CARD", "110101199003071234")),
            ),
            ("车牌京A12345的车主赵强已缴费。", _answer(("LICENSE_PLATE", "京A12345"), ("PERSON", "赵强"))),
        ],
    ),
    "presidio": (
        "presidio.jsonl",
        [],
        [
            (
                "请联系陈静，电话13900001111，公司为深圳市腾讯计算机系统有限公司。",
                _answer(("PERSON", "陈静"), ("PHONE", "13900001111"), ("ORG", "深圳市腾讯计算机系统有限公司")),
            ),
        ],
    ),
    "cluener": (
        "cluener.jsonl",
        ["--label-map", str(FIXTURES / "cluener_label_map.json")],
        [
            (
                "浙商银行企业信贷部叶老桂博士则从另一个角度对五道门槛进行了解读。",
                _answer(("ORG", "浙商银行"), ("PERSON", "叶老桂")),
            ),
            ("生生不息CSOL生化狂潮让你填弹狂扫", _answer()),
        ],
    ),
    "ai4privacy": (
        "ai4privacy.jsonl",
        [],
        [
            (
                "Dear Zhang Min, please call 0044 20 7946 0958 or write to min.zhang@mail.cn.",
                _answer(
                    ("PERSON", "Zhang"),
                    ("PERSON", "Min"),
                    ("PHONE", "0044 20 7946 0958"),
                    ("EMAIL", "min.zhang@mail.cn"),
                ),
            ),
        ],
    ),
    "bio": (
        "people.bio",
        [],
        [
            ("我叫刘洋住在上海市浦东新区", _answer(("PERSON", "刘洋"), ("ADDRESS", "上海市浦东新区"))),
            ("今天天气很好", _answer()),
        ],
    ),
    "conll": (
        "english.conll",
        [],
        [
            ("John Smith works at Acme Corp .", _answer(("PERSON", "John Smith"), ("ORG", "Acme Corp"))),
        ],
    ),
}


def _convert_cli(tmp_path: Path, inputs: list[Path], *args: str) -> int:
    return main(
        [
            "convert",
            *map(str, inputs),
            "--name",
            "ds",
            "--out-dir",
            str(tmp_path / "out"),
            "--dataset-info",
            str(tmp_path / "dataset_info.json"),
            "--no-progress",
            *args,
        ]
    )


@pytest.mark.parametrize("case", sorted(FORMAT_CASES))
def test_each_format_converts_to_alpaca(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fixture, extra, expected = FORMAT_CASES[case]
    assert _convert_cli(tmp_path, [FIXTURES / fixture], "--split", "1,0,0", *extra) == 0
    rows = json.loads((tmp_path / "out" / "ds.json").read_text(encoding="utf-8"))
    assert rows == [{"instruction": DEFAULT_INSTRUCTION, "input": text, "output": answer} for text, answer in expected]
    info = json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8"))
    assert info == {"ds": {"file_name": "out/ds.json"}}
    assert (
        f"read {len(expected)} = written {len(expected)} + dropped negatives 0 + rejected 0" in capsys.readouterr().out
    )


def test_plain_sft_passes_through_with_system_column(tmp_path: Path) -> None:
    assert _convert_cli(tmp_path, [FIXTURES / "sft.jsonl"], "--split", "1,0,0", "--file-type", "jsonl") == 0
    rows = [json.loads(line) for line in (tmp_path / "out" / "ds.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rows == [
        {
            "instruction": "什么是个人敏感信息？",
            "input": "",
            "output": "个人敏感信息是一旦泄露可能危害人身和财产安全的个人信息。",
        },
        {
            "instruction": "把下面的句子翻译成英文。",
            "input": "数据需要脱敏。",
            "output": "The data needs to be desensitized.",
            "system": "你是数据合规助手。",
        },
    ]
    info = json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8"))
    assert info["ds"] == {
        "file_name": "out/ds.jsonl",
        "columns": {"prompt": "instruction", "query": "input", "response": "output", "system": "system"},
    }


def test_sharegpt_messages_with_custom_prompts(tmp_path: Path) -> None:
    assert (
        _convert_cli(
            tmp_path,
            [FIXTURES / "presidio.jsonl"],
            "--split",
            "1,0,0",
            "--format",
            "sharegpt",
            "--instruction",
            "列出PII。",
            "--system",
            "你是审计员。",
        )
        == 0
    )
    rows = json.loads((tmp_path / "out" / "ds.json").read_text(encoding="utf-8"))
    text, answer = FORMAT_CASES["presidio"][2][0]
    assert rows == [
        {
            "messages": [
                {"role": "system", "content": "你是审计员。"},
                {"role": "user", "content": f"列出PII。\n{text}"},
                {"role": "assistant", "content": answer},
            ]
        }
    ]
    entry = json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8"))["ds"]
    assert entry["formatting"] == "sharegpt" and "format" not in entry
    assert entry["columns"] == {"messages": "messages"}
    assert entry["tags"] == {
        "role_tag": "role",
        "content_tag": "content",
        "user_tag": "user",
        "assistant_tag": "assistant",
        "system_tag": "system",
    }


BAD_RECORDS = [
    (
        "pii",
        {
            "input": "张三电话13800138000",
            "output": {"entities": [{"type": "PHONE", "value": "13800138000", "start": 4, "end": 40}]},
        },
        "PHONE span [4, 40) is outside the text (length 15) or empty",
    ),
    (
        "pii",
        {
            "input": "张三电话13800138000",
            "output": {"entities": [{"type": "PHONE", "value": "13800138001", "start": 4, "end": 15}]},
        },
        "PHONE span [4, 15) does not hold its value (the text there differs; value has 11 characters)",
    ),
    (
        "pii",
        {"input": "张三电话13800138000", "output": {"entities": [{"type": "PERSON", "value": "李四"}]}},
        "PERSON value (2 characters) not found in the text",
    ),
    ("pii", {"input": "   ", "output": {"entities": []}}, "empty text"),
    ("pii", {"input": 42, "output": {"entities": []}}, "field 'input' must be str, got int"),
    (
        "pii",
        {"input": "张三", "output": {"entities": [{"type": "PERSON", "value": "张三", "start": "0", "end": 2}]}},
        "PERSON offsets must be integers, got start='0' end=2",
    ),
    ("pii", {"input": "张三", "output": {"entities": "张三"}}, "field 'output.entities' must be list, got str"),
    (
        "spans",
        {
            "text": "张三丰来了",
            "spans": [{"start": 0, "end": 3, "label": "PERSON"}, {"start": 0, "end": 2, "label": "PERSON"}],
        },
        "spans overlap: PERSON [0, 3) and PERSON [0, 2)",
    ),
    (
        "spans",
        {
            "text": "张三来了",
            "spans": [{"start": 0, "end": 2, "label": "PERSON"}, {"start": 0, "end": 2, "label": "ORG"}],
        },
        "the same span has two types: PERSON [0, 2) and ORG",
    ),
    (
        "spans",
        {"text": "张三来了", "spans": [{"start": 0, "end": 2, "label": "movie"}]},
        "unknown label 'movie': map it with --label-map (a preset such as cluener",
    ),
    ("spans", {"text": "张三来了", "spans": [{"start": 0, "label": "PERSON"}]}, "spans[0] needs 'start' and 'end'"),
    (
        "cluener",
        {"text": "叶老桂博士", "label": {"name": {"叶老桂": [[0, 3]]}}},
        "PERSON span [0, 4) does not hold its value (the text there differs; value has 3 characters)",
    ),
    (
        "ai4privacy",
        {"source_text": "Hi Ann", "privacy_mask": {"value": "Ann"}},
        "field 'privacy_mask' must be list or str, got dict",
    ),
    ("sft", {"instruction": "问", "output": ""}, "empty 'instruction' or 'output'"),
]


@pytest.mark.parametrize(("fmt", "record", "message"), BAD_RECORDS, ids=[m[:30] for _, _, m in BAD_RECORDS])
def test_bad_record_stops_with_file_line_message(
    fmt: str, record: dict, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    good = {
        "pii": {"input": "你好", "output": {"entities": []}},
        "spans": {"text": "你好", "spans": []},
        "cluener": {"text": "你好", "label": {}},
        "ai4privacy": {"source_text": "hi", "privacy_mask": []},
        "sft": {"instruction": "问", "output": "答"},
    }[fmt]
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in (good, record, good)) + "\n", encoding="utf-8")
    assert _convert_cli(tmp_path, [src]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {src}:2: {message}"), err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("ds*"))
    assert not (tmp_path / "dataset_info.json").exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.jsonl", '{"input": "a", "output": {"entities": []}}\n{"input": "b",\n', ":2: invalid JSON"),
        ("bad.bio", "张 B-PER\n三 X-PER\n", ":2: tag 'X-PER' is not O or B-X, I-X, M-X, E-X, L-X, S-X, U-X"),
        ("odd.jsonl", '{"foo": 1}\n', ":1: cannot tell the format from the fields ['foo']"),
    ],
)
def test_unreadable_input_messages(
    name: str, content: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / name
    src.write_text(content, encoding="utf-8")
    assert _convert_cli(tmp_path, [src]) == 2
    err = capsys.readouterr().err
    assert f"{src}{message}" in err and "Traceback" not in err


def test_skip_invalid_writes_rejects_and_reconciles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jsonl"
    lines = [json.dumps(s.to_user_json(), ensure_ascii=False) for s in generate(20, seed=5)]
    lines[3] = '{"input": "张三", "output": {"entities": [{"type": "PERSON", "value": "李四"}]}}'
    lines[7] = "not json"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert _convert_cli(tmp_path, [src], "--skip-invalid") == 0
    assert "read 20 = written 18 + dropped negatives 0 + rejected 2" in capsys.readouterr().out
    rejects = [
        json.loads(line) for line in (tmp_path / "out" / "ds_rejects.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (4, "PERSON value (2 characters) not found in the text"),
        (8, "invalid JSON: Expecting value (column 1)"),
    ]
    assert rejects[0]["record"]["input"] == "张三" and rejects[1]["record"] == "not json"
    written = sum(len(list(iter_rows(tmp_path / "out" / f"ds_{s}.json"))) for s in ("train", "val", "test"))
    assert written == 18


def test_registry_keeps_entries_refuses_clashes_and_allows_identical_rewrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    info = tmp_path / "dataset_info.json"
    info.write_text(
        json.dumps({"other": {"file_name": "x.json"}, "ds": {"file_name": "elsewhere.json"}}), encoding="utf-8"
    )
    assert _convert_cli(tmp_path, [FIXTURES / "pii.jsonl"], "--split", "1,0,0") == 2
    assert "already registers ds differently; use --overwrite" in capsys.readouterr().err
    assert not (tmp_path / "out" / "ds.json").exists()
    assert _convert_cli(tmp_path, [FIXTURES / "pii.jsonl"], "--split", "1,0,0", "--overwrite") == 0
    assert json.loads(info.read_text(encoding="utf-8")) == {
        "other": {"file_name": "x.json"},
        "ds": {"file_name": "out/ds.json"},
    }
    assert _convert_cli(tmp_path, [FIXTURES / "pii.jsonl"], "--split", "1,0,0") == 0  # same entry again: no clash


def _synth_file(path: Path, n: int, seed: int) -> Path:
    path.write_text(
        "".join(json.dumps(s.to_user_json(), ensure_ascii=False) + "\n" for s in generate(n, seed)), encoding="utf-8"
    )
    return path


def test_split_is_deterministic_stratified_and_leak_free(tmp_path: Path) -> None:
    src = _synth_file(tmp_path / "in.jsonl", 800, seed=11)
    runs = []
    for run in ("a", "b"):
        options = ConvertOptions(name="ds", out_dir=tmp_path / run, dataset_info=None, progress=False)
        summary = convert([src], options)
        runs.append({s: (tmp_path / run / f"ds_{s}.json").read_bytes() for s in ("train", "val", "test")})
    assert runs[0] == runs[1]
    assert sum(summary.rows.values()) == 800 and summary.leaks == []
    assert abs(summary.rows["val"] - 80) <= 4 and abs(summary.rows["test"] - 80) <= 4
    total = Counter()
    for split in ("train", "val", "test"):
        total.update(summary.types[split])
    for etype, n in total.items():  # every type is split about 80/10/10, rare ones included
        assert abs(summary.types["test"][etype] - n / 10) <= max(3, n * 0.03), (etype, summary.types)
        assert summary.types["val"][etype] >= 1 and summary.types["test"][etype] >= 1
    keys = {s: file_keys(tmp_path / "a" / f"ds_{s}.json") for s in ("train", "val", "test")}
    assert find_leaks(keys) == []
    leaky = {
        "train": file_keys(tmp_path / "a" / "ds_train.json"),
        "test": list(file_keys(tmp_path / "a" / "ds_train.json"))[:2],
    }
    assert [split for _, split, _ in find_leaks(leaky)] == ["test", "test"]


def test_oversampling_and_negative_downsampling_touch_train_only(tmp_path: Path) -> None:
    src = _synth_file(tmp_path / "in.jsonl", 300, seed=12)
    base = convert([src], ConvertOptions(name="b", out_dir=tmp_path, dataset_info=None, progress=False))
    bal = convert(
        [src],
        ConvertOptions(
            name="o",
            out_dir=tmp_path,
            dataset_info=None,
            progress=False,
            balance=Balance(positive=2, types={"PASSPORT": 5}, neg_ratio=0.1),
        ),
    )
    assert bal.rows["val"] == base.rows["val"] and bal.rows["test"] == base.rows["test"]
    assert bal.types["train"]["PERSON"] >= 2 * base.types["train"]["PERSON"]
    assert bal.types["train"]["PASSPORT"] == 5 * base.types["train"]["PASSPORT"] > 0
    train = list(iter_rows(tmp_path / "o_train.json"))
    negatives = sum(r["output"] == '{"entities": []}' for r in train)
    positives_src = len({r["input"] for r in train if r["output"] != '{"entities": []}'})
    base_negatives = sum(r["output"] == '{"entities": []}' for r in iter_rows(tmp_path / "b_train.json"))
    expected = 0.1 * positives_src  # kept by a hash: binomial noise around it, 4 sigma allowed
    assert 0 < negatives <= expected + 4 * expected**0.5 + 1 and negatives < base_negatives / 2
    assert bal.read == bal.written + bal.dropped + bal.rejected and bal.dropped > 0


def test_chunking_keeps_every_entity_whole() -> None:
    sample = generate(40, seed=13)
    text, entities = "", []
    for s in sample:  # one long text made of many samples
        entities += [Entity(e.type, e.value, e.start + len(text), e.end + len(text)) for e in s.entities]
        text += s.text
    long = Sample(text, tuple(entities))
    chunks = chunk_sample(long, max_tokens=60, overlap=10, spans=char_spans)
    assert len(chunks) > 10
    seen = set()
    starts = [text.find(c.text) for c in chunks]
    for chunk, offset in zip(chunks, starts):
        assert len(chunk.text) <= 60 or len(chunk.entities) == 1
        for ent in chunk.entities:
            assert chunk.text[ent.start : ent.end] == ent.value
            seen.add((ent.start + offset, ent.end + offset))
        for ent in entities:  # no entity is cut by the chunk boundary
            assert (
                ent.end <= offset
                or ent.start >= offset + len(chunk.text)
                or (offset <= ent.start and ent.end <= offset + len(chunk.text))
            )
    assert seen == {(e.start, e.end) for e in entities}
    assert all(a < b for a, b in zip(starts, starts[1:]))
    assert any(starts[i + 1] < starts[i] + len(chunks[i].text) for i in range(len(chunks) - 1))  # they overlap


def test_conftest_writer_uses_the_library(tmp_path: Path) -> None:
    write_alpaca_splits(tmp_path, {"train": 6, "val": 2})
    info = json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8"))
    assert info == {
        "pii_synth_train": {"file_name": "pii_synth_train.json"},
        "pii_synth_val": {"file_name": "pii_synth_val.json"},
    }
    rows = json.loads((tmp_path / "pii_synth_train.json").read_text(encoding="utf-8"))
    first = generate(6, seed=100)[0]
    assert len(rows) == 6 and rows[0]["input"] == first.text and rows[0]["instruction"] == DEFAULT_INSTRUCTION
    assert json.loads(rows[0]["output"])["entities"] == [{"type": e.type, "value": e.value} for e in first.entities]


def test_demo_contract_keeps_repo_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m converters convert data/pii_synth.jsonl --name pii_synth --out-dir data` from the repo root."""
    repo_info = Path(__file__).resolve().parents[1] / "dataset_info.json"
    shutil.copy(repo_info, tmp_path / "dataset_info.json")
    (tmp_path / "data").mkdir()
    _synth_file(tmp_path / "data" / "pii_synth.jsonl", 50, seed=0)
    monkeypatch.chdir(tmp_path)
    assert main(["convert", "data/pii_synth.jsonl", "--name", "pii_synth", "--out-dir", "data", "--no-progress"]) == 0
    assert (tmp_path / "dataset_info.json").read_bytes() == repo_info.read_bytes()
    assert (
        sum(
            len(json.loads((tmp_path / "data" / f"pii_synth_{s}.json").read_text(encoding="utf-8")))
            for s in ("train", "val", "test")
        )
        == 50
    )
