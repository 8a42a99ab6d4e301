"""Check digits of Chinese identifiers (GB 11643, GB 32100) and Luhn, and the resident-ID birth
date: one place, shared by the synthetic generator, the rule recognizers and the tests.

The check digits come from python-stdnum (``cn.ric``, ``cn.uscc``, ``luhn``), which others keep
and test. Its whole-number validators are not used as they stand (docs/rules.md says why):
``cn.ric.validate`` requires the county to have existed in the birth year, which real IDs issued
after a county was created do not meet, and ``cn.uscc.validate`` refuses registration
authorities written as letters (``N`` for rural collectives, ``A``, ``Y``) that GB 32100 defines.
"""

from __future__ import annotations

import datetime as _dt

from stdnum import luhn as _luhn
from stdnum.cn import ric as _ric
from stdnum.cn import uscc as _uscc

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def id_birth_date(code: str) -> _dt.date | None:
    """Birth date of a resident ID: ``YYYYMMDD`` at 7-14 of 18 digits, ``YYMMDD`` (1900s) at
    7-12 of a 15-digit first-generation ID. None when it is no date between 1900 and today."""
    if len(code) == 18:
        year, rest = code[6:10], code[10:14]
    elif len(code) == 15:
        year, rest = "19" + code[6:8], code[8:12]
    else:
        return None
    if not (year + rest).isdigit():
        return None
    try:
        birth = _dt.date(int(year), int(rest[:2]), int(rest[2:]))
    except ValueError:
        return None
    return birth if 1900 <= birth.year and birth <= _dt.date.today() else None


def id_card_check_char(first17: str) -> str:
    """GB 11643-1999 MOD 11-2 check character for the first 17 digits of a resident ID."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("need 17 digits")
    return _ric.calc_check_digit(first17 + "0")  # stdnum reads all but the last character


def is_valid_id_card(value: str) -> bool:
    """18-char resident ID: digits, a birth date between 1900 and today, a matching check character."""
    if len(value) != 18 or not value[:17].isdigit() or id_birth_date(value) is None:
        return False
    return id_card_check_char(value[:17]) == value[17].upper()


def uscc_check_char(first17: str) -> str:
    """GB 32100-2015 check character of a unified social credit code."""
    if len(first17) != 17 or any(c not in USCC_ALPHABET for c in first17):
        raise ValueError("need 17 characters of the USCC alphabet")
    return _uscc.calc_check_digit(first17)


def is_valid_uscc(value: str) -> bool:
    """18-char unified social credit code with a matching check character."""
    value = value.upper()
    if len(value) != 18 or any(c not in USCC_ALPHABET for c in value):
        return False
    return uscc_check_char(value[:17]) == value[17]


def luhn_check_digit(payload: str) -> str:
    """Luhn digit to append to ``payload`` (a bank card number without its last digit)."""
    if not payload.isdigit():
        raise ValueError("need digits")
    return _luhn.calc_check_digit(payload)


def is_valid_luhn(value: str) -> bool:
    """True when the digit string (two digits at least) passes the Luhn check."""
    return len(value) >= 2 and value.isdigit() and _luhn.is_valid(value)
