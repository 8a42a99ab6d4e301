import pytest

from piifactory.schema import (
    PII_TYPES,
    Entity,
    UnknownLabelError,
    canonical_type,
    match_key,
    normalize_value,
    order_by_appearance,
)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("PERSON", "PERSON"),
        ("name", "PERSON"),
        ("姓名", "PERSON"),
        ("phone_number", "PHONE"),
        ("身份证号", "ID_CARD"),
        ("credit card", "BANK_CARD"),
        ("EMAIL_ADDRESS", "EMAIL"),
        ("company", "ORG"),
        ("统一社会信用代码", "USCC"),
        ("IPV6", "IP"),
        ("licence plate", "LICENSE_PLATE"),
    ],
)
def test_aliases_map_to_canonical_types(label: str, expected: str) -> None:
    assert canonical_type(label) == expected
    assert expected in PII_TYPES


def test_unknown_label_is_an_error_unless_mapped() -> None:
    with pytest.raises(UnknownLabelError, match="movie"):
        canonical_type("movie")
    assert canonical_type("movie", {"movie": None}) is None
    assert canonical_type("scene", {"scene": "ADDRESS"}) == "ADDRESS"


def test_normalisation_folds_full_width_and_whitespace() -> None:
    assert normalize_value("  １３８ ００１３\u3000８０００ ") == "138 0013 8000"
    assert match_key("PHONE", "１３８-００１３-８０００") == "13800138000"
    assert match_key("EMAIL", "Zhang@Example.COM") == "zhang@example.com"
    assert match_key("PERSON", "张 三") == "张 三"


def test_order_without_offsets_uses_the_text() -> None:
    text = "邮箱a@b.cn，姓名李四"
    ordered = order_by_appearance([Entity("PERSON", "李四"), Entity("EMAIL", "a@b.cn"), Entity("IP", "1.1.1.1")], text)
    assert [e.type for e in ordered] == ["EMAIL", "PERSON", "IP"]


def test_entity_round_trip() -> None:
    ent = Entity("PHONE", "13800138000", 3, 14)
    assert ent.to_dict() == {"type": "PHONE", "value": "13800138000", "start": 3, "end": 14}
    assert Entity("PHONE", "1").to_dict() == {"type": "PHONE", "value": "1"}
