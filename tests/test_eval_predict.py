import json
from pathlib import Path

import pytest

import eval.predict
from bench.fixtures import write_alpaca_splits
from converters import iter_rows
from eval import predict
from eval.scoring.scorer import score_generations
from piifactory.child import python_m
from piifactory.errors import UsageError
from tests.conftest import run_cli


def _recipe(model: Path, tmp_path: Path) -> dict:
    write_alpaca_splits(tmp_path, {"train": 4, "val": 5})
    return {
        "model_name_or_path": str(model),
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "lora_target": "all",
        "dataset_dir": str(tmp_path),
        "dataset": "pii_synth_train",
        "eval_dataset": "pii_synth_val",
        "template": "qwen3",
        "enable_thinking": False,
        "cutoff_len": 384,
        "output_dir": str(tmp_path / "out"),
        "overwrite_cache": True,
        "report_to": "none",
        "use_cpu": True,
        "learning_rate": 1e-3,
        "per_device_eval_batch_size": 2,
    }


@pytest.fixture()
def recipe(tiny_model: Path, tmp_path: Path) -> dict:
    return _recipe(tiny_model, tmp_path)


@pytest.mark.parametrize("model", ["tiny_model", "qwen_vocab_model"])  # trained tokenizer; Qwen's real one
def test_prompts_equal_training_prompts_token_for_token(
    model: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    recipe = _recipe(request.getfixturevalue(model), tmp_path)
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    model_args, data_args, training_args, _, _ = get_train_args(dict(recipe))
    tokenizer = load_tokenizer(model_args)["tokenizer"]
    template = get_template_and_fix_tokenizer(tokenizer, data_args)
    module = get_dataset(template, model_args, data_args, training_args, "sft", tokenizer)
    training = []
    for row in module["eval_dataset"]:
        n_prompt = next(i for i, label in enumerate(row["labels"]) if label != -100)
        training.append(row["input_ids"][:n_prompt])
    prompts, *_ = predict.render_prompts(recipe)
    assert [p.input_ids for p in prompts] == training
    assert [p.text for p in prompts] == [
        row["input"] for row in iter_rows(Path(recipe["dataset_dir"]) / "pii_synth_val.json")
    ]
    think = tokenizer.encode("<think>\n\n</think>\n\n", add_special_tokens=False)
    assert training[0][-len(think) :] == think  # enable_thinking: false puts the empty block in the prompt


@pytest.mark.slow
def test_predict_end_to_end_with_resume(recipe: dict, tmp_path: Path) -> None:
    out = tmp_path / "preds.jsonl"
    assert predict.run(recipe, out, batch_size=2, max_new_tokens=8, limit=2, progress=False) == 2
    first = out.read_text(encoding="utf-8")
    with open(out, "a", encoding="utf-8") as handle:  # a crash in the middle of a line
        handle.write('{"id": "2", "prompt": "tor')
    assert predict.run(recipe, out, batch_size=2, max_new_tokens=8, progress=False) == 3
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert out.read_text(encoding="utf-8").startswith(first)
    assert [r["id"] for r in rows] == ["0", "1", "2", "3", "4"]
    assert all({"id", "prompt", "predict", "label"} <= set(r) for r in rows)
    assert predict.run(recipe, out, batch_size=2, max_new_tokens=8, progress=False) == 0
    result = score_generations([r["prompt"] for r in rows], [r["label"] for r in rows], [r["predict"] for r in rows])
    assert result["failures"]["samples"] == 5 and result["micro"]["fn"] > 0


def test_vllm_backend_absent_is_a_clear_error(recipe: dict, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="needs vLLM.*make vllm-env"):
        predict.run(recipe, tmp_path / "p.jsonl", backend="vllm", values="free", progress=False)


def _fake_vllm(monkeypatch: pytest.MonkeyPatch, version: str) -> list[dict]:
    """A stand-in ``vllm`` package with the names eval.decoding.vllm_backend uses; records every call. vLLM
    installs only with CUDA, so its real engine runs in the GPU check, not here."""
    import importlib.machinery
    import sys
    import types

    import llamafactory.data  # noqa: F401  (they and trl probe for vllm when first imported: not at the fake)
    import llamafactory.model  # noqa: F401

    calls: list[dict] = []

    class LLM:
        def __init__(self, **kwargs):
            calls.append({"init": kwargs})

        def generate(self, prompts, params, lora_request=None, use_tqdm=True):
            calls.append({"prompts": prompts, "params": params, "lora": lora_request})
            return [types.SimpleNamespace(outputs=[types.SimpleNamespace(text='{"entities": []}')]) for _ in prompts]

    vllm = types.ModuleType("vllm")
    vllm.__version__, vllm.LLM, vllm.SamplingParams = version, LLM, lambda **kw: kw
    lora, request = types.ModuleType("vllm.lora"), types.ModuleType("vllm.lora.request")
    request.LoRARequest = lambda name, number, path: (name, number, path)
    for name, module in {"vllm": vllm, "vllm.lora": lora, "vllm.lora.request": request}.items():
        module.__spec__ = importlib.machinery.ModuleSpec(name, None)
        monkeypatch.setitem(sys.modules, name, module)
    return calls


def test_vllm_backend_passes_training_prompts_stops_and_adapter(recipe: dict, tmp_path: Path, monkeypatch) -> None:
    calls = _fake_vllm(monkeypatch, "0.11.0")
    monkeypatch.setattr("transformers.__version__", "4.57.1")  # the serving environment's
    out = tmp_path / "p.jsonl"
    adapter = {**recipe, "adapter_name_or_path": str(tmp_path / "adapter")}
    assert predict.run(adapter, out, backend="vllm", values="free", max_new_tokens=7, batch_size=2, progress=False) == 5
    prompts, tokenizer, template, _ = predict.render_prompts(recipe)
    init, *batches = calls
    assert init["init"]["model"] == recipe["model_name_or_path"] and init["init"]["enable_lora"] is True
    assert [p["prompt_token_ids"] for b in batches for p in b["prompts"]] == [p.input_ids for p in prompts]
    params = batches[0]["params"]
    assert params["temperature"] == 0.0 and params["max_tokens"] == 7
    assert params["stop_token_ids"] == template.get_stop_token_ids(tokenizer)
    assert batches[0]["lora"] == ("adapter", 1, str(tmp_path / "adapter"))
    assert [json.loads(line)["predict"] for line in out.read_text().splitlines()] == ['{"entities": []}'] * 5


@pytest.mark.parametrize(
    "vllm_version,transformers_version,message",
    [
        ("0.12.0", "4.57.1", "accepts 0.4.3 to 0.11.0"),
        ("0.11.0", "5.6.0", "needs transformers 4.x"),
    ],
)
def test_vllm_environment_check(vllm_version, transformers_version, message, recipe, tmp_path, monkeypatch) -> None:
    _fake_vllm(monkeypatch, vllm_version)
    monkeypatch.setattr("transformers.__version__", transformers_version)
    with pytest.raises(UsageError, match=message):
        predict.run(recipe, tmp_path / "p.jsonl", backend="vllm", values="free", progress=False)


def test_vllm_backend_refuses_copy_constrained_values(recipe: dict, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--values free"):
        predict.run(recipe, tmp_path / "p.jsonl", backend="vllm", progress=False)


@pytest.mark.slow
def test_cli_rules_union_adds_rule_hits_and_keeps_raw_answer(recipe: dict, tmp_path: Path) -> None:
    import yaml

    from piifactory.answer import extract
    from piifactory.rules.recognizers import analyze

    recipe_path = tmp_path / "recipe.yaml"
    recipe_path.write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "ruled.jsonl"
    argv = [
        str(recipe_path),
        "--out",
        str(out),
        "--limit",
        "5",
        "--max-new-tokens",
        "16",
        "--rules",
        "union",
        "--no-progress",
    ]
    assert predict.main(argv) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 5 and all("raw_predict" in r for r in rows)
    for row in rows:  # which source won each served entity
        served = sorted((e.type, e.value) for e in extract(row["predict"]).entities)
        assert sorted((s["type"], s["value"]) for s in row["sources"]) == served
        assert {s["source"] for s in row["sources"]} <= {"model", "rules", "both", "rules-over-model"}
    found = 0
    for row in rows:
        predicted = {(e.type, e.value) for e in extract(row["predict"]).entities}
        text = row["prompt"]
        rule_hits = {(d.entity.type, d.entity.value) for d in analyze(text)}
        assert rule_hits <= predicted
        found += len(rule_hits)
    assert found > 0, "the synthetic validation rows carry rule-detectable PII"


def test_cli_bad_override_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model_name_or_path: x\ntemplate: qwen3\n", encoding="utf-8")
    assert predict.main([str(recipe), "template=[qwen3", "--out", str(tmp_path / "p.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: override 'template=[qwen3': invalid YAML: ") and err.count("\n") == 1
    assert not (tmp_path / "p.jsonl").exists()


def test_cli_malformed_recipe_is_file_line_column_not_a_traceback(tmp_path: Path) -> None:
    recipe = tmp_path / "broken.yaml"
    recipe.write_text("model_name_or_path: x\ntemplate: qwen3\n  cutoff_len: 8\n", encoding="utf-8")
    result = run_cli([*python_m(eval.predict), str(recipe), "--out", str(tmp_path / "p.jsonl")], timeout=120)
    assert result.returncode == 2
    assert f"{recipe}:3: invalid YAML: mapping values are not allowed here (column 13)" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "p.jsonl").exists()


@pytest.mark.slow
def test_predict_with_the_dial_writes_scores_and_serves_the_kept_entities(recipe: dict, tmp_path: Path) -> None:
    from eval.decoding.dial import OperatingPoint
    from piifactory.answer import extract

    out = tmp_path / "dial.jsonl"
    point = OperatingPoint(recall_bias=8.0, min_score=0.5)
    assert predict.run(recipe, out, batch_size=5, max_new_tokens=64, point=point, progress=False) == 5
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        raw = json.loads(row["raw_predict"])["entities"]  # an untrained model, yet every answer parses
        assert [(s["type"], s["value"]) for s in row["scores"]] == [(e["type"], e["value"]) for e in raw]
        kept = [(s["type"], s["value"]) for s in row["scores"] if s["score"] >= 0.5]
        assert sorted((e.type, e.value) for e in extract(row["predict"]).entities) == sorted(kept)
        assert row["recall_bias"] == 8.0
    assert sum(len(r["scores"]) for r in rows) > 0  # the bias made the untrained model propose entities
    with pytest.raises(ValueError, match="need structure-safe decoding"):
        predict.run(recipe, tmp_path / "x.jsonl", values="free", point=point, progress=False)


def test_second_look_renders_the_masked_text_as_training_would(recipe: dict) -> None:
    from eval.decoding.generation import Answer
    from eval.decoding.second_look import MASK, masked_row, masked_text, union

    prompts, tokenizer, _, args = predict.render_prompts(recipe)
    for prompt in prompts:  # the row renders again to the very prompt
        again = args.processor.preprocess_dataset(
            {k: [v] for k, v in masked_row(prompt.row, prompt.text, prompt.text).items()}
        )
        assert again["input_ids"][0] == prompt.input_ids
    text = "张三的电话13800138000，张三住武汉"
    masked = masked_text(text, ["张三", "13800138000"])
    assert masked == f"{MASK * 2}的电话{MASK * 11}，{MASK * 2}住武汉" and len(masked) == len(text)
    row = masked_row(prompts[0].row, prompts[0].text, MASK * len(prompts[0].text))
    assert row["_prompt"][-1]["content"].endswith(MASK * len(prompts[0].text)) and prompts[0].row != row
    first = Answer('{"entities": [{"type": "PERSON", "value": "张三"}]}', ("s1",))
    second = Answer(
        '{"entities": [{"type": "PERSON", "value": "张三"}, {"type": "PHONE", "value": "＊＊1"}, '
        '{"type": "ADDRESS", "value": "武汉"}]}',
        ("s2", "s3", "s4"),
    )
    merged, added = union(first, second)
    assert added == 1 and merged.scores == ("s1", "s4")
    assert merged.text == '{"entities": [{"type": "PERSON", "value": "张三"}, {"type": "ADDRESS", "value": "武汉"}]}'


@pytest.mark.slow
def test_predict_second_look_adds_entities_and_keeps_scores_aligned(recipe: dict, tmp_path: Path) -> None:
    from eval.decoding.dial import OperatingPoint

    out = tmp_path / "look.jsonl"
    assert (
        predict.run(
            recipe,
            out,
            batch_size=5,
            max_new_tokens=48,
            point=OperatingPoint(recall_bias=8.0),
            second_look=True,
            progress=False,
        )
        == 5
    )
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        entities = json.loads(row["predict"])["entities"]
        assert [(s["type"], s["value"]) for s in row["scores"]] == [(e["type"], e["value"]) for e in entities]
        assert row["second_look"] >= 0 and all("＊" not in e["value"] for e in entities)


@pytest.mark.slow
def test_calibrate_one_command_predicts_sweeps_plots_and_writes_the_point(recipe: dict, tmp_path: Path) -> None:
    """The curve and the chosen point from one command: the biased pass on the validation split,
    the sweep, the plot and op.json, which predict then serves with."""
    import yaml

    from eval import calibrate

    recipe_path = tmp_path / "recipe.yaml"
    recipe_path.write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    val, op = tmp_path / "val_biased.jsonl", tmp_path / "op.json"
    argv = [
        str(recipe_path),
        "--predictions",
        str(val),
        "--recall-bias",
        "8",
        "--max-new-tokens",
        "48",
        "--best",
        "f2",
        "--out",
        str(op),
    ]
    assert calibrate.main(argv) == 0
    rows = [json.loads(line) for line in val.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 5 and all(r["recall_bias"] == 8.0 and "scores" in r for r in rows)
    point = json.loads(op.read_text(encoding="utf-8"))
    assert point["recall_bias"] == 8.0 and point["chosen_by"] == "f2"
    assert op.with_suffix(".png").read_bytes().startswith(b"\x89PNG")
    out = tmp_path / "served.jsonl"
    assert (
        predict.main(
            [
                str(recipe_path),
                "--out",
                str(out),
                "--operating-point",
                str(op),
                "--max-new-tokens",
                "48",
                "--no-progress",
            ]
        )
        == 0
    )
    assert all(json.loads(line)["recall_bias"] == 8.0 for line in out.read_text(encoding="utf-8").splitlines())


def test_vllm_environment_file_pins_what_the_backend_accepts() -> None:
    """make vllm-env installs requirements-vllm.txt: a vLLM LLaMA-Factory 0.9.5 accepts, transformers
    4.x (not 4.57.0, which LLaMA-Factory excludes), torchaudio of torch's release (LLaMA-Factory
    imports it at start-up) and the same training-side pins as constraints.txt."""
    from packaging.version import Version

    from eval.decoding.vllm_backend import VLLM_MAX, VLLM_MIN
    from tests.conftest import REPO
    from tests.test_locks import lock_pins

    serving, training = lock_pins(REPO / "requirements-vllm.txt"), lock_pins(REPO / "constraints.txt")
    assert Version(VLLM_MIN) <= Version(serving["vllm"]) <= Version(VLLM_MAX)
    assert Version(serving["transformers"]).major == 4 and serving["transformers"] != "4.57.0"
    assert serving["torchaudio"].split(".")[:2] == serving["torch"].split(".")[:2]
    for name in ("llamafactory", "peft", "trl", "datasets", "accelerate", "python-stdnum", "phonenumbers", "dashscope"):
        assert serving[name] == training[name], name
