"""The preflight flags each mistake that cost the users hours, on crafted recipes, and its memory
estimate behaves (monotonic, the users' eval batch of 12 on a 12 GB card flagged)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bench.fixtures import write_alpaca_splits
from piifactory.io import InputError
from piifactory.recipe_file import parse_yaml
from plugins.options import FOCAL_CHUNK_BYTES
from plugins.preflight import apply_overrides, load_recipe, run_preflight
from plugins.preflight.__main__ import main
from plugins.preflight.data import infer_seqlen
from plugins.preflight.memory import GIB, Setup, eval_step, train_step
from plugins.preflight.models import QWEN_SPECS
from tests.conftest import REPO

RECIPE = REPO / "llamafactory_configs" / "qwen4b_lora.yaml"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_alpaca_splits(tmp_path_factory.mktemp("data"), {"train": 60, "val": 8})


@pytest.fixture
def recipe(data_dir: Path) -> dict:
    """The 4B recipe on small synthetic data: clean, so each test adds exactly one mistake."""
    return {
        **load_recipe(RECIPE),
        "dataset_dir": str(data_dir),
        "dataset": "pii_synth_train",
        "eval_dataset": "pii_synth_val",
        "save_steps": 4,
        "eval_steps": 4,
    }


def errors_of(config: dict, **kwargs) -> list[str]:
    return run_preflight(config, **kwargs).errors


def test_clean_recipe_passes(recipe: dict) -> None:
    report = run_preflight(recipe)
    assert report.ok and not report.warnings, report.render()
    assert [e.name for e in report.estimates] == ["train step", "eval step", "generate (entity F1)"]


def test_unset_eval_batch_is_an_error(recipe: dict) -> None:
    del recipe["per_device_eval_batch_size"]
    assert any("per_device_eval_batch_size is unset" in e for e in errors_of(recipe))


def stock_loss(recipe: dict) -> dict:
    return {**recipe, "pii_factory": {k: v for k, v in recipe["pii_factory"].items() if k != "focal_loss"}}


def test_users_eval_batch_of_12_on_12gb_card_is_flagged(recipe: dict) -> None:
    """The users trained with the stock loss, which upcasts every logit to fp32."""
    report = run_preflight({**stock_loss(recipe), "per_device_eval_batch_size": 12}, gpu_mem_gb=12)
    assert [e for e in report.errors if e.startswith("eval step needs")], report.render()
    assert not [e for e in report.errors if e.startswith("train step")]
    assert report.estimate("eval step").parts["logits"] > 12


def test_focal_loss_is_estimated_as_measured_under_bf16(recipe: dict) -> None:
    """accelerate's bf16 autocast hands the loss fp32 logits, which the focal loss's checkpointed
    slices keep through backward, where each slice's gradient comes back full-size: in training it
    holds as much as the stock loss (12 bytes per logit, plus the chunk being recomputed; measured on
    an H200, bench/gpu_results.md); in evaluation it still saves the stock loss's fp32 upcast and
    log-softmax (10 bytes per logit): the bf16 logits and their fp32 copy, then a few chunks."""
    focal, stock = run_preflight(recipe), run_preflight(stock_loss(recipe))
    logits = recipe["per_device_train_batch_size"] * recipe["cutoff_len"] * QWEN_SPECS["qwen3-4b"].vocab
    assert logits == recipe["per_device_eval_batch_size"] * recipe["cutoff_len"] * QWEN_SPECS["qwen3-4b"].vocab
    train = focal.estimate("train step").parts["logits"]
    assert train == pytest.approx((logits * 12 + FOCAL_CHUNK_BYTES) / GIB)
    assert stock.estimate("train step").parts["logits"] == pytest.approx(logits * 12 / GIB)
    evaluation = focal.estimate("eval step").parts["logits"]
    assert evaluation == pytest.approx(max(logits * 6, logits * 4 + 2 * FOCAL_CHUNK_BYTES) / GIB)
    assert stock.estimate("eval step").parts["logits"] == pytest.approx(logits * 10 / GIB)
    assert focal.estimate("eval step").total < stock.estimate("eval step").total


def test_focal_loss_saves_no_fp32_logits_for_backward() -> None:
    """What the estimate assumes, checked on the loss itself: the stock cross-entropy saves an fp32
    log-softmax of every logit for backward, the focal loss (checkpointed chunks) none."""
    import torch
    import torch.nn.functional as F

    from plugins.focal_loss import focal_loss

    torch.manual_seed(0)
    logits = torch.randn(2, 32, 500, dtype=torch.bfloat16, requires_grad=True)
    labels = torch.randint(0, 500, (2, 32))
    labels[:, :10] = -100

    def fp32_saved(loss_fn) -> int:
        saved = []
        with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
            loss = loss_fn()
        loss.backward()
        return max((t.numel() for t in saved if t.dtype == torch.float32), default=0)

    shifted = F.pad(labels, (0, 1), value=-100)[..., 1:].reshape(-1)
    assert fp32_saved(lambda: F.cross_entropy(logits.float().view(-1, 500), shifted)) >= logits.numel()
    assert fp32_saved(lambda: focal_loss(logits, labels, gamma=2.0)) < logits.size(-1)


@pytest.mark.parametrize(
    "change,expected",
    [
        ({"save_steps": 6}, "not a multiple of eval_steps"),
        ({"save_strategy": "epoch"}, "needs save_strategy (epoch) equal to eval_strategy (steps)"),
        ({"eval_strategy": "no"}, "without evaluation"),
        ({"pii_factory": {"entity_metrics": {"enabled": False}}}, "needs pii_factory.entity_metrics.enabled"),
    ],
)
def test_best_checkpoint_mistakes(recipe: dict, change: dict, expected: str) -> None:
    assert any(expected in e for e in errors_of({**recipe, **change})), errors_of({**recipe, **change})


def test_one_checkpoint_only_is_a_warning(recipe: dict) -> None:
    report = run_preflight({**recipe, "save_steps": 200, "eval_steps": 200})
    assert report.ok and any("only the final checkpoint" in w for w in report.warnings)


@pytest.mark.parametrize(
    "change,expected",
    [
        ({"template": "qwen3_nothink"}, "does not match Qwen/Qwen3-4B"),
        ({"template": "qwen"}, "does not match Qwen/Qwen3-4B"),
        ({"enable_thinking": None}, "thinking is on (enable_thinking unset"),
        ({"model_name_or_path": "Qwen/Qwen3-4B-Instruct-2507"}, "use qwen3_nothink"),
        ({"model_name_or_path": "Qwen/Qwen2.5-3B-Instruct"}, "use qwen"),
        ({"template": None}, "template is unset"),
    ],
)
def test_template_and_thinking_mistakes(recipe: dict, change: dict, expected: str) -> None:
    config = {k: v for k, v in {**recipe, **change}.items() if v is not None}
    assert any(expected in e for e in errors_of(config)), errors_of(config)


def test_train_and_serve_recipes_must_agree(tmp_path: Path, recipe: dict) -> None:
    """Chained by output_dir -> adapter -> export_dir -> model; both ends see the difference."""
    train = {**recipe, "output_dir": "outputs/run"}
    merge = {
        "model_name_or_path": "Qwen/Qwen3-4B",
        "adapter_name_or_path": "outputs/run",
        "template": "qwen3",
        "enable_thinking": False,
        "finetuning_type": "lora",
        "export_dir": "outputs/merged",
    }
    serve = {"model_name_or_path": "outputs/merged", "template": "qwen3", "infer_backend": "vllm"}  # thinking on
    for name, cfg in [("train", train), ("merge", merge), ("serve", serve)]:
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    (tmp_path / "other.yaml").write_text(yaml.safe_dump({**serve, "model_name_or_path": "x"}), encoding="utf-8")
    report = run_preflight(train, recipe_path=str(tmp_path / "train.yaml"))
    assert [e for e in report.errors if "serve.yaml" in e] and not [e for e in report.errors if "other.yaml" in e]
    served = run_preflight(serve, recipe_path=str(tmp_path / "serve.yaml"))
    assert any("thinking is on" in e for e in served.errors)  # base model resolved through the merge
    assert any("train.yaml" in e for e in served.errors) and any("merge.yaml" in e for e in served.errors)
    merged = run_preflight(merge, recipe_path=str(tmp_path / "merge.yaml")).errors
    assert merged and all("serve.yaml" in e for e in merged)


def test_cutoff_that_cuts_answers_is_an_error_with_the_tokenizer(recipe: dict, tiny_model: Path) -> None:
    config = {**recipe, "model_name_or_path": str(tiny_model), "cutoff_len": 96}
    report = run_preflight(config)
    assert any("cutoff_len 96 cuts the answer" in e and "tokenizer" in e for e in report.errors), report.render()
    assert any(
        "cutoff_len 96 cuts the answer" in w and "chars estimate" in w
        for w in run_preflight({**recipe, "cutoff_len": 96}).warnings
    )


def test_missing_dataset_and_file(recipe: dict, data_dir: Path, tmp_path: Path) -> None:
    assert any("'pii_train' is not registered" in e for e in errors_of({**recipe, "dataset": "pii_train"}))
    info = json.loads((data_dir / "dataset_info.json").read_text())
    (tmp_path / "dataset_info.json").write_text(json.dumps(info))
    assert any("does not exist" in e for e in errors_of({**recipe, "dataset_dir": str(tmp_path)}))


def test_trust_remote_code_is_an_error(recipe: dict) -> None:
    assert any("trust_remote_code is on" in e for e in errors_of({**recipe, "trust_remote_code": True}))


def test_memory_monotonic_in_batch_and_cutoff() -> None:
    spec = QWEN_SPECS["qwen3-4b"]
    base = dict(lora_rank=16, quant_bits=4, focal_loss=True)
    for step in (train_step, eval_step):
        by_batch = [step(spec, Setup(train_batch=b, eval_batch=b, seq_len=1024, **base)).total for b in (1, 2, 4, 12)]
        by_len = [step(spec, Setup(train_batch=2, eval_batch=2, seq_len=s, **base)).total for s in (256, 512, 2048)]
        for totals in (by_batch, by_len):
            assert all(a < b for a, b in zip(totals, totals[1:])), totals
    small = train_step(spec, Setup(1, 1, 512, quant_bits=4))
    assert 2.5 < small.parts["weights"] < 3.0 < train_step(spec, Setup(1, 1, 512)).parts["weights"]


def test_deepspeed_zero3_shards_weights(recipe: dict) -> None:
    ds = {
        **{k: v for k, v in recipe.items() if not k.startswith("quantization")},
        "deepspeed": str(REPO / "llamafactory_configs/deepspeed/ds_z3_config.json"),
    }
    one, two = run_preflight(ds, num_gpus=1), run_preflight(ds, num_gpus=2)
    assert two.estimate("train step").parts["weights"] == pytest.approx(one.estimate("train step").parts["weights"] / 2)


def test_infer_seqlen_matches_llamafactory() -> None:
    from llamafactory.data.processor.processor_utils import infer_seqlen as lf_infer_seqlen

    for source, target, cutoff in [(10, 10, 64), (50, 40, 64), (20, 100, 64), (100, 20, 64), (300, 300, 256)]:
        assert infer_seqlen(source, target, cutoff) == lf_infer_seqlen(source, target, cutoff)


def test_bad_yaml_and_duplicate_keys_give_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(
        InputError, match=r"r\.yaml:4: invalid YAML: .* \(while parsing a flow sequence opened at line 3\)"
    ):
        parse_yaml("a: 1\nb: 2\nc: [1, 2\nd: 4\n", tmp_path / "r.yaml")
    with pytest.raises(InputError, match=r"r\.yaml:3: duplicate key 'template'"):
        parse_yaml("template: qwen3\ncutoff_len: 8\ntemplate: qwen\n", tmp_path / "r.yaml")


def test_overrides_reach_nested_blocks(recipe: dict) -> None:
    out = apply_overrides(recipe, ["cutoff_len=512", "pii_factory.preflight.mode=fail", "template=qwen"])
    assert out["cutoff_len"] == 512 and out["pii_factory"]["preflight"]["mode"] == "fail"
    assert recipe["pii_factory"]["preflight"]["mode"] == "warn"


def test_cli_exit_codes_and_table(tmp_path: Path, recipe: dict, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(stock_loss(recipe)), encoding="utf-8")
    assert main([str(path), "--gpu-mem", "12"]) == 0
    assert "peak" in capsys.readouterr().out
    assert main([str(path), "--gpu-mem", "12", "per_device_eval_batch_size=12"]) == 1
    assert "ERROR    eval step needs" in capsys.readouterr().out
    assert main([str(path), "cutoff_len.x=1"]) == 2
    assert capsys.readouterr().err == "preflight: override 'cutoff_len.x=1': 'cutoff_len' is not a block\n"
    path.write_text("model_name_or_path: x\n  bad: indent\n", encoding="utf-8")
    assert main([str(path)]) == 2
    assert f"{path}:2: invalid YAML" in capsys.readouterr().err
