"""Travel documents: mainland passports and the exit-entry permits for Hong Kong, Macao and
Taiwan (通行证). Both are PASSPORT: the permit stands in for the passport on those journeys,
comes from the same exit-entry administration, and is as identifying (docs/rules.md)."""

from __future__ import annotations

import re

from piifactory.rules.recognizers.base import Pattern, PatternRecognizer

_EDGE_BEFORE = r"(?<![0-9A-Za-z])"
_EDGE_AFTER = r"(?![0-9A-Za-z])"


def _not_one_digit(value: str) -> bool:
    """A number of one repeated digit (E00000000) is a placeholder."""
    return len(set(re.sub(r"[^0-9]", "", value))) > 1


class PassportRecognizer(PatternRecognizer):
    """Mainland passport numbers: E/G + 8 digits, E + letter + 7 digits, DE/SE/PE + 7 digits.
    No check digit is printed in the number, so the shape and context are all there is."""

    entity_type = "PASSPORT"
    patterns = (
        Pattern(
            "cn-passport",
            _EDGE_BEFORE + r"(?:[EG][0-9]{8}|E[A-HJ-NP-Z][0-9]{7}|[DPS]E[0-9]{7})" + _EDGE_AFTER,
            0.5,
        ),
    )
    context = ("护照", "passport", "证件")

    def validate(self, value: str) -> bool:
        return _not_one_digit(value)


class TravelPermitRecognizer(PatternRecognizer):
    """Exit-entry permits, by their printed numbers: to Hong Kong and Macao (往来港澳通行证, C + 8
    digits, or C + letter + 7 digits once the digits ran out), to Taiwan (往来台湾通行证, L + 8
    digits), and the home-return permit of Hong Kong and Macao residents (港澳居民来往内地通行证,
    H or M + 8 digits, often followed by the 2-digit issue count). No check digit, as for passports."""

    entity_type = "PASSPORT"
    patterns = (
        Pattern(
            "exit-entry-permit",
            _EDGE_BEFORE + r"(?:C[0-9]{8}|C[A-HJ-NP-Z][0-9]{7}|L[0-9]{8}|[HM][0-9]{8}(?:[0-9]{2})?)" + _EDGE_AFTER,
            0.5,
        ),
    )
    context = ("通行证", "回乡证", "港澳", "台湾", "证件", "permit")

    def validate(self, value: str) -> bool:
        return _not_one_digit(value)
