import json
import re

import pytest

from eval.scoring.scorer import score_generations
from piifactory.answer import VALUE_OPEN, GoldError, extract, parse_gold, target_text
from piifactory.schema import Entity

TEXT = "张三的手机号是13800138000，邮箱zs@example.com。"
GOLD = json.dumps(
    {"entities": [{"type": "PERSON", "value": "张三"}, {"type": "PHONE", "value": "13800138000"}]}, ensure_ascii=False
)
ANSWER = '{"entities": [{"type": "PERSON", "value": "张三"}, {"type": "PHONE", "value": "13800138000"}]}'


def test_think_block_and_chat_markers_are_stripped() -> None:
    ex = extract('<think>\n先想想 {"entities": []}\n</think>\n\n' + ANSWER + "<|im_end|>\n<|im_start|>user\n{}", TEXT)
    assert [e.value for e in ex.entities] == ["张三", "13800138000"]
    assert not ex.parse_failure and not ex.truncated


def test_unclosed_think_is_truncation_not_empty() -> None:
    ex = extract("<think>\n还在想", TEXT)
    assert ex.truncated and ex.entities == ()


def test_code_fence_and_trailing_text() -> None:
    ex = extract("结果如下：\n```json\n" + ANSWER + "\n```\n以上 } 就是全部。", TEXT)
    assert len(ex.entities) == 2 and not ex.parse_failure


def test_braces_inside_values_do_not_cut_json() -> None:
    ex = extract('{"entities": [{"type": "ORG", "value": "某}公司"}]} trailing', "某}公司")
    assert [e.value for e in ex.entities] == ["某}公司"]


def test_truncated_output_salvages_complete_entities() -> None:
    ex = extract(ANSWER[: ANSWER.index("13800") + 3], TEXT)
    assert ex.truncated and not ex.parse_failure
    assert [e.type for e in ex.entities] == ["PERSON"]


def test_parse_failure_is_counted_not_scored_empty() -> None:
    result = score_generations([TEXT, TEXT], [GOLD, GOLD], ["我不知道", ANSWER])
    assert result["failures"]["parse_failures"] == 1
    assert result["failures"]["parse_failure_rate"] == 0.5
    assert result["micro"]["fn"] == 2 and result["micro"]["tp"] == 2


def test_empty_prediction_and_empty_list() -> None:
    result = score_generations([TEXT, TEXT], [GOLD, '{"entities": []}'], ["", '{"entities": []}'])
    assert result["failures"]["empty_outputs"] == 1
    assert result["failures"]["parse_failures"] == 0
    assert result["micro"]["fn"] == 2 and result["micro"]["fp"] == 0


def test_duplicates_count_as_a_multiset() -> None:
    twice = '{"entities": [{"type": "PERSON", "value": "张三"}, {"type": "PERSON", "value": "张三"}]}'
    gold_once = '{"entities": [{"type": "PERSON", "value": "张三"}]}'
    result = score_generations([TEXT], [gold_once], [twice])
    assert (result["micro"]["tp"], result["micro"]["fp"]) == (1, 1)
    both = score_generations(["张三见了张三"], [twice], [twice])
    assert both["micro"]["tp"] == 2 and both["micro"]["precision"] == 1.0


def test_full_width_digits_and_separators_match() -> None:
    answer = '{"entities": [{"type": "PHONE", "value": "１３８-0013-8000"}, {"type": "NAME", "value": "张三"}]}'
    result = score_generations([TEXT], [GOLD], [answer])
    assert result["micro"]["tp"] == 2 and result["micro"]["f1"] == 1.0
    assert result["failures"]["hallucinations"] == 1  # the hyphenated form is not in the text


def test_wrong_and_unknown_types() -> None:
    answer = '{"entities": [{"type": "ORG", "value": "张三"}, {"type": "FOO", "value": "13800138000"}, {"value": 1}]}'
    result = score_generations([TEXT], [GOLD], [answer])
    f = result["failures"]
    assert f["unknown_types"] == 1 and f["invalid_items"] == 1
    assert result["micro"]["tp"] == 0 and result["micro"]["fp"] == 2 and result["micro"]["fn"] == 2
    assert result["any_pii"]["tp"] == 2  # both values found, labels wrong
    pairs = {(c["gold"], c["predicted"]): c["count"] for c in result["confusion"]}
    assert pairs[("PERSON", "ORG")] == 1 and pairs[("PHONE", "(unknown type)")] == 1


def test_hallucinated_value_is_counted() -> None:
    answer = '{"entities": [{"type": "PERSON", "value": "李四"}]}'
    assert score_generations([TEXT], [GOLD], [answer])["failures"]["hallucinations"] == 1


def test_bare_list_and_entity_gold_lists() -> None:
    result = score_generations(
        [TEXT], [[Entity("PERSON", "张三"), Entity("PHONE", "13800138000")]], ['[{"type": "PERSON", "value": "张三"}]']
    )
    assert result["micro"]["tp"] == 1 and result["micro"]["fn"] == 1
    assert set(result) >= {"micro", "macro", "per_type", "failures", "ci"} and result["ci"] == {}


def test_gold_is_never_salvaged() -> None:
    with pytest.raises(GoldError):
        parse_gold(GOLD[:-5])
    with pytest.raises(ValueError, match="gold item 0"):
        score_generations([TEXT], ['{"entities": [{"type": "FOO", "value": "x"}]}'], [ANSWER])


def test_target_text_orders_by_first_appearance_and_keeps_repeats() -> None:
    text = "张三的电话是13800138000，张三住在北京。"
    ents = [Entity("PHONE", "13800138000", 6, 17), Entity("PERSON", "张三", 18, 20), Entity("PERSON", "张三", 0, 2)]
    payload = json.loads(target_text(ents, text))
    assert payload == {
        "entities": [
            {"type": "PERSON", "value": "张三"},
            {"type": "PHONE", "value": "13800138000"},
            {"type": "PERSON", "value": "张三"},
        ]
    }
    assert "\\u" not in target_text(ents, text)  # Chinese stays readable


def test_value_open_finds_each_value_the_writer_writes() -> None:
    answer = target_text([Entity("PERSON", "张三"), Entity("EMAIL", "zs@example.com")], TEXT)
    assert [answer[m.end() :].split('"', 1)[0] for m in re.finditer(VALUE_OPEN, answer)] == ["张三", "zs@example.com"]
