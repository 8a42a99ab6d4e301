"""The peer-suite command on small suites written here in the two formats it reads
(cn-identifiers, cn-intext-cases): agreement, deliberate disagreements, unexplained ones."""

from __future__ import annotations

import json
from pathlib import Path

from bench.rules_peers import DECISIONS, main
from piifactory.rules.checksums import id_card_check_char, luhn_check_digit

ID = "44030519900101123" + id_card_check_char("44030519900101123")
CARD81 = "810000123456789" + luhn_check_digit("810000123456789")

IDENTIFIERS = [
    {"kind": "ID_CARD", "value": ID, "valid": True},
    {"kind": "ID_CARD", "value": "440305900101123", "valid": True},  # first generation
    {"kind": "ID_CARD", "value": ID[:-1] + ("0" if ID[-1] != "0" else "1"), "valid": False},
    {"kind": "BANK_CARD", "value": CARD81, "valid": True},
    {"kind": "PHONE", "value": "+86-13912345678", "valid": False},  # we find it: a decision
    {"kind": "PHONE", "value": "021-62345678", "valid": False},  # a landline: a decision
    {"kind": "PHONE", "value": "93912345678", "valid": True},  # no 9x mobiles: a decision
    {"kind": "PHONE", "value": "12912345678", "valid": False},
]
INTEXT = [
    {
        "suite": "TestCNIDCardRecognizer",
        "text": f"身份证 {' '.join(ID[i : i + 4] for i in range(0, 18, 4))}",
        "expected_count": 1,
    },
    {
        "suite": "TestCNBankCardRecognizer",
        "text": f"卡号 {'  '.join(CARD81[i : i + 4] for i in range(0, 16, 4))}",
        "expected_count": 1,
    },
    {"suite": "TestCNPassportRecognizer", "text": "通行证C23456789", "expected_count": 1},
    {"suite": "TestCNPhoneRecognizer", "text": "两个手机号13912345678和13712345678", "expected_count": 2},
]


def _suites(root: Path, identifiers: list[dict], intext: list[dict]) -> Path:
    for folder, name, items in (
        ("cn-identifiers", "identifiers.json", identifiers),
        ("cn-intext-cases", "cases.json", intext),
    ):
        (root / folder).mkdir(parents=True)
        (root / folder / name).write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    return root


def test_agreement_with_every_disagreement_a_listed_decision(tmp_path, capsys):
    out = tmp_path / "peers.md"
    assert main([str(_suites(tmp_path / "real", IDENTIFIERS, INTEXT)), "--out", str(out)]) == 0
    report = capsys.readouterr().out
    assert report.strip() == out.read_text(encoding="utf-8").strip()
    assert "| all |  | 12 | 9 | 3 | 0 |" in report
    for decision in DECISIONS:
        assert f"| {decision.name} | {decision.kind} | {decision.direction} | 1 | {decision.reason} |" in report
    assert "**unexplained**" not in report


def test_an_unexplained_disagreement_fails(tmp_path, capsys):
    wrong = [{"kind": "ID_CARD", "value": ID, "valid": False}]  # we find a valid ID the peer refuses
    assert main([str(_suites(tmp_path / "real", wrong, INTEXT[:1]))]) == 1
    report = capsys.readouterr().out
    assert "| all |  | 2 | 1 | 0 | 1 |" in report
    assert f"| ID_CARD | `{ID}` | 0 | 1 | **unexplained** |" in report


def test_bad_suites_are_reported_not_raised(tmp_path, capsys):
    assert main([str(tmp_path / "missing")]) == 2
    assert "identifiers.json" in capsys.readouterr().err
    root = _suites(tmp_path / "real", IDENTIFIERS, [{"suite": "TestCNFaxRecognizer", "text": "x", "expected_count": 0}])
    assert main([str(root)]) == 2
    assert "cases.json: item 0: unknown suite 'TestCNFaxRecognizer'" in capsys.readouterr().err
