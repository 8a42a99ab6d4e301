"""The generator as an augmentation tool: genres, value formats as people write them, hard
negatives, and the genre and type weights of the API and the CLI."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from piifactory.errors import UsageError
from piifactory.rules.checksums import is_valid_id_card, is_valid_luhn
from piifactory.rules.recognizers import analyze
from piifactory.schema import PII_TYPES, normalize_value
from piifactory.synth import GENRES, VARIED_GENRES, SyntheticPII, generate, main
from piifactory.synth.generator import template_types


def _labelled(n: int, seed: int, **weights) -> list:
    generator = SyntheticPII(seed, **weights)
    return [generator.labelled_sample() for _ in range(n)]


def test_at_least_15_genres_each_written_with_exact_offsets() -> None:
    assert len(VARIED_GENRES) >= 15 and "templates" not in VARIED_GENRES
    labelled = _labelled(3000, 1, genres=dict.fromkeys(GENRES, 1))
    seen = Counter(name for name, _ in labelled)
    assert set(seen) == set(GENRES)
    types = Counter()
    for _, sample in labelled:
        for ent in sample.entities:
            assert sample.text[ent.start : ent.end] == ent.value
            types[ent.type] += 1
    assert set(types) == set(PII_TYPES)
    texts = [s.text for _, s in labelled]
    assert sum("\n" in t for t in texts) > 1000  # chats, forms, logs and tables span lines
    assert any(re.search(r"[\U0001F300-\U0001FAFF]", t) for t in texts)  # group chats
    assert any(t.startswith("| ") for t in texts) and any("Best regards" in t for t in texts)


def test_long_paragraphs_hold_many_entities_and_repeat_values() -> None:
    samples = [s for name, s in _labelled(600, 2, genres={"long_paragraph": 1}) if s.entities]
    assert min(len(s.entities) for s in samples) >= 12
    assert all(len({(e.type, e.value) for e in s.entities}) < len(s.entities) for s in samples)


def test_values_come_in_the_formats_people_write() -> None:
    values = Counter()
    for _, sample in _labelled(4000, 3, genres=dict.fromkeys(VARIED_GENRES, 1)):
        for ent in sample.entities:
            v = ent.value
            if ent.type == "PERSON":
                values["minority ·"] += "·" in v
                values["stray space"] += " " in v
                values["compound surname"] += v[:2] in ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫")
            elif ent.type == "PHONE":
                values["+86"] += v.startswith("+86") or v.startswith("(+86)")
                values["grouped phone"] += bool(re.fullmatch(r"1\d\d \d{4} \d{4}", v))
            elif ent.type == "ID_CARD":
                plain = normalize_value(v).replace(" ", "")
                values["full-width"] += v != normalize_value(v)
                values["grouped ID"] += " " in v
                values["15-digit ID"] += len(plain) == 15
                if len(plain) == 18:
                    assert is_valid_id_card(plain.upper()), v
            elif ent.type == "BANK_CARD":
                plain = normalize_value(v).replace(" ", "").replace("-", "")
                assert is_valid_luhn(plain), v
                values["grouped card"] += " " in v or "-" in v
            elif ent.type == "PASSPORT":
                values["travel permit"] += v[0] in "CLHM"
    assert all(
        values[kind] >= 5
        for kind in (
            "minority ·",
            "stray space",
            "compound surname",
            "+86",
            "grouped phone",
            "full-width",
            "grouped ID",
            "15-digit ID",
            "grouped card",
            "travel permit",
        )
    ), values


def test_hard_negatives_carry_no_entity_and_rules_stay_silent_on_them() -> None:
    negatives = [s for _, s in _labelled(3000, 4, genres=dict.fromkeys(VARIED_GENRES, 1)) if not s.entities]
    text = "\n".join(s.text for s in negatives)
    assert "****" in text and "10086" in text or "95588" in text
    assert any(name in text for name in ("李白", "杜甫", "鲁迅", "孔子"))
    for sample in negatives[:300]:
        assert analyze(sample.text) == [], sample.text


def test_rules_find_the_structured_values_in_varied_genres() -> None:
    """Grouped IDs, 15-digit IDs and permits included: the recognizers read these formats too."""
    found = total = 0
    for _, sample in _labelled(400, 5, genres=dict.fromkeys(VARIED_GENRES, 1)):
        hits = {(h.type, h.start, h.end) for h in analyze(sample.text)}
        for ent in sample.entities:
            if ent.type in ("ID_CARD", "BANK_CARD", "PASSPORT", "EMAIL", "USCC"):
                total += 1
                found += (ent.type, ent.start, ent.end) in hits
    assert total > 150 and found / total >= 0.95


def test_type_weights_draw_more_of_the_weighted_type() -> None:
    def person_share(samples) -> float:
        return sum(any(e.type == "PERSON" for e in s.entities) for s in samples if s.entities) / sum(
            bool(s.entities) for s in samples
        )

    plain = person_share(generate(2000, seed=6, genres={"templates": 1}))
    weighted = person_share(generate(2000, seed=6, genres={"templates": 1}, types={"LICENSE_PLATE": 5}))
    plates = lambda samples: sum(e.type == "LICENSE_PLATE" for s in samples for e in s.entities)  # noqa: E731
    assert plates(generate(2000, seed=6, types={"LICENSE_PLATE": 5})) > 2.5 * plates(generate(2000, seed=6))
    assert weighted < plain  # the plate templates crowd out the others
    assert template_types("{PERSON:1}在{ORG}，座机{LANDLINE}，订单{ORDER}") == {"PERSON", "ORG", "PHONE"}


def test_genre_weights_and_the_default_stream() -> None:
    seen = Counter(name for name, _ in _labelled(3000, 7, genres={"ocr": 3, "server_log": 1}))
    assert set(seen) == {"ocr", "server_log"} and 2.3 < seen["ocr"] / seen["server_log"] < 3.9
    assert generate(300, seed=8) == generate(300, seed=8, genres={"templates": 1})  # the demo's data
    assert {name for name, _ in _labelled(50, 8)} == {"templates"}


@pytest.mark.parametrize("weights", [{"genres": {"poetry": 1}}, {"types": {"SSN": 2}}, {"genres": {"ocr": 0}}])
def test_bad_weights_are_usage_errors(weights) -> None:
    with pytest.raises(UsageError):
        SyntheticPII(0, **weights)


def test_cli_genres_types_and_genre_field(tmp_path, capsys) -> None:
    out = tmp_path / "aug.jsonl"
    assert (
        main(
            [
                "--samples",
                "300",
                "--seed",
                "9",
                "--genres",
                "varied",
                "--types",
                "PERSON=3",
                "--genre-field",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 300 and {r["genre"] for r in rows} <= set(VARIED_GENRES)
    assert len({r["genre"] for r in rows}) == len(VARIED_GENRES)
    capsys.readouterr()
    assert main(["--list-genres"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in GENRES)
    assert main(["--samples", "5", "--genres", "poetry", "--out", str(out)]) == 2
    assert "unknown genre poetry" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["--samples", "5", "--types", "PERSON=lots", "--out", str(out)])
    assert exit_info.value.code == 2
