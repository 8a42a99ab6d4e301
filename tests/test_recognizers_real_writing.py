"""How people write identifiers in real text: IDs and cards in groups of four with one
or two spaces, 15-digit first-generation IDs, UnionPay cards beyond 62, exit-entry permits; and
the one validity check per type that the rules and ``--rules verify`` share."""

from __future__ import annotations

import datetime as dt

import pytest
from stdnum.cn import ric, uscc

from eval.rules_vs_model import main as compare_main
from piifactory.rules.checksums import (
    id_birth_date,
    id_card_check_char,
    is_valid_id_card,
    is_valid_uscc,
    luhn_check_digit,
    uscc_check_char,
)
from piifactory.rules.hybrid import merge
from piifactory.rules.recognizers import (
    BankCardRecognizer,
    FirstGenIdCardRecognizer,
    IdCardRecognizer,
    analyze,
    passes_checksum,
)
from piifactory.rules.recognizers.identity import has_id_layout
from piifactory.schema import Entity

ID = "33010619880715234" + id_card_check_char("33010619880715234")
FOURS = " ".join(ID[i : i + 4] for i in range(0, 18, 4))  # 3301 0619 8807 1523 4x
ID15 = "330106880715123"  # Hangzhou Xihu, born 1988-07-15, no check digit
CARD = "622202100112345" + luhn_check_digit("622202100112345")
UNIONPAY_81 = "817199992766000" + luhn_check_digit("817199992766000")
UNIONPAY_81_19 = "817199990000000002" + luhn_check_digit("817199990000000002")


def hits(text: str, entity_type: str) -> list[tuple[str, int, int]]:
    """(value, start, end) of the rule hits of one type; each value is the exact slice."""
    found = analyze(text)
    for h in found:
        assert text[h.start : h.end] == h.value
    return [(h.value, h.start, h.end) for h in found if h.type == entity_type]


@pytest.mark.parametrize("sep", [" ", "  ", "-"])
def test_resident_id_in_groups_of_four(sep):
    grouped = sep.join(ID[i : i + 4] for i in range(0, 18, 4))
    text = f"身份证号 {grouped} 已登记"
    assert hits(text, "ID_CARD") == [(grouped, 5, 5 + len(grouped))]


def test_grouped_id_beside_a_plain_one_and_mixed_separators():
    text = f"带空格的身份证 {FOURS} 和不带空格的 {ID}"
    assert [v for v, *_ in hits(text, "ID_CARD")] == [FOURS, ID]
    mixed = f"{ID[:4]} {ID[4:8]}-{ID[8:12]} {ID[12:16]} {ID[16:]}"
    assert hits(f"身份证 {mixed}", "ID_CARD") == []  # one separator throughout, or it is no grouping


@pytest.mark.parametrize("sep", [" ", "  ", "-"])
def test_bank_card_grouped_with_one_or_two_spaces(sep):
    grouped = sep.join(CARD[i : i + 4] for i in range(0, 16, 4))
    text = f"卡号：{grouped}。"
    assert hits(text, "BANK_CARD") == [(grouped, 3, 3 + len(grouped))]


def test_double_spaced_groups_do_not_split_a_longer_number():
    # a mobile number inside a double-spaced run is part of that run, not a phone
    assert hits("编号 6222  13812345678  9", "PHONE") == []


def test_first_generation_id():
    text = f"老身份证号码{ID15}，新号码{ID}"
    assert [v for v, *_ in hits(text, "ID_CARD")] == [ID15, ID]
    spaced = f"{ID15[:6]} {ID15[6:12]} {ID15[12:]}"
    assert hits(f"身份证 {spaced}", "ID_CARD") == [(spaced, 4, 4 + len(spaced))]


@pytest.mark.parametrize(
    "value",
    [
        "119901880715123",  # area 119901 is no county
        "330106881315123",  # month 13
        "330106880230123",  # 30 February
        "990106880715123",  # 99 is no province
    ],
)
def test_first_generation_id_needs_a_county_and_a_date(value):
    assert not FirstGenIdCardRecognizer().validate(value)
    assert hits(f"身份证{value}", "ID_CARD") == []


def test_first_generation_id_is_weaker_evidence_than_a_checked_one():
    bare = FirstGenIdCardRecognizer().analyze(f"编号{ID15}")[0].score
    assert 0.5 <= bare < IdCardRecognizer().analyze(f"编号{ID}")[0].score
    assert FirstGenIdCardRecognizer().analyze(f"身份证{ID15}")[0].score > bare
    assert hits(f"单号{ID15}9", "ID_CARD") == []  # 16 digits: part of a longer number


