"""Quirks of real outside corpora, each reproduced by a small fixture of our own
(tests/fixtures/converters): tag schemes, CoNLL columns, Weibo's position tokens, CESU-8 emoji,
MultiPriv attribute records, and the built-in label presets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from converters.cli import main
from converters.conformance import Corpus, check, position_digits, report, unlisted
from converters.conll import read_conll, sniff_token_form
from converters.label_presets import PRESETS, get_preset
from converters.readers import read_records
from converters.records import Record, Rejected
from piifactory.io import InputError
from piifactory.schema import PII_TYPES, canonical_type

FIXTURES = Path(__file__).parent / "fixtures" / "converters"


def _read(name: str | Path, preset: str | None = None, **kwargs: object) -> list[Record | Rejected]:
    label_map = get_preset(preset).label_map() if preset else None
    return list(read_records(FIXTURES / name if isinstance(name, str) else name, label_map=label_map, **kwargs))


def _spans(record: Record | Rejected) -> list[tuple[str, str]]:
    assert isinstance(record, Record), getattr(record, "reason", record)
    for e in record.sample.entities:
        assert record.sample.text[e.start : e.end] == e.value
    return [(e.type, e.value) for e in record.sample.entities]


def test_bmes_reads_m_as_inside_and_s_as_single() -> None:
    first, second = _read("resume.bmes", "resume")
    assert first.sample.text == "张伟明，汉族，任华为公司董事"
    assert _spans(first) == [("PERSON", "张伟明"), ("ORG", "华为公司")]
    assert first.dropped == ("RACE", "TITLE")
    assert _spans(second) == [("PERSON", "王")]


def test_iob1_opens_with_i_and_splits_adjacent_entities_at_b() -> None:
    first, second = _read("iob1.conll", "msra")
    assert first.sample.text == "Ann Lee met Bob Carl in Paris ."  # word tokens joined with spaces
    assert _spans(first) == [("PERSON", "Ann Lee"), ("PERSON", "Bob"), ("PERSON", "Carl"), ("ADDRESS", "Paris")]
    assert _spans(second) == [("PERSON", "Dora")]


def test_bio_file_rejects_an_i_tag_that_opens_an_entity() -> None:
    *_, slip = _read("weibo_cesu8.conll", "weibo")
    assert isinstance(slip, Rejected) and slip.line == 12
    assert "continues an entity that no B-ORG.NAM opened" in slip.reason


def test_tab_columns_keep_a_space_token_and_bioes_closes_at_e() -> None:
    (record,) = _read("bioes_tab.conll", "msra")
    assert record.sample.text == "李四 和王在上海"
    assert _spans(record) == [("PERSON", "李四"), ("PERSON", "王"), ("ADDRESS", "上海")]


def test_weibo_position_tokens_are_detected_and_stripped() -> None:
    assert sniff_token_form(FIXTURES / "weibo_position.conll") == "char-position"
    assert sniff_token_form(FIXTURES / "resume.bmes") == "plain"
    first, bad = _read("weibo_position.conll", "weibo")
    assert first.sample.text == "口腔新乡的\ufffd\ufffd老师abcdefghijk0张三"  # k10 and 011: two-digit positions
    assert _spans(first) == [("ADDRESS", "新乡"), ("PERSON", "张三")]
    assert first.dropped == ("PER.NOM",)
    assert isinstance(bad, Rejected) and bad.line == 25 and "does not end with its position" in bad.reason


def test_plain_tokens_flag_keeps_what_the_file_says() -> None:
    first, _ = _read("weibo_position.conll", "weibo", conll_tokens="plain")
    assert first.sample.text.startswith("口0 腔1 新0 乡1")  # what the reader did before: visible, not silent


def test_cesu8_halves_on_two_lines_become_one_emoji_and_a_lone_half_is_rejected() -> None:
    first, lone, _ = _read("weibo_cesu8.conll", "weibo")
    assert first.sample.text == "哭\U0001f62d张三"
    assert _spans(first) == [("PERSON", "张三")]
    assert isinstance(lone, Rejected) and lone.line == 8 and "surrogate half" in lone.reason
    assert "\\ud83d" in json.dumps(lone.to_json())  # the rejects file can still write the block


def test_cesu8_inside_json_lines_and_json_arrays_is_repaired(tmp_path: Path) -> None:
    emoji = "😭".encode("utf-16-le")
    cesu = b"".join(
        emoji[i : i + 2].decode("utf-16-le", "surrogatepass").encode("utf-8", "surrogatepass") for i in (0, 2)
    )
    line = (
        b'{"input": "\xe5\xbc\xa0\xe4\xb8\x89'
        + cesu
        + b'", "output": {"entities": [{"type": "PERSON", "value": "\xe5\xbc\xa0\xe4\xb8\x89"}]}}'
    )
    (tmp_path / "a.jsonl").write_bytes(line + b"\n" + line[:-20] + cesu[:3] + b'"}]}}\n')
    good, bad = _read(tmp_path / "a.jsonl")
    assert good.sample.text == "张三😭" and _spans(good) == [("PERSON", "张三")]
    assert isinstance(bad, Rejected) and "lone UTF-16 surrogate half" in bad.reason
    (tmp_path / "a.json").write_bytes(b"[" + line + b"]")
    assert _read(tmp_path / "a.json")[0].sample.text == "张三😭"


def test_multipriv_records_crlf_integer_ids_missing_values_and_every_mention() -> None:
    assert b"\r\n" in (FIXTURES / "multipriv.json").read_bytes()
    first, second, third = _read("multipriv.json", "multipriv")  # detected from the naturalParagraph field
    assert _spans(first) == [
        ("PERSON", "白雅宁"),
        ("ADDRESS", "黑龙江省哈尔滨市南岗区中山路123号"),
        ("EMAIL", "baiyaning@163.com"),
        ("PHONE", "13945671234"),
        ("ID_CARD", "230103198008273629"),
        ("PERSON", "韩雪梅"),
        ("PERSON", "白雅宁"),
    ]
    assert set(first.dropped) == {"gender", "age", "symptoms", "creditScore", "income"}  # a float income is never read
    assert _spans(second) == [
        ("PERSON", "沈雨桐"),
        ("PHONE", "13857123456"),
        ("ID_CARD", "110101199001011237"),
        ("PERSON", "张伟明"),
    ]
    assert isinstance(third, Rejected) and third.reason == "PERSON value (3 characters) not found in the text"


def test_multipriv_without_a_preset_names_the_unknown_field() -> None:
    records = _read("multipriv.json")
    assert all(isinstance(r, Rejected) and r.reason.startswith("unknown label 'gender'") for r in records)


def test_integer_values_are_their_digits_and_floats_are_refused(tmp_path: Path) -> None:
    src = tmp_path / "int.jsonl"
    rows = [
        {"input": "电话13812345678", "output": {"entities": [{"type": "PHONE", "value": 13812345678}]}},
        {"input": "收入1.5", "output": {"entities": [{"type": "PHONE", "value": 1.5}]}},
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    good, bad = _read(src)
    assert _spans(good) == [("PHONE", "13812345678")]
    assert isinstance(bad, Rejected) and "must be str or int, got float" in bad.reason


def test_presets_map_only_to_pii_types_and_say_why_they_drop() -> None:
    assert {
        "cluener",
        "weibo",
        "resume",
        "msra",
        "peoples-daily",
        "presidio-research",
        "ai4privacy",
        "multipriv",
    } <= set(PRESETS)
    assert PRESETS["msra"] is PRESETS["peoples-daily"]
    for preset in PRESETS.values():
        assert set(preset.maps.values()) <= set(PII_TYPES)
        assert all(reason.strip() for reason in preset.drops.values())
        assert preset.label_map().keys() == preset.maps.keys() | preset.drops.keys()


def test_a_preset_maps_only_what_the_schema_aliases_do_not() -> None:
    from converters.label_presets import LabelPreset

    assert canonical_type("PHONE_NUMBER", PRESETS["presidio-research"].label_map()) == "PHONE"  # from the schema
    with pytest.raises(ValueError, match="repeat the schema's aliases"):
        LabelPreset("x", "a corpus", {"PHONE_NUMBER": "PHONE"}, {})


def test_label_map_option_takes_a_preset_and_the_summary_says_what_it_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "convert",
        str(FIXTURES / "cluener.jsonl"),
        "--name",
        "c",
        "--out-dir",
        str(tmp_path),
        "--no-register",
        "--split",
        "1,0,0",
        "--no-progress",
        "--label-map",
        "cluener",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "spans dropped on purpose by the label map (not PII):" in out
    assert "  position 1: a job title" in out and "  game 1: the title of a work" in out
    rows = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
    assert [json.loads(r["output"])["entities"] for r in rows] == [
        [{"type": "ORG", "value": "浙商银行"}, {"type": "PERSON", "value": "叶老桂"}],
        [],
    ]
    assert main([*args[:-1], "no-such-preset"]) == 2
    assert (
        "no label preset 'no-such-preset' (and no such file); presets: ai4privacy, cluener" in capsys.readouterr().err
    )


def test_a_label_the_preset_does_not_list_stays_an_error(tmp_path: Path) -> None:
    src = tmp_path / "x.jsonl"
    src.write_text(
        json.dumps({"text": "张三", "label": {"hero": {"张三": [[0, 1]]}}}, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (rejected,) = _read(src, "cluener")
    assert isinstance(rejected, Rejected) and "unknown label 'hero'" in rejected.reason


def test_conformance_checks_rows_and_explains_each_rejection(tmp_path: Path) -> None:
    corpus = Corpus(
        "weibo_position.conll", "weibo", "conll", {"ADDRESS": 1, "PERSON": 1}, {25: "a token without its position"}
    )
    result = check(FIXTURES, corpus, tmp_path / "a")
    assert (result.read, result.written, result.rejects.keys()) == (2, 1, {25})
    assert result.types == {"ADDRESS": 1, "PERSON": 1} and result.dropped == {"PER.NOM": 1}
    assert result.ok and not result.unexplained and not result.vanished
    assert not check(
        FIXTURES, Corpus("weibo_position.conll", "weibo", "conll", corpus.types), tmp_path / "b"
    ).ok  # an unexplained rejection
    wrong = check(
        FIXTURES, Corpus("weibo_position.conll", "weibo", "conll", {"PERSON": 2}, corpus.expected), tmp_path / "c"
    )
    assert not wrong.ok and wrong.corruption == "entities differ from SOURCE.md's: PERSON 2"
    lines = report(FIXTURES, [result], ["new.json"])
    assert any("explained: a token without its position" in line for line in lines)
    assert any("`new.json`: a file no manifest entry names" in line for line in lines)


def test_conformance_finds_position_digits_left_in_text() -> None:
    assert position_digits("口0腔1溃2疡3") and not position_digits("2023年3月在北京工作了5年")
    text, _ = next(
        parsed for _, parsed, _ in read_conll(FIXTURES / "weibo_position.conll", "plain") if isinstance(parsed, tuple)
    )
    assert position_digits(text)  # read as plain, the digits stay, and the check sees them


def test_conformance_command_needs_the_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert unlisted(FIXTURES)  # none of the fixtures is a manifest entry


def test_a_lone_half_in_a_json_array_names_its_byte(tmp_path: Path) -> None:
    half = "\ud83d".encode("utf-8", "surrogatepass")
    (tmp_path / "a.json").write_bytes(b'[{"input": "\xe5\xbc\xa0' + half + b'", "output": {"entities": []}}]')
    with pytest.raises(InputError, match=r"a lone UTF-16 surrogate half \(CESU-8\) at byte 15"):
        list(read_records(tmp_path / "a.json"))
