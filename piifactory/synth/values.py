"""The values that fill the generator's slots: PII with valid check digits, written the ways
people write them, and the hard negatives that look like PII but are not.

Plain values (``person``, ``mobile``, ``id_card`` ...) are what the original templates use; the
``varied_*`` ones add the formats real text holds (grouped or spaced digits, full-width digits,
``+86``, a stray space inside a name, minority names with ·, compound surnames, first-generation
15-digit IDs, exit-entry permits), each drawn with the probability ``odd`` the genre sets.
"""

from __future__ import annotations

import datetime as _dt
import random
from typing import Callable

from faker import Faker

from piifactory.rules.checksums import USCC_ALPHABET, id_card_check_char, luhn_check_digit, uscc_check_char

# Fixed date ranges: Faker's relative ones ("-3y", minimum_age) move with today's date, and the
# same seed must give the same samples on any day.
_BIRTH_FROM, _BIRTH_TO = _dt.date(1946, 1, 1), _dt.date(2006, 12, 31)
_EVENTS_FROM, _EVENTS_TO = _dt.date(2023, 1, 1), _dt.date(2027, 12, 31)
_LANDLINE_AREAS = ("010", "021", "022", "023", "020", "0755", "0571", "025", "027", "028", "029", "0512")
_COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "慕容", "令狐", "司徒", "夏侯", "尉迟", "公孙")
# Uyghur, Tibetan, Mongolian and other names as ID cards print them: given name · family name.
_MINORITY_GIVEN = (
    "阿依古丽",
    "买买提",
    "古丽娜尔",
    "艾力",
    "迪丽热巴",
    "扎西",
    "卓玛",
    "巴特尔",
    "其其格",
    "努尔兰",
    "热依拉",
    "阿不都",
)
_MINORITY_FAMILY = ("买买提", "吐尔逊", "艾合买提", "多吉", "次仁", "巴图", "阿不力孜", "热合曼", "哈斯木", "托合提")
# Names of the long dead and of fiction: names, but not personal data (hard negatives).
_PUBLIC_FIGURES = (
    "李白",
    "杜甫",
    "苏轼",
    "鲁迅",
    "孔子",
    "孙中山",
    "诸葛亮",
    "曹雪芹",
    "林黛玉",
    "孙悟空",
    "秦始皇",
    "王羲之",
)
# Service numbers of banks, carriers and government: phone-shaped, but nobody's.
_HOTLINES = (
    "95588",
    "95533",
    "95555",
    "10086",
    "10010",
    "12345",
    "12315",
    "400-820-8820",
    "400-600-9595",
    "4008-123-123",
    "800-830-8888",
    "95338",
)
_FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def fullwidth(value: str) -> str:
    """Digits (and the X of an ID) as full-width characters, as IMEs and OCR write them."""
    return value.translate(_FULLWIDTH)


def grouped(value: str, sizes: tuple[int, ...], sep: str = " ") -> str:
    """``value`` cut into groups of ``sizes`` (the last group takes the rest)."""
    parts, at = [], 0
    for size in sizes:
        parts.append(value[at : at + size])
        at += size
    parts.append(value[at:])
    return sep.join(p for p in parts if p)


