import pytest

from piifactory.rules.checksums import (
    id_card_check_char,
    is_valid_id_card,
    is_valid_luhn,
    is_valid_uscc,
    luhn_check_digit,
    uscc_check_char,
)


def test_known_resident_id() -> None:
    # The GB 11643 worked example.
    assert id_card_check_char("11010519491231002") == "X"
    assert is_valid_id_card("11010519491231002X")
    assert not is_valid_id_card("110105194912310021")
    assert not is_valid_id_card("11010519491331002X")  # month 13


def test_known_uscc() -> None:
    assert uscc_check_char("91350100M000100Y4") == "3"
    assert is_valid_uscc("91350100M000100Y43")
    assert not is_valid_uscc("91350100M000100Y44")
    assert not is_valid_uscc("91350100M000100YI3")  # I is not in the alphabet


def test_luhn() -> None:
    assert luhn_check_digit("7992739871") == "3"
    assert is_valid_luhn("79927398713")
    assert not is_valid_luhn("79927398710")


@pytest.mark.parametrize("bad", ["", "1234", "abcdefghijklmnopq"])
def test_check_char_rejects_bad_payload(bad: str) -> None:
    with pytest.raises(ValueError):
        id_card_check_char(bad)
