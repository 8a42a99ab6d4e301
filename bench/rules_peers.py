"""The recognizers against test suites other projects keep, as a peer test suite.

Two suites of the folder given are read: ``cn-identifiers/`` (bare
identifiers with a valid/invalid verdict from python-stdnum's and validator.js's tests) and
``cn-intext-cases/`` (sentences with a count of PII of one type, from cn_pii_anonymization's
tests). An identifier agrees when our verdict is theirs (found = one hit of its type covering the
whole value); a sentence when we find as many of its type. Every disagreement must be one of the
:data:`DECISIONS`, each with its reason; any other makes the exit status 1.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import phonenumbers

from piifactory.command_line import command_parser
from piifactory.errors import PiiFactoryError
from piifactory.io import InputError, atomic_write_text, parse_json
from piifactory.rules.recognizers.registry import analyze
from piifactory.schema import PII_TYPES
from piifactory.tables import markdown_table

IDENTIFIERS = Path("cn-identifiers/identifiers.json")
INTEXT = Path("cn-intext-cases/cases.json")
_SUITE_TYPES = {
    "Phone": "PHONE",
    "IDCard": "ID_CARD",
    "BankCard": "BANK_CARD",
    "Passport": "PASSPORT",
    "Email": "EMAIL",
}


@dataclass(frozen=True)
class Case:
    """One value or sentence: how many the peer expects (an identifier: 1 valid, 0 invalid) and
    how many of its type our recognizers find."""

    suite: str
    where: str
    kind: str
    text: str
    expected: int
    found: int

    @property
    def agrees(self) -> bool:
        return self.found == self.expected


@dataclass(frozen=True)
class Decision:
    """A disagreement we keep on purpose: on which type, which way (``extra``: we find what the
    peer refuses; ``missed``: the reverse), which texts, and why."""

    name: str
    kind: str
    direction: str
    applies: Callable[[str], bool]
    reason: str

    def explains(self, case: Case) -> bool:
        direction = "extra" if case.found > case.expected else "missed"
        return case.kind == self.kind and direction == self.direction and self.applies(case.text)


def _parsed(text: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None


def _is_fixed_line(text: str) -> bool:
    number = _parsed(text)
    return number is not None and phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.FIXED_LINE


def _is_unallocated_9x(text: str) -> bool:
    number = _parsed(text)
    return (
        number is not None and str(number.national_number).startswith("9") and not phonenumbers.is_valid_number(number)
    )


DECISIONS: tuple[Decision, ...] = (
    Decision(
        "separator after the country code",
        "PHONE",
        "extra",
        lambda text: re.match(r"(?:\+|00)86[ -]", text) is not None,
        "validator.js refuses `+86-138...` and `0086-138-...` as badly formatted; people write "
        "them so and they are still the person's number, so a detector finds them",
    ),
    Decision(
        "landlines are PHONE",
        "PHONE",
        "extra",
        _is_fixed_line,
        "validator.js's isMobilePhone judges mobiles only; PHONE covers landlines too, and "
        "phonenumbers confirms the number is a valid fixed line",
    ),
    Decision(
        "no 9x mobile segment",
        "PHONE",
        "missed",
        _is_unallocated_9x,
        "validator.js's pattern accepts 92x and 98x numbers; China's numbering plan has no such "
        "mobile segment (phonenumbers refuses them too), and an 11-digit 9x number is more often "
        "an account or order number",
    ),
)


def _load(path: Path) -> list[Any]:
    try:
        data = parse_json(path.read_text(encoding="utf-8"))
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise InputError(path, getattr(exc, "lineno", None), f"invalid JSON: {exc}") from None
    if not isinstance(data, list):
        raise InputError(path, None, "expected a JSON array")
    return data


def _field(path: Path, index: int, item: Any, name: str, kind: type) -> Any:
    if not isinstance(item, dict) or not isinstance(item.get(name), kind):
        raise InputError(path, None, f"item {index}: missing {kind.__name__} {name!r}")
    return item[name]


def identifier_cases(path: Path) -> list[Case]:
    """``{"kind", "value", "valid"}`` items: found when one hit of the kind covers the whole value."""
    cases = []
    for i, item in enumerate(_load(path)):
        kind, value = _field(path, i, item, "kind", str), _field(path, i, item, "value", str)
        valid = _field(path, i, item, "valid", bool)
        if kind not in PII_TYPES:
            raise InputError(path, None, f"item {i}: unknown kind {kind!r}")
        whole = any(h.type == kind and h.start == 0 and h.end == len(value) for h in analyze(value))
        cases.append(Case(path.parent.name, f"{path}[{i}]", kind, value, int(valid), int(whole)))
    return cases


def intext_cases(path: Path) -> list[Case]:
    """``{"suite": "TestCN<Type>Recognizer", "text", "expected_count"}`` items: hits of the type."""
    cases = []
    for i, item in enumerate(_load(path)):
        suite, text = _field(path, i, item, "suite", str), _field(path, i, item, "text", str)
        expected = _field(path, i, item, "expected_count", int)
        match = re.fullmatch(r"TestCN(\w+)Recognizer", suite)
        if match is None or match.group(1) not in _SUITE_TYPES:
            raise InputError(path, None, f"item {i}: unknown suite {suite!r}")
        kind = _SUITE_TYPES[match.group(1)]
        found = sum(h.type == kind for h in analyze(text))
        cases.append(Case(path.parent.name, f"{path}[{i}]", kind, text, expected, found))
    return cases


def judge(cases: list[Case]) -> tuple[list[tuple[Case, Decision]], list[Case]]:
    """Disagreements explained by a decision, and those no decision explains."""
    explained, unexplained = [], []
    for case in cases:
        if case.agrees:
            continue
        decision = next((d for d in DECISIONS if d.explains(case)), None)
        if decision is None:
            unexplained.append(case)
        else:
            explained.append((case, decision))
    return explained, unexplained


def report(cases: list[Case]) -> tuple[str, bool]:
    """The Markdown report, and whether every disagreement is a listed decision."""
    explained, unexplained = judge(cases)
    deliberate = Counter((c.suite, c.kind) for c, _ in explained)
    wrong = Counter((c.suite, c.kind) for c in unexplained)
    total = Counter((c.suite, c.kind) for c in cases)
    agree = Counter((c.suite, c.kind) for c in cases if c.agrees)
    rows = [
        [s, k, str(n), str(agree[s, k]), str(deliberate[s, k]), str(wrong[s, k])] for (s, k), n in sorted(total.items())
    ]
    rows.append(["all", "", str(len(cases)), str(sum(agree.values())), str(len(explained)), str(len(unexplained))])
    parts = [
        "## Agreement with peer test suites",
        "",
        markdown_table(["suite", "type", "cases", "agree", "deliberate", "unexplained"], rows),
    ]
    used = Counter(d.name for _, d in explained)
    parts += ["", "## Deliberate disagreements", ""]
    parts.append(
        markdown_table(
            ["decision", "type", "way", "cases", "reason"],
            [[d.name, d.kind, d.direction, str(used[d.name]), d.reason] for d in DECISIONS],
        )
    )
    listing = [[c.where, c.kind, f"`{c.text}`", str(c.expected), str(c.found), d.name] for c, d in explained]
    listing += [[c.where, c.kind, f"`{c.text}`", str(c.expected), str(c.found), "**unexplained**"] for c in unexplained]
    if listing:
        parts += [
            "",
            "## Every disagreement",
            "",
            markdown_table(["where", "type", "text", "peer", "we", "decision"], listing),
        ]
    return "\n".join(parts), not unexplained


def main(argv: list[str] | None = None) -> int:
    parser = command_parser(__name__, __doc__, "real-data/")
    parser.add_argument(
        "real_data",
        type=Path,
        help="folder holding cn-identifiers/ and cn-intext-cases/",
    )
    parser.add_argument("--out", type=Path, help="also write the report to this Markdown file")
    args = parser.parse_args(argv)
    try:
        cases = identifier_cases(args.real_data / IDENTIFIERS) + intext_cases(args.real_data / INTEXT)
    except (InputError, PiiFactoryError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    markdown, ok = report(cases)
    print(markdown)
    if args.out is not None:
        atomic_write_text(args.out, markdown + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
