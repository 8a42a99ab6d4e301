"""Every recipe passes LLaMA-Factory's own argument parser (pii_factory block stripped, the model
path swapped for the tiny local Qwen3, ``use_cpu`` added because bf16 is refused on a machine
without a GPU), and keeps the settings the recipe book promises."""

from __future__ import annotations

import json
import os
from importlib.metadata import PackageNotFoundError
from pathlib import Path

import pytest

from bench.fixtures import write_alpaca_splits
from plugins.preflight import load_llamafactory_config, load_recipe, run_preflight
from plugins.preflight.models import template_rule
from tests.conftest import REPO

CONFIGS = REPO / "llamafactory_configs"
PII_TRAIN = ["qwen3_0.6b_lora", "qwen3_1.7b_lora", "qwen4b_lora", "qwen4b_lora_ds", "qwen4b_lora_unsloth"]
NEEDS_GPU_PACKAGE = ("qwen4b_lora_ds", "qwen4b_lora_unsloth")  # deepspeed / unsloth: absent on CPU
TRAIN = [*PII_TRAIN, "qwen2.5_3b_qlora_qa", "tiny_cpu_demo"]
INFER = ["qwen4b_chat", "qwen4b_merge", "qwen4b_vllm"]
SYNTH = {"dataset": "pii_synth_train", "eval_dataset": "pii_synth_val"}


def lf_config(name: str, tiny: Path, tmp_path: Path, **overrides) -> dict:
    cfg = load_llamafactory_config(CONFIGS / f"{name}.yaml")
    cfg.update(model_name_or_path=str(tiny), **overrides)
    if cfg.get("do_train"):
        cfg.update(output_dir=str(tmp_path / "out"), use_cpu=True)
    return cfg


def test_recipe_book_is_complete() -> None:
    names = {p.stem for p in CONFIGS.glob("*.yaml")}
    assert names == set(TRAIN + INFER)
    for name in names:
        header = (CONFIGS / f"{name}.yaml").read_text(encoding="utf-8").split("\n###")[0].lower()
        assert "target" in header and "memory" in header, name
        if name in PII_TRAIN + ["qwen2.5_3b_qlora_qa"]:
            assert "per 1k samples" in header and "bigger card" in header, name


@pytest.mark.parametrize("name", [n for n in TRAIN if n not in NEEDS_GPU_PACKAGE])
def test_train_recipe_passes_get_train_args(name: str, tiny_model: Path, tmp_path: Path) -> None:
    from llamafactory.hparams import get_train_args

    model, data, training, finetuning, _ = get_train_args(lf_config(name, tiny_model, tmp_path))
    assert data.template == "qwen3" if name != "qwen2.5_3b_qlora_qa" else data.template == "qwen"
    assert model.trust_remote_code is False
    assert training.per_device_eval_batch_size >= 1 and "per_device_eval_batch_size" in load_recipe(
        CONFIGS / f"{name}.yaml"
    )
    if name == "tiny_cpu_demo":
        return
    assert training.eval_steps == training.save_steps and training.load_best_model_at_end
    assert training.lr_scheduler_type == "cosine"
    assert finetuning.finetuning_type == "lora" and finetuning.lora_rank == 16 and finetuning.lora_alpha == 32
    assert finetuning.lora_target == ["all"]
    if name in PII_TRAIN:
        assert data.enable_thinking is False and training.metric_for_best_model == "entity_f1"
        assert training.greater_is_better is True and finetuning.early_stopping_steps
    if name in ("qwen4b_lora", "qwen2.5_3b_qlora_qa"):
        assert model.quantization_bit == 4 and model.quantization_type == "nf4" and model.double_quantization


def test_warmup_is_written_for_both_transformers_majors() -> None:
    """transformers 4.x takes only an integer ``warmup_steps`` (a fraction is 5.x only): a ratio is
    ``warmup_ratio``, which both read (docs/install.md). The parser tests above catch this only on
    the 4.x stack (make test-compat); this one catches it on either."""
    for path in sorted(CONFIGS.glob("*.yaml")):
        recipe = load_recipe(path)
        assert isinstance(recipe.get("warmup_steps", 0), int), f"{path.name}: warmup_steps must be an int"
        assert 0 <= recipe.get("warmup_ratio", 0) < 1, path.name


def test_pii_recipes_carry_the_plugin_block() -> None:
    for name in PII_TRAIN:
        block = load_recipe(CONFIGS / f"{name}.yaml")["pii_factory"]
        assert set(block) == {"focal_loss", "entity_metrics", "preflight"}
        assert block["entity_metrics"]["enabled"] is True and block["preflight"]["mode"] == "warn"


