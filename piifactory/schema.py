"""The one schema of the pack: entity records, PII types and their aliases, value normalisation
and the default instruction.

Converters, the scorer and the training plugins import this module; nothing else defines a type
list or an alias. The shape of the model's answer ``{"entities": [...]}`` lives in
:mod:`piifactory.answer`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from piifactory.errors import PiiFactoryError
from piifactory.offsets import place

# Canonical PII types, with what each one covers. Order is the documentation order.
PII_TYPES: dict[str, str] = {
    "PERSON": "a person's name (姓名)",
    "PHONE": "mobile or landline number (手机号 / 座机)",
    "ID_CARD": "mainland resident ID: 18 digits (身份证号, GB 11643) or 15 (first generation)",
    "BANK_CARD": "bank card number, 16-19 digits, Luhn (银行卡号)",
    "EMAIL": "e-mail address",
    "ADDRESS": "postal address or location (地址)",
    "ORG": "company, government body or other organisation (单位 / 公司)",
    "LICENSE_PLATE": "vehicle licence plate (车牌号)",
    "PASSPORT": "passport or exit-entry permit number (护照号 / 港澳台通行证号)",
    "USCC": "unified social credit code (统一社会信用代码, GB 32100)",
    "IP": "IPv4 or IPv6 address",
}

_ALIASES: dict[str, str] = {
    # PERSON
    "NAME": "PERSON",
    "PER": "PERSON",
    "PERSON_NAME": "PERSON",
    "FULL_NAME": "PERSON",
    "FIRSTNAME": "PERSON",
    "LASTNAME": "PERSON",
    "姓名": "PERSON",
    "人名": "PERSON",
    # PHONE
    "PHONE_NUMBER": "PHONE",
    "MOBILE": "PHONE",
    "MOBILE_PHONE": "PHONE",
    "TEL": "PHONE",
    "TELEPHONE": "PHONE",
    "TELEPHONENUM": "PHONE",
    "LANDLINE": "PHONE",
    "PHONENUMBER": "PHONE",
    "手机号": "PHONE",
    "手机": "PHONE",
    "电话": "PHONE",
    "电话号码": "PHONE",
    "座机": "PHONE",
    # ID_CARD
    "ID": "ID_CARD",
    "ID_NUMBER": "ID_CARD",
    "IDCARD": "ID_CARD",
    "ID_CARD_NUMBER": "ID_CARD",
    "RESIDENT_ID": "ID_CARD",
    "IDCARDNUM": "ID_CARD",
    "CN_ID_CARD": "ID_CARD",
    "身份证": "ID_CARD",
    "身份证号": "ID_CARD",
    "身份证号码": "ID_CARD",
    # BANK_CARD
    "BANK_ACCOUNT": "BANK_CARD",
    "BANKCARD": "BANK_CARD",
    "CREDIT_CARD": "BANK_CARD",
    "CREDITCARDNUMBER": "BANK_CARD",
    "BANK_CARD_NUMBER": "BANK_CARD",
    "ACCOUNTNUM": "BANK_CARD",
    "银行卡": "BANK_CARD",
    "银行卡号": "BANK_CARD",
    # EMAIL
    "EMAIL_ADDRESS": "EMAIL",
    "MAIL": "EMAIL",
    "E-MAIL": "EMAIL",
    "邮箱": "EMAIL",
    "电子邮箱": "EMAIL",
    # ADDRESS
    "ADDR": "ADDRESS",
    "LOCATION": "ADDRESS",
    "LOC": "ADDRESS",
    "STREET_ADDRESS": "ADDRESS",
    "地址": "ADDRESS",
    "住址": "ADDRESS",
    # ORG
    "ORGANIZATION": "ORG",
    "ORGANISATION": "ORG",
    "COMPANY": "ORG",
    "GOVERNMENT": "ORG",
    "公司": "ORG",
    "机构": "ORG",
    "单位": "ORG",
    # LICENSE_PLATE
    "PLATE": "LICENSE_PLATE",
    "CAR_PLATE": "LICENSE_PLATE",
    "LICENCE_PLATE": "LICENSE_PLATE",
    "VEHICLE_PLATE": "LICENSE_PLATE",
    "车牌": "LICENSE_PLATE",
    "车牌号": "LICENSE_PLATE",
    # PASSPORT
    "PASSPORT_NUMBER": "PASSPORT",
    "PASSPORTNUM": "PASSPORT",
    "护照": "PASSPORT",
    "护照号": "PASSPORT",
    "TRAVEL_PERMIT": "PASSPORT",
    "通行证": "PASSPORT",
    "通行证号": "PASSPORT",
    # USCC
    "CREDIT_CODE": "USCC",
    "UNIFIED_SOCIAL_CREDIT_CODE": "USCC",
    "SOCIAL_CREDIT_CODE": "USCC",
    "统一社会信用代码": "USCC",
    "信用代码": "USCC",
    # IP
    "IP_ADDRESS": "IP",
    "IPV4": "IP",
    "IPV6": "IP",
    "IPADDRESS": "IP",
    "IP地址": "IP",
}

# Types whose values are identifiers: spaces and hyphens inside them are formatting, not content.
IDENTIFIER_TYPES = frozenset({"PHONE", "ID_CARD", "BANK_CARD", "PASSPORT", "USCC", "LICENSE_PLATE"})

_WS = re.compile(r"\s+")
_ID_SEPARATORS = re.compile(r"[\s\-]+")


class UnknownLabelError(PiiFactoryError, ValueError):
    """A label that is neither a canonical type nor an alias (and not in a user mapping)."""


def canonical_type(label: str, mapping: Mapping[str, str | None] | None = None) -> str | None:
    """Map a dataset's label to a canonical type.

    ``mapping`` (a user's mapping file) wins over the built-in aliases; a mapping value of
    ``None`` means "not PII, drop this span" and is returned as ``None``.
    """
    if mapping is not None and label in mapping:
        target = mapping[label]
        if target is None:
            return None
        return canonical_type(target)
    key = label.strip()
    upper = key.upper().replace(" ", "_")
    if upper in PII_TYPES:
        return upper
    if upper in _ALIASES:
        return _ALIASES[upper]
    if key in _ALIASES:
        return _ALIASES[key]
    raise UnknownLabelError(f"unknown entity label {label!r}; known types: {', '.join(PII_TYPES)}")


def aliases() -> dict[str, str]:
    """All built-in aliases (label -> canonical type), for documentation and mapping files."""
    return dict(_ALIASES)


def normalize_value(value: str) -> str:
    """NFKC (full-width digits and letters become ASCII), whitespace collapsed and stripped."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", value)).strip()


