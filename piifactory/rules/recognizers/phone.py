"""Mainland mobile numbers and landlines (PHONE)."""

from __future__ import annotations

import re

import phonenumbers

from piifactory.rules.recognizers.base import NOT_AFTER, NOT_BEFORE, Pattern, PatternRecognizer


class MobileRecognizer(PatternRecognizer):
    """11-digit mobile number 1[3-9]xxxxxxxxx, optional +86/0086/(+86) or a bare 86 with a space or
    hyphen after it (``86-138...``, as people write it without the plus), spaces or hyphens between
    the 3-4-4 groups."""

    entity_type = "PHONE"
    patterns = (
        Pattern(
            "mobile",
            NOT_AFTER + r"(?:(?:\+|00)86[ -]?|86[ -]|\(\+?86\)[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}" + NOT_BEFORE,
            0.6,
        ),
    )
    context = ("手机", "电话", "联系", "致电", "拨打", "号码", "来电", "短信", "微信", "tel", "phone", "mobile")

    def validate(self, value: str) -> bool:
        digits = re.sub(r"[^0-9]", "", value)
        if len(digits) == 15 and digits.startswith("0086"):
            digits = digits[4:]
        elif len(digits) == 13 and digits.startswith("86"):
            digits = digits[2:]
        return len(digits) == 11 and re.fullmatch(r"1[3-9][0-9]{9}", digits) is not None


class LandlineRecognizer(PatternRecognizer):
    """Area code 010/02x (8-digit number) or 0[3-9]xx (7-8 digits), optional extension; the area
    code and the number's length for it are checked by phonenumbers.

    A bare run of digits is weak evidence on its own (it may be any number), so it needs a
    context word; a separator or brackets after the area code are enough on their own. The
    subscriber number may be split 4-4 (``0755-8888 1234``, ``010-6552 9988``).
    """

    entity_type = "PHONE"
    patterns = (
        Pattern(
            "landline-separated",
            NOT_AFTER
            + r"(?:\((?:010|02[0-9])\)[ -]?[2-9][0-9]{7}|\(0[3-9][0-9]{2}\)[ -]?[2-9][0-9]{6,7}|"
            + r"(?:010|02[0-9])[ -][2-9][0-9]{3}[ -]?[0-9]{4}|0[3-9][0-9]{2}[ -][2-9][0-9]{2,3}[ -]?[0-9]{4})"
            + r"(?:(?:-|转)[0-9]{1,4})?"
            + NOT_BEFORE,
            0.6,
        ),
        Pattern(
            "landline-bare",
            NOT_AFTER + r"(?:(?:010|02[0-9])[2-9][0-9]{7}|0[3-9][0-9]{2}[2-9][0-9]{6,7})" + NOT_BEFORE,
            0.3,
        ),
    )
    context = ("电话", "座机", "固话", "办公", "传真", "总机", "联系", "tel", "fax", "phone")

    def validate(self, value: str) -> bool:
        number = re.split(r"转|(?<=[0-9]{7})-", value)[0]
        digits = re.sub(r"[^0-9]", "", number)
        if len(set(digits[-7:])) == 1:
            return False  # a subscriber number of one repeated digit is a placeholder, not a line
        # phonenumbers knows which area codes exist and how long their numbers are (0755 has 8
        # digits, 0891 7); it is asked about the number without the extension. A number it calls
        # possible but not valid (0755-2345678: Shenzhen's numbers have had 8 digits since 1996)
        # is not accepted, even after a context word.
        return phonenumbers.is_valid_number(phonenumbers.parse(digits, "CN"))
