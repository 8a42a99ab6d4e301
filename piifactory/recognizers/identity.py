"""Resident IDs, passports and licence plates."""

from __future__ import annotations

import datetime as _dt
import re

from piifactory.checksums import is_valid_id_card
from piifactory.recognizers.base import NOT_AFTER, NOT_BEFORE, Pattern, PatternRecognizer, compact

# First two digits of a GB/T 2260 area code: the provinces, plus 71 (Taiwan) and 81-83 (residence
# permits for Hong Kong, Macao and Taiwan residents).
PROVINCE_CODES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82 83".split()
)


def has_id_layout(code: str) -> bool:
    """18 digits that read as province code + real birth date: a resident ID's layout, whether or
    not its check character is right. Such a number is an ID with a typo, not a bank card."""
    if len(code) != 18 or not code[:17].isdigit() or code[:2] not in PROVINCE_CODES:
        return False
    try:
        birth = _dt.date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError:
        return False
    return 1900 <= birth.year <= _dt.date.today().year


class IdCardRecognizer(PatternRecognizer):
    """18-character resident ID (GB 11643): province code, birth date, MOD 11-2 check character.
    Spaces or hyphens are accepted after the area code and after the birth date."""

    entity_type = "ID_CARD"
    patterns = (
        Pattern(
            "resident-id",
            NOT_AFTER + r"[1-8][0-9]{5}[ -]?(?:18|19|20)[0-9]{2}[01][0-9][0-3][0-9][ -]?[0-9]{3}[0-9Xx]" + NOT_BEFORE,
            0.5,
        ),
    )
    validated_score = 0.9
    context = ("身份证", "证件", "身份", "公民", "id")

    def validate(self, value: str) -> bool:
        code = compact(value)
        return code[:2] in PROVINCE_CODES and is_valid_id_card(code)


class PassportRecognizer(PatternRecognizer):
    """Mainland passport numbers: E/G + 8 digits, E + letter + 7 digits, DE/SE/PE + 7 digits.
    No check digit is printed in the number, so the shape and context are all there is."""

    entity_type = "PASSPORT"
    patterns = (
        Pattern(
            "cn-passport",
            r"(?<![0-9A-Za-z])(?:[EG][0-9]{8}|E[A-HJ-NP-Z][0-9]{7}|[DPS]E[0-9]{7})(?![0-9A-Za-z])",
            0.5,
        ),
    )
    context = ("护照", "passport", "证件")

    def validate(self, value: str) -> bool:
        digits = re.sub(r"[^0-9]", "", value)
        return len(set(digits)) > 1


_PROVINCE_CHARS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"


class LicensePlateRecognizer(PatternRecognizer):
    """Mainland plates: province character, issuing-office letter, then 5 characters (at most two
    letters), 6 for new-energy plates (D/F first or last), or 4 plus 挂/学/警/港/澳."""

    entity_type = "LICENSE_PLATE"
    patterns = (
        Pattern(
            "cn-plate",
            rf"[{_PROVINCE_CHARS}][A-Z][·•・ -]?(?:[A-HJ-NP-Z0-9]{{5,6}}|[A-HJ-NP-Z0-9]{{4}}[挂学警港澳])(?![0-9A-Za-z])",
            0.6,
        ),
    )
    context = ("车牌", "车辆", "车主", "牌照", "停车", "驾驶", "plate")

    def validate(self, value: str) -> bool:
        tail = re.sub(r"[·•・ \-]", "", value)[2:]
        if tail[-1] in "挂学警港澳":
            return sum(c.isdigit() for c in tail) >= 3
        if len(tail) == 6:
            return (tail[0] in "DF" and tail[2:].isdigit()) or (tail[:5].isdigit() and tail[5] in "DF")
        return sum(c.isalpha() for c in tail) <= 2
