"""The recall dial: operating points, thresholds per type, and the calibration sweep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.decoding.dial import OperatingPoint, apply_point, parse_min_score, read_point, write_point
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


def _biased_pass(path: Path) -> None:
    """An eval.predict file as a biased pass writes it: gold label, the model's whole answer, scores.
    The right entities score high, the extra ones low, one right phone scores lower than a wrong name."""
    from piifactory.schema import DEFAULT_INSTRUCTION

    rows = [
        (
            "张三的电话13800138000",
            [("PERSON", "张三", 0.95), ("PHONE", "13800138000", 0.4), ("ADDRESS", "电话", 0.05)],
            [("PERSON", "张三"), ("PHONE", "13800138000")],
        ),
        (
            "李四住在武汉街",
            [("PERSON", "李四", 0.9), ("ADDRESS", "武汉街", 0.7), ("PERSON", "武汉", 0.5)],
            [("PERSON", "李四"), ("ADDRESS", "武汉街")],
        ),
        (
            "王五王五",
            [("PERSON", "王五", 0.8), ("PERSON", "王五", 0.6), ("PERSON", "王五", 0.2)],
            [("PERSON", "王五"), ("PERSON", "王五")],
        ),
        ("邮箱a@b.cn", [], [("EMAIL", "a@b.cn")]),
    ]
    lines = []
    for index, (text, predicted, gold) in enumerate(rows):
        answer = target_text([Entity(t, v) for t, v, _ in predicted])
        lines.append(
            json.dumps(
                {
                    "id": str(index),
                    "prompt": f"user\n{DEFAULT_INSTRUCTION}\n{text}",
                    "predict": answer,
                    "label": target_text([Entity(t, v) for t, v in gold]),
                    "recall_bias": 4.0,
                    "scores": [{"type": t, "value": v, "score": s} for t, v, s in predicted],
                },
                ensure_ascii=False,
            )
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_the_sweep_counts_what_the_scorer_counts_at_every_threshold(tmp_path: Path) -> None:
    from eval.calibrate import curve, read_candidates, totals
    from eval.scoring.scorer import score_generations

    _biased_pass(tmp_path / "val.jsonl")
    c, texts, gold, answers, scores = read_candidates(tmp_path / "val.jsonl")
    assert c.bias == 4.0 and int(c.gold.sum()) == 7
    for threshold in (0.0, 0.1, 0.25, 0.35, 0.45, 0.6, 0.65, 0.85, 0.99):
        for point in (OperatingPoint(4.0, threshold), OperatingPoint(4.0, 0.0, {"PERSON": threshold})):
            served = [apply_point(a, s, point, t) for a, s, t in zip(answers, scores, texts)]
            micro = score_generations(texts, list(gold), served)["micro"]
            assert totals(c, point) == (micro["tp"], micro["fp"], micro["fn"])
    thresholds, precision, recall = curve(c)
    assert thresholds[0] == 0.95 and recall[-1] == 6 / 7 and list(recall) == sorted(recall)


def test_choose_meets_the_target_and_per_type_does_at_least_as_well(tmp_path: Path) -> None:
    from eval.calibrate import choose, read_candidates, recall_at_precision, totals
    from eval.scoring.metrics import prf

    _biased_pass(tmp_path / "val.jsonl")
    c = read_candidates(tmp_path / "val.jsonl")[0]
    point = choose(c, "recall", 0.8)
    m = prf(*totals(c, point))
    assert m["recall"] >= 0.8 and point.min_score == 0.4  # the highest threshold that keeps recall >= 0.8
    best = choose(c, "f1")
    per_type = choose(c, "f1", per_type=True)
    f1 = lambda p: prf(*totals(c, p))["f1"]  # noqa: E731
    assert f1(per_type) >= f1(best) > f1(OperatingPoint(4.0))
    assert per_type.per_type  # PHONE's right answer scores below PERSON's wrong one: types differ
    assert recall_at_precision(c, 0.95) == (5 / 7, 0.6)


def test_calibrate_cli_writes_point_and_plot_that_predict_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from eval import calibrate, predict

    _biased_pass(tmp_path / "val.jsonl")
    out = tmp_path / "op.json"
    assert (
        calibrate.main(["--predictions", str(tmp_path / "val.jsonl"), "--target-recall", "0.8", "--out", str(out)]) == 0
    )
    assert "recall at precision >= 0.95: 0.714" in capsys.readouterr().out
    written = json.loads(out.read_text())
    assert written["validation"]["recall"] >= 0.8 and written["chosen_by"] == "recall >= 0.8"
    assert (tmp_path / "op.png").read_bytes().startswith(b"\x89PNG")
    assert predict.operating_point(out, None, None) == OperatingPoint(4.0, 0.4)
    assert predict.operating_point(out, 2.0, "PERSON=0.5") == OperatingPoint(2.0, 0.0, {"PERSON": 0.5})
    (tmp_path / "plain.jsonl").write_text('{"prompt": "x", "predict": "{}", "label": "{\\"entities\\": []}"}\n')
    assert calibrate.main(["--predictions", str(tmp_path / "plain.jsonl"), "--out", str(out)]) == 2
    assert "plain.jsonl:1: no entity scores" in capsys.readouterr().err