@pytest.mark.parametrize("card", [UNIONPAY_81, UNIONPAY_81_19, "676578001699026" + luhn_check_digit("676578001699026")])
def test_unionpay_beyond_62(card):
    assert hits(f"银联卡{card}", "BANK_CARD") == [(card, 3, 3 + len(card))]


def test_card_without_an_issuer_prefix_is_refused():
    card = "800000000000001" + luhn_check_digit("800000000000001")
    assert hits(f"卡号{card}", "BANK_CARD") == []


@pytest.mark.parametrize(
    "text, value",
    [
        ("往来港澳通行证C12345678", "C12345678"),
        ("通行证号码：CA1234567。", "CA1234567"),
        ("赴台通行证L23456789", "L23456789"),
        ("回乡证H12345678有效", "H12345678"),
        ("回乡证H1234567801有效", "H1234567801"),
        ("港澳居民来往内地通行证M87654321", "M87654321"),
    ],
)
def test_exit_entry_permits_are_passports(text, value):
    start = text.index(value)
    assert hits(text, "PASSPORT") == [(value, start, start + len(value))]


@pytest.mark.parametrize("text", ["型号C1234567", "通行证C00000000", "编号AC12345678", "CI1234567号"])
def test_permit_look_alikes(text):
    assert hits(text, "PASSPORT") == []


# --- one validity check per type --------------------------------------------------------------


def test_verify_uses_the_recognizers_validate():
    """A Luhn-valid 16 digits without an issuer prefix: the recognizer refuses it, and so does
    ``--rules verify`` (it used to keep it on length + Luhn alone)."""
    no_issuer = "100000000000000" + luhn_check_digit("100000000000000")
    assert not BankCardRecognizer().validate(no_issuer)
    text = f"卡号{no_issuer}，身份证{ID15}"
    merged = merge(text, [Entity("BANK_CARD", no_issuer), Entity("ID_CARD", ID15)], "verify")
    assert [(d.type, d.value) for d in merged] == [("ID_CARD", ID15)]  # a 15-digit ID is valid now


@pytest.mark.parametrize(
    "entity_type, value",
    [
        ("BANK_CARD", CARD),
        ("BANK_CARD", " ".join(CARD[i : i + 4] for i in range(0, 16, 4))),
        ("BANK_CARD", UNIONPAY_81),
        ("BANK_CARD", "1" + CARD[1:]),
        ("BANK_CARD", ID),  # Luhn aside, an ID layout is no card
        ("ID_CARD", ID),
        ("ID_CARD", FOURS),
        ("ID_CARD", ID15),
        ("ID_CARD", ID[:-1] + ("0" if ID[-1] != "0" else "1")),
        ("USCC", "91350100M000100Y4" + uscc_check_char("91350100M000100Y4")),
        ("USCC", "91350100M000100Y4" + ("0" if uscc_check_char("91350100M000100Y4") != "0" else "1")),
    ],
)
def test_verify_and_the_rules_agree(entity_type, value):
    found = any(h.type == entity_type and h.value == value for h in analyze(f"：{value}。"))
    assert passes_checksum(Entity(entity_type, value)) == found


def test_one_birth_date_check_for_both_generations():
    assert id_birth_date(ID) == dt.date(1988, 7, 15) == id_birth_date(ID15)
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    future = "330106" + tomorrow.strftime("%Y%m%d") + "123"
    assert id_birth_date(future + "4") is None and not has_id_layout(future + id_card_check_char(future))
    assert id_birth_date("330106189912311234") is None  # before 1900
    assert id_birth_date("3301061988071") is None  # neither length


def test_why_our_whole_number_checks_are_not_stdnums():
    """python-stdnum computes our check digits; its whole-number validators refuse real numbers."""
    # an ID from a county created after the holder's birth (Zhengzhou Zhongyuan, 410102, 1983)
    first17 = "41010219810802487"
    issued_later = first17 + id_card_check_char(first17)
    assert is_valid_id_card(issued_later) and not ric.is_valid(issued_later)
    # a rural collective's code: registration authority N (agriculture), defined by GB 32100
    body = "N2330102MA2A1B2C3"
    rural = body + uscc_check_char(body)
    assert is_valid_uscc(rural) and not uscc.is_valid(rural)
    assert uscc.calc_check_digit(body) == uscc_check_char(body)


def test_compare_reads_gold_with_the_offset_check(tmp_path, capsys):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        '{"input": "电话13812345678", "output": {"entities": [{"type": "PHONE", "value": "13812345678", "start": 1, "end": 12}]}}\n',
        encoding="utf-8",
    )
    assert compare_main(["--gold", str(gold)]) == 2
    assert f"{gold}:1: offsets 1:12 of a PHONE do not cover its value" in capsys.readouterr().err
