"""What is missed: every gold entity grouped by type, value shape, script, lengths, position and
repeats; misses counted as scoring counts them; examples masked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval import score
from eval.scoring.misses import analyze_misses, shape_mask, value_shape
from eval.scoring.scorer import score_samples
from piifactory.answer import target_text
from piifactory.schema import Entity

LONG = "这是一段很长的说明文字，" * 40
CASES = [
    # text, gold, predicted
    ("王芳的电话：138-1234-5678", [("PERSON", "王芳"), ("PHONE", "138-1234-5678")], [("PERSON", "王芳")]),
    ("手机＋８６ １３８１２３４５６７８请回电", [("PHONE", "＋８６ １３８１２３４５６７８")], []),
    ("邮箱ａｂｃ＠ｘｙ．ｃｏｍ", [("EMAIL", "ａｂｃ＠ｘｙ．ｃｏｍ")], [("EMAIL", "abc@xy.com")]),
    ("李四说李四不在", [("PERSON", "李四"), ("PERSON", "李四")], [("PERSON", "李四")]),
    (LONG + "联系人赵敏", [("PERSON", "赵敏")], []),
    ("Mike Chen住北京市海淀区", [("PERSON", "Mike Chen"), ("ADDRESS", "北京市海淀区")], [("ADDRESS", "北京市海淀区")]),
]


def _scored():
    texts = [t for t, _, _ in CASES]
    gold = [[Entity(k, v) for k, v in g] for _, g, _ in CASES]
    preds = [target_text([Entity(k, v) for k, v in p], t) for t, _, p in CASES]
    return texts, gold, preds, score_samples(texts, gold, preds)


def test_shapes_and_masks() -> None:
    assert value_shape("138-1234-5678") == value_shape("6222 0212 3456 7890") == "digits in groups"
    assert (
        value_shape("＋８６ １３８１２３４５６７８")
        == value_shape("+86-13812345678")
        == value_shape("(+86)13812345678")
        == "+86"
    )
    assert value_shape("ａｂｃ＠ｘｙ．ｃｏｍ") == "full-width" and value_shape("张三") == "plain"
    assert shape_mask("138-1234-5678") == "999-9999-9999"
    assert shape_mask("＋８６ Ab张") == "＋９９ Aa汉"


def test_misses_are_grouped_where_recall_goes() -> None:
    texts, _, _, scored = _scored()
    report = analyze_misses(scored, texts)
    t = report.totals
    assert report.missed == 5 == scored.counts[:, :, 2].sum()  # what the scorer counts as false negatives
    assert t["type"]["PHONE"] == (2, 2) and t["type"]["PERSON"] == (5, 3) and t["type"]["EMAIL"] == (1, 0)
    assert t["value shape"]["digits in groups"] == (1, 1) and t["value shape"]["+86"] == (1, 1)
    assert t["value shape"]["full-width"] == (1, 0)  # found: the scorer folds width
    assert t["script"]["Latin / digits"] == (4, 3)  # the phones and Mike Chen; the e-mail was found
    assert t["repeats in text"]["repeated"] == (2, 1)
    assert t["position in text"]["last third"][1] >= 1 and t["text length"]["400+ chars"] == (1, 1)
    assert sum(n for n, _ in t["value length"].values()) == 9  # every gold entity once per dimension


def test_examples_show_shape_and_cue_words_not_values() -> None:
    texts, _, _, scored = _scored()
    report = analyze_misses(scored, texts)
    phone = next(m for m in report.misses if m.entity.type == "PHONE" and m.sample == 0)
    assert phone.context == "汉汉的电话："  # the name before it is gold: masked by its shape
    from eval.scoring.misses import example_rows

    rows = example_rows(report, show_values=False, limit=10)
    assert ["0", "PHONE", "999-9999-9999", "digits in groups", "汉汉的电话："] in rows
    assert not any("138" in cell or "赵敏" in cell for row in rows for cell in row)
    assert ["4", "PERSON", "赵敏"] == example_rows(report, show_values=True, limit=10)[-2][:3]


def test_score_cli_misses_and_report_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    texts, gold, preds, _ = _scored()
    path = tmp_path / "preds.jsonl"
    from piifactory.schema import DEFAULT_INSTRUCTION

    path.write_text(
        "".join(
            json.dumps(
                {"prompt": f"{DEFAULT_INSTRUCTION}\n{t}", "predict": p, "label": target_text(g, t)}, ensure_ascii=False
            )
            + "\n"
            for t, g, p in zip(texts, gold, preds)
        ),
        encoding="utf-8",
    )
    assert score.main([str(path), "--misses", "--bootstrap", "0", "--report", str(tmp_path / "r" / "score.md")]) == 0
    out = capsys.readouterr().out
    assert "5 gold entities missed" in out and "digits in groups" in out
    report = (tmp_path / "r" / "score.md").read_text(encoding="utf-8")
    assert "## What is missed" in report and "![misses](score_misses.png)" in report and "138" not in report
    assert (tmp_path / "r" / "score_misses.png").read_bytes().startswith(b"\x89PNG")
    assert score.main([str(path), "--misses", "--json", "--bootstrap", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["misses"]["value shape"]["+86"] == {"gold": 1, "missed": 1}
