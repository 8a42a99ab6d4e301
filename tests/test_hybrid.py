"""Merge policies: what each adds or drops, offsets, sources, and the answer string."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from piifactory.answer import target_text
from piifactory.rules.checksums import id_card_check_char, luhn_check_digit, uscc_check_char
from piifactory.rules.hybrid import RULE_TYPES, align, apply, canonical_policy, merge, to_prediction
from piifactory.rules.recognizers import analyze, passes_checksum
from piifactory.schema import Entity

ID17 = "37011219990122942"
ID = ID17 + id_card_check_char(ID17)
BAD_ID = ID17 + ("0" if ID[-1] != "0" else "1")
CARD = "625552667869819" + luhn_check_digit("625552667869819")
BAD_CARD = CARD[:-1] + str((int(CARD[-1]) + 1) % 10)
USCC = "91350100M000100Y4" + uscc_check_char("91350100M000100Y4")
BAD_USCC = USCC[:-1] + ("0" if USCC[-1] != "0" else "1")
ID_X = "11010519491231002X"  # check character X
TEXT = f"经核实，陈玉珍（身份证{ID}）名下银行卡{CARD}已冻结，电话１３８－１２３４－５６７８。"


def by_type(merged):
    return {(d.type, d.value): d for d in merged}


def check_offsets(text, merged):
    for d in merged:
        if d.entity.has_span:
            assert text[d.start : d.end] == d.value


def test_off_aligns_model_values_and_keeps_them_all():
    model = [Entity("PERSON", "陈玉珍"), Entity("PHONE", "13812345678"), Entity("ID_CARD", BAD_ID)]
    merged = merge(TEXT, model, "off")
    check_offsets(TEXT, merged)
    assert [(d.type, d.source) for d in merged] == [("PERSON", "model"), ("PHONE", "model"), ("ID_CARD", "model")]
    phone = merged[1]
    assert phone.value == "１３８－１２３４－５６７８"  # the model's ASCII copy, aligned to the full-width text
    assert not merged[2].entity.has_span  # a value that is not in the text keeps no offsets


def test_union_adds_rule_hits_the_model_missed_and_marks_agreement():
    model = [Entity("PERSON", "陈玉珍"), Entity("PHONE", "13812345678")]
    merged = merge(TEXT, model, "union")
    check_offsets(TEXT, merged)
    sources = {d.type: d.source for d in merged}
    assert sources == {"PERSON": "model", "ID_CARD": "rules", "BANK_CARD": "rules", "PHONE": "both"}
    assert [d.type for d in merged] == ["PERSON", "ID_CARD", "BANK_CARD", "PHONE"]  # by position


def test_union_resolves_a_hit_and_a_broken_model_value_to_the_rules_span_and_type():
    """The failure on forms: a partial, mistyped or run-on model value over a correct rule hit
    counted as a false positive and hid the hit (union below rules alone)."""
    broken = [Entity("PASSPORT", ID), Entity("BANK_CARD", CARD[:9]), Entity("PHONE", "１３８－１２３４－５６７８。")]
    merged = merge(TEXT, broken, "union")
    check_offsets(TEXT, merged)
    got = [(d.type, d.value, d.source) for d in merged]
    assert got == [
        ("ID_CARD", ID, "rules-over-model"),
        ("BANK_CARD", CARD, "rules-over-model"),
        ("PHONE", "１３８－１２３４－５６７８", "rules-over-model"),
    ]


def test_union_keeps_free_text_entities_beside_an_overlapping_hit():
    text = "寄到北京市朝阳区建国路1号电话13812345678"
    merged = merge(text, [Entity("ADDRESS", "北京市朝阳区建国路1号电话13812345678")], "union")
    assert [(d.type, d.source) for d in merged] == [("ADDRESS", "model"), ("PHONE", "rules")]


def test_verify_drops_checksum_failures_only():
    model = [
        Entity("PERSON", "陈玉珍"),
        Entity("ID_CARD", BAD_ID),
        Entity("BANK_CARD", BAD_CARD),
        Entity("USCC", BAD_USCC),
        Entity("PHONE", "13812345678"),
    ]
    merged = merge(TEXT, model, "verify")
    assert [d.type for d in merged] == ["PERSON", "PHONE"]
    assert all(d.source == "model" for d in merged)


def test_verify_keeps_valid_checksums_with_separators():
    spaced = " ".join(CARD[i : i + 4] for i in range(0, 16, 4))
    assert passes_checksum(Entity("BANK_CARD", spaced))
    assert passes_checksum(Entity("ID_CARD", ID_X.lower())) and passes_checksum(Entity("USCC", USCC.lower()))
    assert passes_checksum(Entity("PERSON", "anything"))
    assert not passes_checksum(Entity("BANK_CARD", "1234"))


def test_union_verify_replaces_a_wrong_model_id_with_the_valid_one():
    text = f"身份证{ID}，复印件上写成{BAD_ID}"
    merged = merge(text, [Entity("ID_CARD", BAD_ID)], "both")
    check_offsets(text, merged)
    assert [(d.type, d.value, d.source) for d in merged] == [("ID_CARD", ID, "rules")]


def test_repeated_values_take_successive_occurrences():
    text = "手机13812345678被盗，13812345678无法接通"
    merged = merge(text, [Entity("PHONE", "13812345678"), Entity("PHONE", "13812345678")], "union")
    assert [(d.start, d.source) for d in merged] == [(2, "both"), (16, "both")]


def test_align_keeps_given_offsets_that_cover_the_value():
    text = "A13812345678 B13812345678"
    aligned = align(text, [Entity("PHONE", "13812345678", 14, 25)])
    assert (aligned[0].start, aligned[0].end) == (14, 25)


def test_to_prediction_is_the_target_text():
    merged = merge(TEXT, [Entity("PERSON", "陈玉珍")], "union")
    answer = json.loads(to_prediction(TEXT, merged))
    assert [e["type"] for e in answer["entities"]] == ["PERSON", "ID_CARD", "BANK_CARD", "PHONE"]
    assert set(answer["entities"][0]) == {"type", "value"}


def test_apply_reads_raw_answers_and_leaves_off_untouched():
    raw = '<think>\n</think>\n```json\n{"entities": [{"type": "ID_CARD", "value": "%s"}]}\n```' % BAD_ID
    assert apply(TEXT, raw, "off") == raw
    assert json.loads(apply(TEXT, raw, "verify")) == {"entities": []}
    both = json.loads(apply(TEXT, raw, "union+verify"))["entities"]
    assert {e["type"] for e in both} == {"ID_CARD", "BANK_CARD", "PHONE"}
    assert json.loads(apply(TEXT, "not json", "union"))["entities"][0]["type"] == "ID_CARD"


def test_policy_names():
    assert canonical_policy("both") == "union+verify"
    with pytest.raises(ValueError, match="unknown rules policy"):
        canonical_policy("all")


RULE_ALONE_TYPES = sorted(RULE_TYPES)


def _broken(entity: Entity, how: int) -> Entity:
    """A model's broken copy of a rule-type value: cut short, run on, mistyped or a wrong digit."""
    value = entity.value
    return [
        Entity(entity.type, value[: max(1, len(value) // 2)]),
        Entity(entity.type, value + "号"),
        Entity("PASSPORT" if entity.type != "PASSPORT" else "PHONE", value),
        Entity(entity.type, value[:-1] + ("0" if value[-1] != "0" else "1")),
        entity,
    ][how % 5]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), how=st.lists(st.integers(0, 4), min_size=8, max_size=8))
def test_union_never_scores_below_rules_alone_on_the_rule_types(seed: int, how: list[int]) -> None:
    """Whatever the model writes over the values the rules find, union keeps every rule hit, so on
    each rule type it scores at least what rules alone score."""
    from eval.scoring.scorer import score_generations
    from piifactory.synth import generate

    samples = generate(12, seed=seed)
    texts = [s.text for s in samples]
    gold = [s.entities for s in samples]
    model = []
    for sample, text in zip(samples, texts):
        hits = analyze(text)
        model.append(
            target_text(
                [_broken(h.entity, how[i % len(how)]) for i, h in enumerate(hits)]
                + [e for e in sample.entities if e.type not in RULE_TYPES],
                text,
            )
        )
    rules = score_generations(texts, gold, [to_prediction(t, analyze(t)) for t in texts])["per_type"]
    union = score_generations(texts, gold, [apply(t, m, "union") for t, m in zip(texts, model)])["per_type"]
    for name in RULE_ALONE_TYPES:
        if name in rules:
            assert union[name]["f1"] >= rules[name]["f1"] - 1e-12, name
            assert union[name]["tp"] >= rules[name]["tp"], name


def test_union_keeps_a_model_value_of_a_rule_type_only_where_its_recognizer_accepts_it():
    """Never below rules: a model value of a rule type that no rule hit overlaps is kept only when
    the type's recognizers accept it in place (below their threshold: a bare landline); hotlines,
    order numbers and fragments the model calls PHONE, EMAIL or IP are dropped."""
    text = "客服热线400-820-8820，订单号2024010112345，编号01088886666已归档，邮件前缀zhang.wei，版本10.2.3。"
    model = [
        Entity("PHONE", "400-820-8820"),
        Entity("PHONE", "2024010112345"),
        Entity("PHONE", "01088886666"),
        Entity("EMAIL", "zhang.wei"),
        Entity("IP", "10.2.3"),
        Entity("PERSON", "zhang.wei"),
    ]
    assert analyze(text) == []  # no rule fires: the bare landline lacks a context word
    merged = merge(text, model, "union")
    check_offsets(text, merged)
    assert [(d.type, d.value, d.source) for d in merged] == [
        ("PHONE", "01088886666", "model"),
        ("PERSON", "zhang.wei", "model"),
    ]
    assert [d.type for d in merge(text, model, "off")] == [e.type for e in model]  # off keeps them all


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), kinds=st.lists(st.sampled_from(sorted(RULE_TYPES)), min_size=4, max_size=4))
def test_union_with_wrong_model_values_beside_the_hits_never_scores_below_rules(seed: int, kinds: list[str]) -> None:
    """A model that labels other numbers and words of the text with rule types (none of them
    gold) adds no false positive to what the rules find."""
    import re

    from eval.scoring.scorer import score_generations
    from piifactory.synth import generate

    samples = generate(12, seed=seed)
    texts = [s.text for s in samples]
    gold = [s.entities for s in samples]
    model = []
    for sample, text in zip(samples, texts):
        taken = [(e.start, e.end) for e in sample.entities if e.has_span] + [(h.start, h.end) for h in analyze(text)]
        free = [
            m.group()
            for m in re.finditer(r"[0-9A-Za-z.@-]{4,}", text)
            if not any(m.start() < end and start < m.end() for start, end in taken)
        ]
        model.append(
            target_text([Entity(kinds[i % 4], value) for i, value in enumerate(free)] + list(sample.entities), text)
        )
    rules = score_generations(texts, gold, [to_prediction(t, analyze(t)) for t in texts])["per_type"]
    union = score_generations(texts, gold, [apply(t, m, "union") for t, m in zip(texts, model)])["per_type"]
    for name in RULE_ALONE_TYPES:
        if name in rules:
            assert union[name]["f1"] >= rules[name]["f1"] - 1e-12, name
