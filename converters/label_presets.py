"""Built-in label maps for public corpora (``--label-map cluener`` ...): one object per preset,
saying which labels it maps to which PII type, and which it drops on purpose and why.

A preset maps only what the pack's types mean (PII_TYPES in piifactory.schema): a person's name,
an address or place, an organisation, identifiers. Titles of works, job titles, nominal mentions
(``老师``), dates and the like are dropped, and the conversion summary counts each dropped label
with its reason, so nothing disappears silently. A label a preset does not list stays an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from piifactory.errors import PiiFactoryError
from piifactory.schema import PII_TYPES, UnknownLabelError, canonical_type

_NOMINAL = "a nominal mention (老师, 公司, 这里), not a name: it identifies no one"
_TITLE_OF_WORK = "the title of a work, not personal data"


class UnknownPresetError(PiiFactoryError, ValueError):
    """A ``--label-map`` that is neither a preset name nor a file."""


@dataclass(frozen=True)
class LabelPreset:
    """One corpus's labels: ``maps`` label -> PII type, ``drops`` label -> why it is not PII."""

    name: str
    corpus: str
    maps: Mapping[str, str]
    drops: Mapping[str, str]
    aliases: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        bad = {label: t for label, t in self.maps.items() if t not in PII_TYPES}
        if bad or set(self.maps) & set(self.drops):
            raise ValueError(f"preset {self.name}: types {bad} not in PII_TYPES, or a label both mapped and dropped")
        repeated = sorted(label for label, t in self.maps.items() if _builtin(label) == t)
        if repeated:
            raise ValueError(f"preset {self.name}: {repeated} repeat the schema's aliases (piifactory.schema)")

    def label_map(self) -> dict[str, str | None]:
        """The mapping ``canonical_type`` takes: dropped labels map to None."""
        return {**self.maps, **dict.fromkeys(self.drops)}


def _builtin(label: str) -> str | None:
    """The type the schema's own aliases give ``label`` (a preset maps only what they do not)."""
    try:
        return canonical_type(label)
    except UnknownLabelError:
        return None


def _preset(
    name: str, corpus: str, maps: dict[str, str], drops: dict[str, str], aliases: tuple[str, ...] = ()
) -> LabelPreset:
    return LabelPreset(name, corpus, MappingProxyType(maps), MappingProxyType(drops), aliases)


