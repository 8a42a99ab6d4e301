"""The one rule that places values at offsets (piifactory.offsets), and that every caller uses it."""

from __future__ import annotations

import pytest

from converters.record_checks import build_sample
from converters.records import RawEntity, RecordError
from eval.scoring import spans
from piifactory.offsets import fold_width, holds, mentions, occurrences, place
from piifactory.rules import hybrid
from piifactory.schema import Entity, order_by_appearance


def test_repeats_take_the_next_occurrence_and_run_out() -> None:
    text = "张三和张三"
    ents = [Entity("PERSON", "张三"), Entity("PERSON", "张三"), Entity("PERSON", "张三")]
    assert place(text, ents) == [(0, 2), (3, 5), None]


def test_occurrences_of_one_value_never_overlap() -> None:
    assert list(occurrences("aaaa", "aa")) == [(0, 2), (2, 4)]


def test_given_offsets_are_placed_first_and_never_reused() -> None:
    text = "李四说李四"
    ents = [Entity("PERSON", "李四"), Entity("PERSON", "李四", 0, 2)]
    assert place(text, ents) == [(3, 5), (0, 2)]


def test_given_offsets_that_do_not_hold_the_value_are_replaced() -> None:
    text = "A13812345678 B13812345678"
    assert place(text, [Entity("PHONE", "13812345678", 14, 25)]) == [(14, 25)]
    assert place(text, [Entity("PHONE", "13812345678", 13, 24)]) == [(1, 12)]
    assert place(text, [Entity("PHONE", "13812345678", 20, 99)]) == [(1, 12)]


def test_free_standing_occurrences_come_before_glued_ones() -> None:
    text = "编号5123，年龄12岁"
    assert list(occurrences(text, "12")) == [(9, 11), (3, 5)]
    assert place(text, [Entity("PERSON", "12"), Entity("PERSON", "12")]) == [(9, 11), (3, 5)]


def test_loose_match_folds_width_case_whitespace_and_identifier_separators() -> None:
    text = "电话１３８－１２３４－５６７８，邮箱 Li@Mail.CN ，地址 北京市  朝阳区"
    phone, email, addr = place(
        text, [Entity("PHONE", "13812345678"), Entity("EMAIL", "li@mail.cn"), Entity("ADDRESS", "北京市 朝阳区")]
    )
    assert text[phone[0] : phone[1]] == "１３８－１２３４－５６７８"
    assert text[email[0] : email[1]] == "Li@Mail.CN"
    assert text[addr[0] : addr[1]] == "北京市  朝阳区"
    assert place("张 三", [Entity("PERSON", "张三")]) == [None]  # separators are optional only inside identifiers
    assert place("13812345678", [Entity("PHONE", "138 1234 5678")]) == [(0, 11)]


def test_verbatim_occurrences_come_before_loose_ones() -> None:
    text = "138-1234-5678 或 13812345678"
    assert list(occurrences(text, "13812345678", identifier=True)) == [(16, 27), (0, 13)]


def test_nested_values_of_different_types_are_both_placed() -> None:
    text = "《招商银行年报》"
    assert place(text, [Entity("ORG", "《招商银行年报》"), Entity("ORG", "招商银行")]) == [(0, 8), (1, 5)]


def test_no_nfkc_offsets_stay_offsets_into_the_text() -> None:
    text = "㈱东方公司"
    assert fold_width(text) == text  # NFKC would turn ㈱ into three characters
    assert place(text, [Entity("ORG", "东方公司")]) == [(1, 5)]


def test_holds_needs_integer_offsets_inside_the_text() -> None:
    assert holds("abc", 0, 3, "ABC")
    assert not holds("abc", True, 3, "abc")
    assert not holds("abc", 1, 1, "")
    assert not holds("abc", 0, 4, "abc")
    assert not holds("abc", 0, 2, "abc")


def test_mentions_are_every_occurrence_of_the_best_kind() -> None:
    assert mentions("王五和王五，王五", "王五") == [(0, 2), (3, 5), (6, 8)]
    assert mentions("5123 和 12", "12") == [(7, 9)]  # the glued one is not a mention
    assert mentions("5123", "12") == [(1, 3)]
    assert mentions("文本", "  ") == []


def test_every_caller_places_the_same_way() -> None:
    text = "张三和张三，电话１３８ １２３４ ５６７８"
    ents = [
        Entity("PERSON", "张三"),
        Entity("PHONE", "13812345678"),
        Entity("PERSON", "张三"),
        Entity("PERSON", "张三"),
    ]
    expected = place(text, ents)
    assert expected == [(0, 2), (8, 21), (3, 5), None]
    aligned, missing = spans.align(text, ents)
    assert [(s, e) for _, s, e in aligned] == [s for s in expected if s] and missing == 1
    merged = hybrid.align(text, ents)
    assert [(d.entity.start, d.entity.end) if d.entity.has_span else None for d in merged] == expected
    assert order_by_appearance(ents, text) == [ents[0], ents[2], ents[1], ents[3]]
    sample = build_sample(text, [RawEntity(e.type, e.value) for e in ents[:3]])
    assert sorted((e.start, e.end) for e in sample.entities) == sorted(s for s in expected if s)
    assert [e.value for e in sample.entities] == ["张三", "张三", "１３８ １２３４ ５６７８"]  # the text's own form
    with pytest.raises(RecordError, match="listed more times than it occurs"):
        build_sample(text, [RawEntity(e.type, e.value) for e in ents])
    with pytest.raises(RecordError, match="not found in the text"):
        build_sample(text, [RawEntity("PERSON", "王五")])