def match_key(entity_type: str, value: str) -> str:
    """The comparison key of a value: normalised, separators dropped from identifiers,
    case folded for e-mail addresses and identifiers."""
    norm = normalize_value(value)
    if entity_type in IDENTIFIER_TYPES:
        return _ID_SEPARATORS.sub("", norm).upper()
    if entity_type in ("EMAIL", "IP"):
        return norm.lower()
    return norm


@dataclass(frozen=True, slots=True)
class Entity:
    """One PII mention. ``start``/``end`` are character offsets with an exclusive end."""

    type: str
    value: str
    start: int | None = None
    end: int | None = None

    @property
    def has_span(self) -> bool:
        return self.start is not None and self.end is not None

    @property
    def is_identifier(self) -> bool:
        """Spaces and hyphens inside the value are formatting (see IDENTIFIER_TYPES)."""
        return self.type in IDENTIFIER_TYPES

    def to_dict(self, with_offsets: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "value": self.value}
        if with_offsets and self.has_span:
            out["start"], out["end"] = self.start, self.end
        return out


@dataclass(frozen=True, slots=True)
class Sample:
    """A text with its gold entities: the users' ``{"input", "output": {"entities"}}`` record."""

    text: str
    entities: tuple[Entity, ...]

    def to_user_json(self) -> dict[str, Any]:
        return {"input": self.text, "output": {"entities": [e.to_dict() for e in self.entities]}}


def order_by_appearance(entities: Iterable[Entity], text: str | None = None) -> list[Entity]:
    """Entities in order of appearance in ``text``, each where :func:`piifactory.offsets.place`
    puts it (its offsets, else the next free occurrence of its value); ties keep input order.
    Entities not found in the text (or all without offsets, without a text) go last."""
    items = list(entities)
    if text is not None:
        spans = place(text, items)
    else:
        spans = [(e.start, e.end) if e.has_span else None for e in items]  # type: ignore[misc]
    keys = [(0, span[0], i) if span is not None else (1, 0, i) for i, span in enumerate(spans)]
    return [items[i] for *_, i in sorted(keys)]


DEFAULT_INSTRUCTION = (
    "找出下面文本中的所有个人敏感信息（PII），以 JSON 输出："
    '{"entities": [{"type": 类型, "value": 原文片段}]}，按出现顺序列出，没有则输出 {"entities": []}。'
    "类型取值：" + ", ".join(PII_TYPES) + "。"
)
"""The default instruction of every PII dataset the pack writes (override with --instruction)."""


def input_text(prompt: str) -> str:
    """The sample's input within a user turn or a decoded prompt: what follows the instruction
    (every PII row is ``instruction + "\\n" + input``, alpaca and sharegpt alike). Predicted values
    are checked against it, so one copied from the instruction counts as a hallucination. Without
    the default instruction (a custom ``--instruction``) the prompt is returned whole; a decoded
    prompt keeps the template's assistant header after the input, which holds no personal data."""
    _, found, rest = prompt.partition(DEFAULT_INSTRUCTION)
    return rest.removeprefix("\n") if found else prompt
