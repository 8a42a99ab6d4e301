"""Bank cards (Luhn) and unified social credit codes (GB 32100)."""

from __future__ import annotations

import re

from piifactory.rules.checksums import USCC_ALPHABET, is_valid_luhn, is_valid_uscc
from piifactory.rules.recognizers.base import GROUP_SEP, NOT_AFTER, NOT_BEFORE, Pattern, PatternRecognizer, compact
from piifactory.rules.recognizers.identity import PROVINCE_CODES, has_id_layout

# Issuer prefixes of cards in use in China: Visa 4, Mastercard 51-55 and 22-27, JCB 35, UnionPay
# 62, 81 and other 6x (67 and 68 domestic), and 9 (legacy domestic 19-digit cards). Order numbers
# such as 2024... fail it.
_ISSUER = re.compile(r"(?:4|5[1-5]|2[2-7]|35|6|81|9)")


class BankCardRecognizer(PatternRecognizer):
    """16-19 digits, contiguous or in groups of four split by a hyphen or one or two spaces,
    Luhn-valid, with a plausible issuer prefix. Luhn passes one random number in ten, so a valid
    card stays below an ID's score unless a context word is near, and 18 digits laid out as a
    resident ID (province, birth date) are never taken for a card: that is an ID with a wrong
    check digit."""

    entity_type = "BANK_CARD"
    patterns = (
        Pattern(
            "card",
            NOT_AFTER + rf"[0-9]{{4}}(?:{GROUP_SEP}?[0-9]{{4}}){{3}}(?:{GROUP_SEP}?[0-9]{{1,3}})?" + NOT_BEFORE,
            0.2,
        ),
    )
    validated_score = 0.6
    has_checksum = True
    context = (
        "银行",
        "卡号",
        "账号",
        "账户",
        "储蓄卡",
        "信用卡",
        "借记卡",
        "工资卡",
        "个人卡",
        "收款",
        "转账",
        "开户",
        "card",
    )

    def validate(self, value: str) -> bool:
        digits = compact(value)
        return (
            16 <= len(digits) <= 19
            and _ISSUER.match(digits) is not None
            and is_valid_luhn(digits)
            and not has_id_layout(digits)
        )


_USCC_CHAR = "[" + USCC_ALPHABET.replace("ABCDEFGH", "A-H").replace("JKLMN", "J-N") + "]"


class UsccRecognizer(PatternRecognizer):
    """18-character unified social credit code: registration authority, organisation kind, a
    6-digit area code with a real province prefix, organisation code, GB 32100 check character."""

    entity_type = "USCC"
    patterns = (
        Pattern(
            "uscc",
            NOT_AFTER + r"[1-9ANY][1-9][0-9]{6}" + _USCC_CHAR + "{10}" + NOT_BEFORE,
            0.4,
        ),
    )
    validated_score = 0.85
    has_checksum = True
    context = ("信用代码", "社会信用", "统一社会", "税号", "纳税人识别号", "注册号", "uscc")

    def validate(self, value: str) -> bool:
        # One digit string in 31 passes the USCC check by chance; 18 digits laid out as a resident
        # ID (province, birth date) are an ID with a wrong check digit, as for bank cards.
        code = compact(value)
        return code[2:4] in PROVINCE_CODES and is_valid_uscc(code) and not has_id_layout(code)
