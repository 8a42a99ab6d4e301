"""The users' second project end to end, as docs/export.md shows it: instruction/output JSONL ->
converters -> QLoRA (the Qwen2.5-3B Q&A recipe on the tiny model) -> merge -> GGUF -> answers.

What it proves: one ``python -m workflows.export gguf`` takes a QLoRA recipe plus its adapter,
merges into the unquantised base (LLaMA-Factory's export), converts and quantises with llama.cpp's
own tools, writes a Modelfile with the ``qwen`` template's default system prompt, and llama.cpp then
answers the held-out questions (no entity F1: these are not PII answers). The answers' quality is
not judged (a few QLoRA steps on a tiny model).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import converters
import workflows.export
from bench.fixtures import shrunk_for_cpu
from piifactory.child import python_m
from plugins.preflight import load_llamafactory_config
from tests.conftest import REPO, run_cli

QUESTIONS = 40


def write_qa(path: Path) -> None:
    rows = [
        {"instruction": f"第{i}号产品的保修期是多久？", "output": f"第{i}号产品保修{i % 3 + 1}年。"}
        for i in range(QUESTIONS)
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


@pytest.mark.slow
def test_domain_qa_qlora_chain_ends_in_a_gguf_that_answers(tiny_model: Path, tmp_path: Path) -> None:
    write_qa(tmp_path / "qa.jsonl")
    data = tmp_path / "data"
    result = run_cli(
        [
            *python_m(converters),
            "convert",
            str(tmp_path / "qa.jsonl"),
            "--name",
            "domain_qa",
            "--out-dir",
            str(data),
            "--dataset-info",
            str(data / "dataset_info.json"),
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]

    train = shrunk_for_cpu(
        load_llamafactory_config(REPO / "llamafactory_configs/qwen2.5_3b_qlora_qa.yaml"),
        tiny_model,
        data,
        tmp_path / "adapter",
        steps=4,
        dataset="domain_qa_train",
        eval_dataset="domain_qa_val",
        per_device_train_batch_size=2,
    )
    train.pop("val_size")
    recipe = tmp_path / "train.yaml"
    recipe.write_text(yaml.safe_dump(train, allow_unicode=True), encoding="utf-8")
    result = run_cli(["llamafactory-cli", "train", str(recipe)])
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Quantizing model to 4 bit with bitsandbytes" in result.stdout + result.stderr

    out = tmp_path / "gguf"
    result = run_cli(
        [
            *python_m(workflows.export),
            "gguf",
            str(recipe),
            f"adapter_name_or_path={tmp_path / 'adapter'}",
            "--out",
            str(out),
            "--quant",
            "f16,q8_0",
            "--pre-tokenizer",
            "qwen2",
            "--verify",
            "4",
            "--dataset",
            "domain_qa_test",
            "--values",
            "free",
            "--max-new-tokens",
            "24",
        ],
        timeout=3600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    merged = json.loads((out / "hf/config.json").read_text(encoding="utf-8"))
    assert "quantization_config" not in merged  # merged into the unquantised base
    modelfile = (out / "Modelfile").read_text(encoding="utf-8")
    assert "FROM ./model-q8_0.gguf" in modelfile and 'SYSTEM """You are Qwen, created by Alibaba Cloud.' in modelfile
    assert "<think>" not in modelfile  # Qwen2.5's template has no thinking
    for label in ("hf", "f16", "q8_0"):
        lines = (out / f"verify/predictions-{label}.jsonl").read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines]
        assert len(rows) == 4 and all(isinstance(r["predict"], str) and r["label"].startswith("第") for r in rows)
    measured = {row["label"]: row for row in json.loads((out / "verify/measured.json").read_text(encoding="utf-8"))}
    assert measured["q8_0"]["f1"] is None and measured["q8_0"]["new_tokens"] > 0
    assert "ollama create gguf -f Modelfile" in (out / "README.md").read_text(encoding="utf-8")
