"""Check digits of Chinese identifiers (GB 11643, GB 32100) and Luhn.

One implementation, shared by the synthetic generator, the rule recognizers and the tests.
"""

from __future__ import annotations

import datetime as _dt

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))


def id_card_check_char(first17: str) -> str:
    """GB 11643-1999 MOD 11-2 check character for the first 17 digits of a resident ID."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("need 17 digits")
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS))
    return _ID_CHECK[total % 11]


def is_valid_id_card(value: str) -> bool:
    """18-char resident ID: digits, a valid birth date and a matching check character."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    try:
        birth = _dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if not (1900 <= birth.year <= _dt.date.today().year):
        return False
    return id_card_check_char(value[:17]) == value[17].upper()


def uscc_check_char(first17: str) -> str:
    """GB 32100-2015 check character of a unified social credit code."""
    if len(first17) != 17 or any(c not in USCC_ALPHABET for c in first17):
        raise ValueError("need 17 characters of the USCC alphabet")
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(value: str) -> bool:
    """18-char unified social credit code with a matching check character."""
    value = value.upper()
    if len(value) != 18 or any(c not in USCC_ALPHABET for c in value):
        return False
    return uscc_check_char(value[:17]) == value[17]


def luhn_check_digit(payload: str) -> str:
    """Luhn digit to append to ``payload`` (a bank card number without its last digit)."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def is_valid_luhn(value: str) -> bool:
    """True when the digit string passes the Luhn check."""
    return len(value) >= 2 and value.isdigit() and luhn_check_digit(value[:-1]) == value[-1]
