import pytest

from piifactory.tables import markdown_table, text_table


def test_markdown_table_marks_right_aligned_columns() -> None:
    table = markdown_table(["type", "F1"], [["PHONE", "0.990"], ["IP", 0.5]], align="lr")
    assert table.splitlines() == ["| type | F1 |", "|---|---:|", "| PHONE | 0.990 |", "| IP | 0.5 |"]
    assert markdown_table(["a", "b"], []).splitlines()[1] == "|---|---|"


def test_text_table_pads_columns_to_the_widest_cell() -> None:
    table = text_table(["type", "TP"], [["PHONE", 7], ["IP", 12]], align="lr")
    assert table.splitlines() == ["type   TP", "-----  --", "PHONE   7", "IP     12"]


def test_an_align_string_that_does_not_fit_the_columns_is_an_error() -> None:
    with pytest.raises(ValueError, match="each of the 2 columns"):
        markdown_table(["a", "b"], [], align="lrr")
    with pytest.raises(ValueError, match="'lc'"):
        text_table(["a", "b"], [], align="lc")
