"""Resident IDs (18-digit and 15-digit first generation) and licence plates."""

from __future__ import annotations

import re

from stdnum import numdb

from piifactory.rules.checksums import id_birth_date, is_valid_id_card
from piifactory.rules.recognizers.base import GROUP_SEP, NOT_AFTER, NOT_BEFORE, Pattern, PatternRecognizer, compact

# First two digits of a GB/T 2260 area code: the provinces, plus 71 (Taiwan) and 81-83 (residence
# permits for Hong Kong, Macao and Taiwan residents).
PROVINCE_CODES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82 83".split()
)


def has_id_layout(code: str) -> bool:
    """18 digits that read as province code + real birth date: a resident ID's layout, whether or
    not its check character is right. Such a number is an ID with a typo, not a bank card."""
    return len(code) == 18 and code[:17].isdigit() and code[:2] in PROVINCE_CODES and id_birth_date(code) is not None


def is_known_county(code: str) -> bool:
    """Whether the 6-digit area code is a county GB/T 2260 has ever listed (python-stdnum's
    table, with counties that no longer exist; read on first use, it takes a fifth of a second)."""
    found = numdb.get("cn/loc").info(code[:6])
    return len(found) == 2 and bool(found[1][1])


class IdCardRecognizer(PatternRecognizer):
    """18-character resident ID (GB 11643): province code, birth date, MOD 11-2 check character.
    Written whole, as 6-8-4 with a separator after the area code and after the birth date, as
    6-4-4-4 (area, year, month and day, sequence) or in groups of four (4-4-4-4-2), the last two
    split by one separator throughout (a hyphen, one or two spaces)."""

    entity_type = "ID_CARD"
    patterns = (
        Pattern(
            "resident-id",
            NOT_AFTER
            + rf"[1-8][0-9]{{5}}{GROUP_SEP}?(?:18|19|20)[0-9]{{2}}[01][0-9][0-3][0-9]{GROUP_SEP}?[0-9]{{3}}[0-9Xx]"
            + NOT_BEFORE,
            0.5,
        ),
        Pattern(
            "resident-id-6444",
            NOT_AFTER
            + r"[1-8][0-9]{5}(?P<sep>-| {1,2})(?:18|19|20)[0-9]{2}(?P=sep)[01][0-9][0-3][0-9](?P=sep)[0-9]{3}[0-9Xx]"
            + NOT_BEFORE,
            0.5,
        ),
        Pattern(
            "resident-id-fours",
            NOT_AFTER + r"[1-8][0-9]{3}(?P<sep>-| {1,2})(?:[0-9]{4}(?P=sep)){3}[0-9][0-9Xx]" + NOT_BEFORE,
            0.5,
        ),
    )
    validated_score = 0.9
    has_checksum = True
    context = ("身份证", "证件", "身份", "公民", "id")

    def validate(self, value: str) -> bool:
        code = compact(value)
        return code[:2] in PROVINCE_CODES and is_valid_id_card(code)


class FirstGenIdCardRecognizer(PatternRecognizer):
    """15-digit resident ID of the first generation (numbered so until 1999, void since 2013, still
    in old records): area code, ``YYMMDD`` birth date in the 1900s, 3-digit sequence. There is no check
    digit, so the area must be a county GB/T 2260 has listed (not just a province) and the date
    real; even so a bare hit scores just above the threshold, and a context word lifts it."""

    entity_type = "ID_CARD"
    patterns = (
        Pattern(
            "resident-id-15",
            NOT_AFTER + rf"[1-8][0-9]{{5}}{GROUP_SEP}?[0-9]{{2}}[01][0-9][0-3][0-9]{GROUP_SEP}?[0-9]{{3}}" + NOT_BEFORE,
            0.3,
        ),
    )
    validated_score = 0.55
    context = IdCardRecognizer.context

    def validate(self, value: str) -> bool:
        code = compact(value)
        return (
            len(code) == 15
            and code.isdigit()
            and code[:2] in PROVINCE_CODES
            and is_known_county(code)
            and id_birth_date(code) is not None
        )


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