_ALL = (
    _preset(
        "cluener",
        "CLUENER2020 (10 fine-grained labels, lower case)",
        {},
        {
            "book": _TITLE_OF_WORK,
            "movie": _TITLE_OF_WORK,
            "game": _TITLE_OF_WORK,
            "scene": "a scenic spot or landmark (卢浮宫), not where a person lives or can be found",
            "position": "a job title (经理, CEO): shared by many people, identifies no one",
        },
    ),
    _preset(
        "weibo",
        "Weibo NER (PER/ORG/LOC/GPE x .NAM named / .NOM nominal)",
        {"PER.NAM": "PERSON", "ORG.NAM": "ORG", "LOC.NAM": "ADDRESS", "GPE.NAM": "ADDRESS"},
        {"PER.NOM": _NOMINAL, "ORG.NOM": _NOMINAL, "LOC.NOM": _NOMINAL, "GPE.NOM": _NOMINAL},
    ),
    _preset(
        "resume",
        "Resume NER (Zhang & Yang 2018, BMES)",
        {},
        {
            "TITLE": "a job title (董事长): shared by many people, identifies no one",
            "EDU": "a degree (本科, 硕士), not an identifier",
            "PRO": "a profession or field of study, not an identifier",
            "CONT": "a country of nationality (中国国籍), not an address",
            "RACE": "an ethnic group (汉族): sensitive, but no PII type of the pack holds it",
        },
    ),
    _preset(
        "msra",
        "MSRA / People's Daily 1998 NER (PER, LOC, ORG; also nr, ns, nt)",
        {
            "NR": "PERSON",
            "NS": "ADDRESS",
            "NT": "ORG",
            "nr": "PERSON",
            "ns": "ADDRESS",
            "nt": "ORG",
        },
        {},
        ("peoples-daily",),
    ),
    _preset(
        "presidio-research",
        "presidio-research InputSample (English, Faker templates)",
        {
            "GPE": "ADDRESS",
        },
        {
            "DATE_TIME": "a date or time alone identifies no one",
            "TITLE": "a courtesy or job title (Mr., Dr.), not a name",
            "AGE": "an age alone identifies no one",
            "NRP": "a nationality, religious or political group: sensitive, but no PII type of the pack holds it",
            "ZIP_CODE": "a postcode alone covers thousands of people; ADDRESS is a postal address",
            "DOMAIN_NAME": "a web site's domain, not a person's",
            "IBAN_CODE": "an account number, not a card: BANK_CARD values must pass the card checksum (Luhn)",
            "US_SSN": "a US social security number: ID_CARD is the mainland resident ID (GB 11643)",
            "US_DRIVER_LICENSE": "a US driver licence: no PII type of the pack holds it",
        },
    ),
    _preset(
        "ai4privacy",
        "ai4privacy pii-masking-200k/300k/400k (labels as documented on its dataset card)",
        {
            "MIDDLENAME": "PERSON",
            "GIVENNAME": "PERSON",
            "SURNAME": "PERSON",
            "STREET": "ADDRESS",
            "BUILDINGNUMBER": "ADDRESS",
            "BUILDINGNUM": "ADDRESS",
            "SECONDARYADDRESS": "ADDRESS",
            "CITY": "ADDRESS",
            "STATE": "ADDRESS",
            "COUNTY": "ADDRESS",
            "COMPANYNAME": "ORG",
            "VEHICLEVRM": "LICENSE_PLATE",
        },
        {
            "PREFIX": "a courtesy title (Mr., Ms.), not a name",
            "TITLE": "a courtesy title (Mr., Ms.), not a name",
            "ZIPCODE": "a postcode alone covers thousands of people; ADDRESS is a postal address",
            "NEARBYGPSCOORDINATE": "coordinates: no PII type of the pack holds them",
            "DATE": "a date alone identifies no one",
            "TIME": "a time identifies no one",
            "DOB": "a birth date: no PII type of the pack holds it",
            "DATEOFBIRTH": "a birth date: no PII type of the pack holds it",
            "AGE": "an age alone identifies no one",
            "SEX": "a sex or gender identifies no one",
            "GENDER": "a sex or gender identifies no one",
            "JOBTITLE": "a job title: shared by many people",
            "JOBAREA": "a job area: shared by many people",
            "JOBTYPE": "a job type: shared by many people",
            "USERNAME": "an online handle: no PII type of the pack holds it",
            "PASSWORD": "a secret, not PII to extract",
            "PIN": "a secret, not PII to extract",
            "CREDITCARDCVV": "a secret, not PII to extract",
            "CREDITCARDISSUER": "a card issuer's name (Visa), identifies no one",
            "IBAN": "an account number, not a card: BANK_CARD values must pass the card checksum (Luhn)",
            "BIC": "a bank's code, identifies no one",
            "ACCOUNTNUMBER": "a bank account number, not a card (no Luhn)",
            "ACCOUNTNUM": "a bank account number, not a card (no Luhn)",
            "ACCOUNTNAME": "an account's product name (Savings Account)",
            "AMOUNT": "a sum of money",
            "CURRENCY": "a currency",
            "CURRENCYCODE": "a currency",
            "CURRENCYNAME": "a currency",
            "CURRENCYSYMBOL": "a currency",
            "SSN": "a US social security number: ID_CARD is the mainland resident ID (GB 11643)",
            "SOCIALNUM": "a foreign social number: ID_CARD is the mainland resident ID (GB 11643)",
            "TAXNUM": "a tax number: no PII type of the pack holds it",
            "DRIVERLICENSENUM": "a driver licence: no PII type of the pack holds it",
            "PHONEIMEI": "a device identifier: no PII type of the pack holds it",
            "MAC": "a device identifier: no PII type of the pack holds it",
            "VEHICLEVIN": "a vehicle identifier: no PII type of the pack holds it",
            "USERAGENT": "a browser signature",
            "URL": "a web address, not a person's",
            "ETHEREUMADDRESS": "a crypto wallet: no PII type of the pack holds it",
            "BITCOINADDRESS": "a crypto wallet: no PII type of the pack holds it",
            "LITECOINADDRESS": "a crypto wallet: no PII type of the pack holds it",
            "MASKEDNUMBER": "an already masked number",
            "ORDINALDIRECTION": "a compass direction",
            "HEIGHT": "a body height",
            "EYECOLOR": "an eye colour",
        },
    ),
    _preset(
        "multipriv",
        "MultiPriv person records (attributes of one person; values without offsets)",
        {
            "doctor": "PERSON",
            "idCardNumbers": "ID_CARD",
            "emailAddress": "EMAIL",
            "phoneNumbers": "PHONE",
        },
        {
            "gender": "a sex identifies no one",
            "age": "an age alone identifies no one",
            "occupation": "a job: shared by many people",
            "symptoms": "health data: sensitive, but no PII type of the pack holds it (and the text rephrases it)",
            "diagnosticOutcome": "health data: sensitive, but no PII type of the pack holds it",
            "medicationDetails": "health data: sensitive, but no PII type of the pack holds it",
            "transactionDetails": "a transaction's description, identifies no one",
            "creditScore": "a score: no PII type of the pack holds it (and the text rewrites numbers)",
            "income": "an amount: no PII type of the pack holds it (the text writes 56万元 for 560000)",
        },
    ),
)

PRESETS: dict[str, LabelPreset] = {name: p for p in _ALL for name in (p.name, *p.aliases)}
"""Every preset by name and alias (``msra`` and ``peoples-daily`` are one preset)."""


def label_map_of(label_map: Mapping[str, str | None] | LabelPreset | None) -> Mapping[str, str | None] | None:
    """The plain mapping of a preset, or the mapping (from a file) itself."""
    return label_map.label_map() if isinstance(label_map, LabelPreset) else label_map


def get_preset(name: str) -> LabelPreset:
    try:
        return PRESETS[name]
    except KeyError:
        raise UnknownPresetError(
            f"no label preset {name!r} (and no such file); presets: {', '.join(sorted(PRESETS))}"
        ) from None