def test_deepspeed_recipe_fails_only_for_the_missing_package(tiny_model: Path, tmp_path: Path) -> None:
    """DeepSpeed is a GPU extra, absent here: the recipe without its deepspeed line parses, and
    with it the one complaint is the missing package (LLaMA-Factory's version check, the same on
    transformers 4.57 and 5.6). The JSONs are checked by hand."""
    from llamafactory.hparams import get_train_args

    cfg = lf_config("qwen4b_lora_ds", tiny_model, tmp_path)
    assert cfg["deepspeed"] == "llamafactory_configs/deepspeed/ds_z3_config.json"
    with pytest.raises(
        PackageNotFoundError,
        match=r"^No package metadata was found for The 'deepspeed>=0\.9\.3' distribution was not found",
    ):
        get_train_args(cfg)
    training = get_train_args({k: v for k, v in cfg.items() if k != "deepspeed"})[2]
    assert training.load_best_model_at_end and training.per_device_eval_batch_size == 1
    for stage in (2, 3):
        ds = json.loads((CONFIGS / "deepspeed" / f"ds_z{stage}_config.json").read_text())
        assert ds["zero_optimization"]["stage"] == stage
        assert ds["train_micro_batch_size_per_gpu"] == ds["gradient_accumulation_steps"] == "auto"
        assert ds["bf16"]["enabled"] == "auto"


def test_unsloth_recipe_fails_only_for_the_missing_package(tiny_model: Path, tmp_path: Path) -> None:
    """Unsloth needs CUDA and is not installed here: LLaMA-Factory's parser takes the recipe and
    stops only at its mandatory `unsloth` check; without `use_unsloth` it is qwen4b_lora's QLoRA run
    (Unsloth's LoRA wants dropout 0), and LLaMA-Factory refuses Unsloth under ZeRO-3."""
    from llamafactory.hparams import get_train_args

    cfg = lf_config("qwen4b_lora_unsloth", tiny_model, tmp_path)
    assert cfg["use_unsloth"] is True
    with pytest.raises(
        PackageNotFoundError, match=r"^No package metadata was found for The 'unsloth' distribution was not found"
    ):
        get_train_args(cfg)
    model, data, training, finetuning, _ = get_train_args({k: v for k, v in cfg.items() if k != "use_unsloth"})
    assert model.quantization_bit == 4 and finetuning.lora_dropout == 0.0 and finetuning.lora_rank == 16
    assert data.template == "qwen3" and data.enable_thinking is False
    assert training.metric_for_best_model == "entity_f1" and training.load_best_model_at_end
    plain = load_llamafactory_config(CONFIGS / "qwen4b_lora.yaml")
    same = (
        "dataset",
        "eval_dataset",
        "cutoff_len",
        "per_device_train_batch_size",
        "gradient_accumulation_steps",
        "per_device_eval_batch_size",
        "learning_rate",
        "eval_steps",
        "save_steps",
    )
    assert {k: cfg[k] for k in same} == {k: plain[k] for k in same}


def test_unsloth_keeps_the_plugins_and_asks_for_logits(monkeypatch) -> None:
    """LLaMA-Factory 0.9.5 swaps the model loader for Unsloth, not the trainer: the SFT workflow
    still builds CustomSeq2SeqTrainer, the class the plugin replaces. The focal loss needs logits,
    which Unsloth's fused loss would leave empty: the plugin sets UNSLOTH_RETURN_LOGITS=1, and the
    loss refuses empty logits by name."""
    import inspect

    import torch
    from llamafactory.train.sft import workflow

    from plugins.activation import UNSLOTH_LOGITS_ENV, prepare_unsloth
    from plugins.focal_loss import make_loss_func
    from plugins.focal_loss.loss import MissingLogitsError
    from plugins.options import parse_options

    assert "CustomSeq2SeqTrainer(" in inspect.getsource(workflow.run_sft)
    monkeypatch.delenv(UNSLOTH_LOGITS_ENV, raising=False)
    block = load_recipe(CONFIGS / "qwen4b_lora_unsloth.yaml")["pii_factory"]
    assert prepare_unsloth({"use_unsloth": True}, parse_options(block)) is True
    assert os.environ[UNSLOTH_LOGITS_ENV] == "1"
    monkeypatch.delenv(UNSLOTH_LOGITS_ENV)
    assert prepare_unsloth({"use_unsloth": True}, parse_options({"entity_metrics": {}})) is True
    assert UNSLOTH_LOGITS_ENV not in os.environ  # no focal loss: Unsloth keeps its fused loss
    assert prepare_unsloth({}, parse_options(block)) is False
    loss = make_loss_func(2.0, 1.0)
    with pytest.raises(MissingLogitsError, match="UNSLOTH_RETURN_LOGITS"):
        loss({"logits": torch.empty(0)}, torch.zeros((1, 4), dtype=torch.long))


