"""Converted datasets load through LLaMA-Factory's own get_dataset with the tiny Qwen3 and the
qwen3 template (thinking off), render as expected, and fit the cutoff_len that stats recommends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from converters import ConvertOptions, Prompting, compute_stats, convert, template_measure
from piifactory.schema import DEFAULT_INSTRUCTION

FIXTURES = Path(__file__).parent / "fixtures" / "converters"
TEXT = "客户张伟，手机号13812345678，请回电。"
ANSWER = '{"entities": [{"type": "PERSON", "value": "张伟"}, {"type": "PHONE", "value": "13812345678"}]}'


def _load(tiny_model: Path, dataset_dir: Path, dataset: str, cutoff_len: int, out: Path):
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    model_args, data_args, training_args, _, _ = get_train_args(
        {
            "stage": "sft",
            "do_train": True,
            "model_name_or_path": str(tiny_model),
            "finetuning_type": "full",
            "dataset": dataset,
            "dataset_dir": str(dataset_dir),
            "template": "qwen3",
            "enable_thinking": False,
            "cutoff_len": cutoff_len,
            "output_dir": str(out),
            "overwrite_cache": True,
            "use_cpu": True,
            "report_to": "none",
            "preprocessing_num_workers": None,
        }
    )
    tokenizer = load_tokenizer(model_args)["tokenizer"]
    template = get_template_and_fix_tokenizer(tokenizer, data_args)
    module = get_dataset(
        template, model_args, data_args, training_args, stage="sft", tokenizer=tokenizer, processor=None
    )
    return tokenizer, module["train_dataset"]


@pytest.mark.parametrize("style", ["alpaca", "sharegpt"])
def test_get_dataset_renders_converted_record(style: str, tiny_model: Path, tmp_path: Path) -> None:
    info = tmp_path / "dataset_info.json"
    convert(
        [FIXTURES / "pii.jsonl"],
        ConvertOptions(
            name="pii",
            out_dir=tmp_path / "data",
            style=style,
            ratios=(1.0, 0.0, 0.0),
            dataset_info=info,
            progress=False,
        ),
    )
    tokenizer, dataset = _load(tiny_model, tmp_path, "pii", 1024, tmp_path / "run")
    assert len(dataset) == 3
    record = dataset[0]
    prompt = (
        f"<|im_start|>user\n{DEFAULT_INSTRUCTION}\n{TEXT}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )
    response = f"{ANSWER}<|im_end|>\n"
    assert tokenizer.decode(record["input_ids"]) == prompt + response
    supervised = [t for t in record["labels"] if t != -100]
    assert tokenizer.decode(supervised) == response
    assert record["labels"][: len(record["labels"]) - len(supervised)] == [-100] * (
        len(record["labels"]) - len(supervised)
    )


def test_stats_cutoff_truncates_no_answer(tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from converters.cli import main

    src = FIXTURES / "presidio.jsonl"
    stats = compute_stats([FIXTURES / "pii.jsonl", src], measure=template_measure(tiny_model), progress=False)
    assert stats.records == 4 and stats.pii == 4 and stats.positive == 3
    assert dict(stats.types) == {"PERSON": 3, "PHONE": 3, "ADDRESS": 1, "ORG": 1}
    cutoff = stats.cutoff_len
    assert cutoff % 8 == 0 and cutoff - 8 < max(stats.total) <= cutoff
    info = tmp_path / "dataset_info.json"
    convert(
        [FIXTURES / "pii.jsonl", src],
        ConvertOptions(
            name="all",
            out_dir=tmp_path,
            ratios=(1.0, 0.0, 0.0),
            dataset_info=info,
            progress=False,
            prompting=Prompting(),
        ),
    )
    tokenizer, dataset = _load(tiny_model, tmp_path, "all", cutoff, tmp_path / "run")
    lengths = sorted(len(r["input_ids"]) for r in dataset)
    assert lengths[-1] == max(stats.total)  # the rendered length is what stats measured
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert all([t for t in r["labels"] if t != -100][-2] == eos for r in dataset)  # every answer ends intact
    assert main(["stats", str(src), "--tokenizer", str(tiny_model), "--json", "--no-progress"]) == 0
    printed = json.loads(capsys.readouterr().out.splitlines()[-1])  # LLaMA-Factory may log to stdout first
    assert printed["types"] == {"PERSON": 1, "PHONE": 1, "ORG": 1} and printed["positive_ratio"] == 1.0
    assert printed["cutoff_len"] % 8 == 0 and printed["total"]["p100"] <= printed["cutoff_len"]