class Values:
    """Value fillers sharing one seeded ``random.Random`` and one seeded Faker."""

    def __init__(self, seed: int, odd: float = 0.0) -> None:
        self.rng = random.Random(seed)
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.odd = odd  # probability of an unusual format in the varied fillers

    def fillers(self, varied: bool) -> dict[str, Callable[[], str]]:
        """Slot name -> filler. Slots outside the PII type list are hard-negative filler."""
        plain: dict[str, Callable[[], str]] = {
            "PERSON": self.fake.name,
            "PHONE": self.mobile,
            "LANDLINE": self.landline,
            "ID_CARD": self.id_card,
            "BANK_CARD": self.bank_card,
            "EMAIL": self.fake.email,
            "ADDRESS": self.address,
            "ORG": self.fake.company,
            "LICENSE_PLATE": self.plate,
            "PASSPORT": self.passport,
            "USCC": self.uscc,
            "IP": self.ip,
            "ORDER": self.order_number,
            "AMOUNT": self.amount,
            "DATE": self.date,
            "BAD_ID": self.bad_id_card,
            "BAD_CARD": self.bad_bank_card,
            "NUMBER": lambda: str(self.rng.randint(1, 999)),
            "PERCENT": lambda: f"{self.rng.randint(1, 99)}%",
            "HOTLINE": lambda: self.rng.choice(_HOTLINES),
            "MASKED": self.masked,
            "PUBLIC": lambda: self.rng.choice(_PUBLIC_FIGURES),
            "TIME": lambda: (
                f"{self.rng.randint(0, 23):02d}:{self.rng.randint(0, 59):02d}:{self.rng.randint(0, 59):02d}"
            ),
            "TRACKING": lambda: self.rng.choice(("SF", "YT", "JD", "ZTO")) + self._digits(12),
        }
        if varied:
            plain.update(
                PERSON=self.varied_person,
                PHONE=self.varied_mobile,
                ID_CARD=self.varied_id_card,
                BANK_CARD=self.varied_bank_card,
                PASSPORT=self.varied_passport,
            )
        return plain

    def _odd(self) -> bool:
        return self.rng.random() < self.odd

    def _digits(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(n))

    # --- plain values -------------------------------------------------------------------------
    def mobile(self) -> str:
        number = self.rng.choice("3456789") + self._digits(9)
        number = "1" + number
        style = self.rng.random()
        if style < 0.15:
            return "+86 " + number
        if style < 0.25:
            return f"{number[:3]}-{number[3:7]}-{number[7:]}"
        return number

    def landline(self) -> str:
        area = self.rng.choice(_LANDLINE_AREAS)  # big cities, whose numbers all have 8 digits
        return f"{area}-{self.rng.randint(2, 8)}{self._digits(7)}"

    def _id_first17(self) -> str:
        area = self.fake.ssn()[:6]
        birth = self.fake.date_between(start_date=_BIRTH_FROM, end_date=_BIRTH_TO).strftime("%Y%m%d")
        return area + birth + self._digits(3)

    def id_card(self) -> str:
        first = self._id_first17()
        return first + id_card_check_char(first)

    def bad_id_card(self) -> str:
        first = self._id_first17()
        good = id_card_check_char(first)
        return first + self.rng.choice([c for c in "0123456789X" if c != good])

    def _card_payload(self) -> str:
        return "62" + self._digits(self.rng.choice((13, 14, 15, 16)))

    def bank_card(self) -> str:
        payload = self._card_payload()
        return payload + luhn_check_digit(payload)

    def bad_bank_card(self) -> str:
        payload = self._card_payload()
        good = luhn_check_digit(payload)
        return payload + self.rng.choice([c for c in "0123456789" if c != good])

    def address(self) -> str:
        return self.fake.address().split(" ")[0]

    def plate(self) -> str:
        return self.fake.license_plate().replace("-", "")

    def passport(self) -> str:
        return self.rng.choice("EG") + self._digits(8)

    def uscc(self) -> str:
        body = "91" + self.fake.ssn()[:6] + "".join(self.rng.choice(USCC_ALPHABET[:10] + "ABCDEFGH") for _ in range(9))
        return body + uscc_check_char(body)

    def ip(self) -> str:
        return self.fake.ipv6() if self.rng.random() < 0.2 else self.fake.ipv4()

    def order_number(self) -> str:
        return self.rng.choice(("DD", "SO", "")) + "20" + self._digits(14)

    def amount(self) -> str:
        return f"{self.rng.randint(1, 99999)}.{self._digits(2)}"

    def date(self) -> str:
        return self.fake.date_between(start_date=_EVENTS_FROM, end_date=_EVENTS_TO).strftime("%Y年%m月%d日")

    def masked(self) -> str:
        """A number with its middle starred out, as apps and receipts print it: not PII any more."""
        kind = self.rng.random()
        if kind < 0.5:
            return f"1{self.rng.choice('3589')}{self._digits(1)}****{self._digits(4)}"
        if kind < 0.75:
            return f"62{self._digits(2)} **** **** {self._digits(4)}"
        return f"{self._digits(6)}********{self._digits(3)}{self.rng.choice('0123456789X')}"

    # --- values as people write them ----------------------------------------------------------
    def varied_person(self) -> str:
        if not self._odd():
            return self.fake.name()
        kind = self.rng.random()
        if kind < 0.35:
            return self.rng.choice(_COMPOUND_SURNAMES) + self.fake.first_name()
        if kind < 0.65:
            return f"{self.rng.choice(_MINORITY_GIVEN)}·{self.rng.choice(_MINORITY_FAMILY)}"
        name = self.fake.name()
        return f"{name[0]} {name[1:]}"  # a stray space, as typed or as OCR reads a spaced form

    def varied_mobile(self) -> str:
        if not self._odd():
            return self.mobile()
        number = "1" + self.rng.choice("3456789") + self._digits(9)
        kind = self.rng.random()
        if kind < 0.3:
            return grouped(number, (3, 4))
        if kind < 0.5:
            return fullwidth(number)
        if kind < 0.7:
            return "+86-" + number if self.rng.random() < 0.5 else "+86" + number
        if kind < 0.85:
            return "(+86) " + grouped(number, (3, 4))
        return "86-" + number

    def varied_id_card(self) -> str:
        if not self._odd():
            return self.id_card()
        kind = self.rng.random()
        if kind < 0.3:
            return grouped(self.id_card(), (6, 8))
        if kind < 0.55:
            return fullwidth(self.id_card())
        if kind < 0.8:  # first generation: area, YYMMDD birth, sequence; no check digit
            return (
                self.fake.ssn()[:6]
                + self.fake.date_between(start_date=_BIRTH_FROM, end_date=_dt.date(1984, 12, 31)).strftime("%y%m%d")
                + self._digits(3)
            )
        card = self.id_card()
        return card[:-1] + "x" if card.endswith("X") else grouped(card, (6, 4, 4))  # a lower-case x

    def varied_bank_card(self) -> str:
        if not self._odd():
            return self.bank_card()
        card = self.bank_card()
        kind = self.rng.random()
        if kind < 0.5:
            return grouped(card, (4, 4, 4, 4))
        if kind < 0.75:
            return fullwidth(card)
        return grouped(card, (4, 4, 4, 4), "-")

    def varied_passport(self) -> str:
        if not self._odd():
            return self.passport()
        kind = self.rng.random()
        if kind < 0.4:
            return "C" + self._digits(8)  # to Hong Kong and Macao
        if kind < 0.6:
            return "L" + self._digits(8)  # to Taiwan
        if kind < 0.8:
            return self.rng.choice("HM") + self._digits(8)  # home-return permit
        return "E" + self._digits(8)
