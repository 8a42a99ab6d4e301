"""The recall dial: operating points, thresholds per type, and the calibration sweep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.dial import OperatingPoint, apply_point, parse_min_score, read_point, write_point
from piifactory.answer import target_text
from piifactory.io import InputError
from piifactory.schema import Entity


def test_min_score_parses_default_and_per_type_with_aliases() -> None:
    assert parse_min_score("0.3") == (0.3, {})
    assert parse_min_score("0.3,姓名=0.5, email=0.1") == (0.3, {"PERSON": 0.5, "EMAIL": 0.1})
    for bad in ("x", "PERSON=2", "NOPE=0.2"):
        with pytest.raises(ValueError, match="--min-score"):
            parse_min_score(bad)


def test_point_round_trips_and_a_bad_file_is_file_line(tmp_path: Path) -> None:
    point = OperatingPoint(4.0, 0.2, {"PERSON": 0.6})
    write_point(tmp_path / "op.json", point, chosen_by="target recall 0.95")
    assert read_point(tmp_path / "op.json") == point
    assert json.loads((tmp_path / "op.json").read_text())["chosen_by"] == "target recall 0.95"
    (tmp_path / "bad.json").write_text('{"recall_bias": 1,\n  oops}')
    with pytest.raises(InputError, match=r"bad.json:2: not an operating point"):
        read_point(tmp_path / "bad.json")
    (tmp_path / "types.json").write_text('{"recall_bias": 1, "per_type": {"SHOE": 0.1}}')
    with pytest.raises(InputError, match="unknown types"):
        read_point(tmp_path / "types.json")


def test_apply_point_keeps_entities_at_or_above_their_types_threshold() -> None:
    text = "张三的电话13800138000，邮箱a@b.cn"
    answer = target_text([Entity("PERSON", "张三"), Entity("PHONE", "13800138000"), Entity("EMAIL", "a@b.cn")])
    scores = [{"score": 0.9}, {"score": 0.3}, {"score": 0.05}]
    assert apply_point(answer, scores, OperatingPoint()) == answer
    kept = apply_point(answer, scores, OperatingPoint(min_score=0.3), text)
    assert kept == target_text([Entity("PERSON", "张三"), Entity("PHONE", "13800138000")])
    kept = apply_point(answer, scores, OperatingPoint(min_score=0.5, per_type={"EMAIL": 0.0}), text)
    assert kept == target_text([Entity("PERSON", "张三"), Entity("EMAIL", "a@b.cn")])
    with pytest.raises(ValueError, match="3 entities but 2 scores"):
        apply_point(answer, scores[:2], OperatingPoint())