@pytest.mark.parametrize("name", ["qwen4b_chat", "qwen4b_merge"])
def test_infer_recipes_pass_get_infer_args(name: str, tiny_model: Path, tmp_path: Path) -> None:
    from llamafactory.hparams import get_infer_args

    model, data, finetuning, generating = get_infer_args(lf_config(name, tiny_model, tmp_path))
    assert data.template == "qwen3" and data.enable_thinking is False
    assert model.quantization_bit is None and finetuning.finetuning_type == "lora"
    if name == "qwen4b_merge":
        assert model.export_dir and model.export_device == "cpu" and str(model.device_map[""]) == "cpu"
    else:
        assert model.infer_backend == "huggingface" and generating.do_sample is False


def test_vllm_recipe_passes_vllm_checks(tiny_model: Path, tmp_path: Path) -> None:
    """vLLM is not installed here: get_infer_args runs its vLLM checks (bnb refused) and then
    stops at the dependency check, which is the only thing the recipe trips."""
    from llamafactory.hparams import get_infer_args

    cfg = lf_config("qwen4b_vllm", tiny_model, tmp_path)
    with pytest.raises(Exception, match="bnb quantization"):
        get_infer_args({**cfg, "quantization_bit": 4})
    with pytest.raises(Exception, match="vllm"):
        get_infer_args(cfg)
    raw = load_recipe(CONFIGS / "qwen4b_vllm.yaml")
    assert raw["model_name_or_path"] == load_recipe(CONFIGS / "qwen4b_merge.yaml")["export_dir"]


@pytest.mark.parametrize(
    "path,name",
    [
        ("Qwen/Qwen3-0.6B", "Qwen3-0.6B-Thinking"),
        ("Qwen/Qwen3-1.7B", "Qwen3-1.7B-Thinking"),
        ("Qwen/Qwen3-4B", "Qwen3-4B-Thinking"),
        ("Qwen/Qwen3-4B-Instruct-2507", "Qwen3-4B-Instruct-2507"),
        ("Qwen/Qwen2.5-3B-Instruct", "Qwen2.5-3B-Instruct"),
    ],
)
def test_template_table_agrees_with_llamafactory(path: str, name: str) -> None:
    from llamafactory.extras.constants import DEFAULT_TEMPLATE, SUPPORTED_MODELS, DownloadSource

    assert SUPPORTED_MODELS[name][DownloadSource.DEFAULT] == path
    assert DEFAULT_TEMPLATE[name] in template_rule(path).templates


@pytest.fixture(scope="module")
def synth_data(tmp_path_factory) -> dict[str, str]:
    """The synthetic splits the recipes can be pointed at (a fresh clone has no data/)."""
    folder = write_alpaca_splits(tmp_path_factory.mktemp("recipe-data"), {"train": 800, "val": 8, "test": 8})
    return {"dataset_dir": str(folder)}


@pytest.mark.parametrize("name", PII_TRAIN)
def test_pii_recipes_fit_their_card(name: str, synth_data: dict[str, str]) -> None:
    cfg = {**load_recipe(CONFIGS / f"{name}.yaml"), **SYNTH, **synth_data}
    gpus = 2 if name.endswith("_ds") else 1
    report = run_preflight(cfg, recipe_path=str(CONFIGS / f"{name}.yaml"), num_gpus=gpus)
    assert report.ok, report.render()
    assert report.gpu_mem_gb and all(e.total <= report.gpu_mem_gb for e in report.estimates)
    assert {e.name for e in report.estimates} >= {"train step", "eval step"}


def test_shipped_recipes_name_their_datasets() -> None:
    """User data is registered as pii_train/pii_val, Q&A as domain_qa: until then the preflight
    says exactly which names are missing."""
    for name, missing in [("qwen4b_lora", {"pii_train", "pii_val"}), ("qwen2.5_3b_qlora_qa", {"domain_qa"})]:
        report = run_preflight(load_recipe(CONFIGS / f"{name}.yaml"), recipe_path=str(CONFIGS / f"{name}.yaml"))
        assert len(report.errors) == len(missing) and all("not registered" in e for e in report.errors)
        assert {e.split("'")[1] for e in report.errors} == missing


@pytest.mark.parametrize("name", ["tiny_cpu_demo", *INFER])
def test_other_recipes_pass_preflight(name: str, synth_data: dict[str, str]) -> None:
    cfg = load_recipe(CONFIGS / f"{name}.yaml")
    if "dataset" in cfg:
        cfg = {**cfg, **synth_data}
    report = run_preflight(cfg, recipe_path=str(CONFIGS / f"{name}.yaml"))
    assert report.ok and not report.warnings, report.render()
