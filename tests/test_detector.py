"""The detector library: spans with offsets that hold their values, Presidio's operators,
RecognizerResult conversion, the rules-only detector, and the model detector on any text."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.fixtures import tiny_inference_recipe, write_alpaca_splits
from eval.decoding.dial import OperatingPoint
from eval.detection.detector import Detector, Options
from eval.detection.operators import redact
from eval.detection.spans import Span, to_recognizer_results
from piifactory.errors import UsageError

TEXT = "请联系张伟，手机号码是13812345678，谢谢。"


def test_rules_only_detector_finds_the_phone_with_offsets_and_needs_no_model() -> None:
    detector = Detector.rules_only()
    assert not detector.uses_model
    (spans,) = detector.analyze([TEXT])
    assert spans == [Span("PHONE", 11, 22, "13812345678", spans[0].score, "rules")]
    assert TEXT[11:22] == "13812345678" and 0.5 <= spans[0].score <= 1.0
    with pytest.raises(UsageError, match="union or both"):
        Detector.rules_only("verify")


def test_redact_with_presidios_operators_per_type_and_default() -> None:
    text = "张伟 13812345678 a@b.cn"
    spans = [
        Span("PERSON", 0, 2, "张伟", 0.9, "model"),
        Span("PHONE", 3, 14, "13812345678", 1.0, "rules"),
        Span("EMAIL", 15, 21, "a@b.cn", 1.0, "both"),
    ]
    assert redact(text, spans).text == "<PERSON> <PHONE> <EMAIL>"
    operators = {
        "PHONE": {"type": "mask", "masking_char": "*", "chars_to_mask": 4, "from_end": True},
        "EMAIL": {"type": "hash"},
        "PERSON": {"type": "keep"},
        "DEFAULT": {"type": "redact"},
    }
    result = redact(text, spans, operators)
    digest = hashlib.sha256(b"a@b.cn").hexdigest()
    assert result.text == f"张伟 1381234**** {digest}"
    assert [(i["entity_type"], i["operator"]) for i in result.items] == [
        ("PERSON", "keep"),
        ("PHONE", "mask"),
        ("EMAIL", "hash"),
    ]
    assert all(result.text[i["start"] : i["end"]] == i["text"] for i in result.items)
    assert redact(text, spans[1:2], {"DEFAULT": {"type": "replace", "new_value": "[X]"}}).text == "张伟 [X] a@b.cn"
    assert redact(text, spans[1:2], {"DEFAULT": {"type": "redact"}}).text == "张伟  a@b.cn"


def test_redact_covers_overlapping_spans_as_one_region() -> None:
    text = "住北京市朝阳区建国路1号"
    spans = [Span("ADDRESS", 1, 12, text[1:12], 0.8, "model"), Span("ADDRESS", 4, 7, text[4:7], 0.7, "model")]
    assert redact(text, spans).text == "住<ADDRESS>"


@pytest.mark.parametrize(
    "operators,message",
    [
        ({"PHONE": {"type": "encrypt"}}, "unknown operator 'encrypt'"),
        ({"PHONE": {"type": "hash", "hash_type": "md5"}}, "sha256 or sha512"),
        ({"PHONE": {"type": "mask", "masking_char": "**"}}, "one character"),
        ({"PHONE": {"type": "mask", "chars_to_mask": "x"}}, "bad parameter"),
        ({"PHONE": "mask"}, "an operator is"),
        (["mask"], "must be an object"),
    ],
)
def test_bad_operators_are_usage_errors(operators, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        redact(TEXT, [Span("PHONE", 11, 22, "13812345678", 1.0, "rules")], operators)


def test_operator_config_objects_are_read_like_presidios() -> None:
    @dataclass
    class OperatorConfig:  # Presidio's shape: operator_name and params
        operator_name: str
        params: dict

    spans = [Span("PHONE", 11, 22, "13812345678", 1.0, "rules")]
    result = redact(TEXT, spans, {"PHONE": OperatorConfig("replace", {"new_value": "<手机>"})})
    assert result.text == "请联系张伟，手机号码是<手机>，谢谢。"


def test_spans_convert_to_recognizer_results() -> None:
    class RecognizerResult:  # presidio_analyzer's constructor signature
        def __init__(self, entity_type: str, start: int, end: int, score: float) -> None:
            self.entity_type, self.start, self.end, self.score = entity_type, start, end, score

    (spans,) = Detector.rules_only().analyze([TEXT])
    (result,) = to_recognizer_results(spans, RecognizerResult)
    assert (result.entity_type, result.start, result.end, result.score) == ("PHONE", 11, 22, spans[0].score)
    try:
        import presidio_analyzer  # noqa: F401
    except ImportError:
        with pytest.raises(UsageError, match="pip install presidio-analyzer"):
            to_recognizer_results(spans)


def test_options_that_cannot_go_together_fail_before_any_model_loads() -> None:
    with pytest.raises(UsageError, match="need structure-safe decoding"):
        Options(values="free", point=OperatingPoint(recall_bias=2.0)).checked()
    with pytest.raises(UsageError, match="--gguf"):
        Options(backend="llamacpp").checked()
    with pytest.raises(UsageError, match="unknown rules policy"):
        Options(rules="sometimes").checked()


@pytest.fixture()
def recipe(tiny_model: Path, tmp_path: Path) -> dict:
    data = write_alpaca_splits(tmp_path, {"train": 3, "val": 3})
    return tiny_inference_recipe(tiny_model, data, dataset="pii_synth_train", eval_dataset="pii_synth_val")


@pytest.mark.slow
def test_model_detector_renders_any_text_as_training_did_and_its_spans_hold(recipe: dict) -> None:
    detector = Detector.from_recipe(
        recipe, Options(point=OperatingPoint(recall_bias=8.0), rules="both", max_new_tokens=48, batch_size=2)
    )
    (reference,) = detector.dataset_prompts(limit=1)
    (again,) = detector.prompts([reference.text])
    assert again.input_ids == reference.input_ids  # the training row's own text renders to its prompt
    texts = [TEXT, "无个人信息。", "邮箱 zhang.wei@example.com，身份证 110101199003077777"]
    results = detector.analyze(texts)
    assert len(results) == 3
    for text, spans in zip(texts, results):
        assert all(text[s.start : s.end] == s.value and s.source in {"model", "rules", "both"} for s in spans)
    assert ("PHONE", 11, 22) in {(s.type, s.start, s.end) for s in results[0]}  # rules never lost
    assert any(s.source in ("model", "both") for spans in results for s in spans)  # the biased model spoke


@pytest.mark.slow
def test_a_text_longer_than_the_prompt_allows_is_decoded_in_windows(recipe: dict) -> None:
    detector = Detector.from_recipe(
        recipe, Options(point=OperatingPoint(recall_bias=8.0), rules="both", max_new_tokens=32, batch_size=4)
    )
    filler = "今天开会讨论了项目进度，大家都发表了意见。"
    text = (filler * 12 + TEXT + "\n") * 4
    windows = detector.windows(text)
    assert len(windows) > 1 and "".join(piece for _, piece in windows) == text
    assert all(text[start : start + len(piece)] == piece for start, piece in windows)
    budget = recipe["cutoff_len"]
    for _, piece in windows:  # every window's prompt fits the cutoff, so nothing is truncated
        assert len(detector.prompts([piece])[0].input_ids) <= budget
    (spans,) = detector.analyze([text])
    phones = [s for s in spans if s.type == "PHONE" and s.value == "13812345678"]
    assert len(phones) == 4  # the rules run on the whole text
    assert all(text[s.start : s.end] == s.value for s in spans)
    later = windows[1][0]  # the model's values of later windows come back with offsets into the whole text
    assert any(s.source in ("model", "both") and s.start >= later for s in spans)
    assert detector.windows(TEXT) == [(0, TEXT)]
