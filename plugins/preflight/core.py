"""``run_preflight``: every check and the memory estimate for one recipe, before any model loads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from plugins.options import BLOCK_KEY
from plugins.preflight import checks, memory
from plugins.preflight.data import token_counter
from plugins.preflight.findings import PreflightReport
from plugins.preflight.models import resolve_spec
from plugins.preflight.recipe import split_plugin_block

NEAR_FULL = 0.9  # above this share of the card, fragmentation and spikes make OOM likely


def _base_model(config: dict[str, Any], recipe_path: Path | None) -> str:
    """The hub model behind a local export folder that does not exist yet (merge -> serve)."""
    model = str(config.get("model_name_or_path", ""))
    if recipe_path is None or Path(model).exists():
        return model
    for _, other in checks.related_recipes(recipe_path):
        if str(other.get("export_dir", "")).rstrip("/") == model.rstrip("/"):
            return str(other.get("model_name_or_path", model))
    return model


def _zero_stage(config: dict[str, Any], report: PreflightReport) -> int:
    path = config.get("deepspeed")
    if not path:
        return 0
    try:
        stage = json.loads(Path(path).read_text(encoding="utf-8"))["zero_optimization"]["stage"]
    except (OSError, ValueError, KeyError) as exc:
        report.errors.append(f"deepspeed config {path}: cannot read zero_optimization.stage ({exc})")
        return 0
    return int(stage)


def _as_plugin_reads_it(block: dict[str, Any]) -> dict[str, Any]:
    """The block with the plugin's defaults filled in: ``focal_loss:`` or ``{}`` is on, and
    ``entity_metrics`` without ``enabled`` is enabled. A block the plugin would refuse is kept as
    written (the training stops on it before the model loads, naming the keys)."""
    from plugins.options import OptionsError, parse_options

    try:
        return parse_options(block).model_dump()
    except OptionsError:
        return block


def _setup(ctx: checks.Context, report: PreflightReport) -> memory.Setup:
    cfg, block = ctx.config, ctx.block
    cutoff = int(ctx.get("cutoff_len", 2048))
    gen = block.get("entity_metrics") or {}
    return memory.Setup(
        train_batch=int(ctx.get("per_device_train_batch_size", 8)),
        eval_batch=int(ctx.get("per_device_eval_batch_size", checks.HF_DEFAULT_EVAL_BATCH)),
        seq_len=cutoff,
        quant_bits=ctx.get("quantization_bit") if ctx.get("quantization_method", "bnb") == "bnb" else None,
        double_quant=bool(ctx.get("double_quantization", True)),
        finetuning=str(ctx.get("finetuning_type", "lora")),
        lora_rank=int(ctx.get("lora_rank", 8)),
        lora_targets=tuple(t.strip() for t in str(ctx.get("lora_target", "all")).split(",")),
        full_precision_trainable=not cfg.get("pure_bf16", False),
        gradient_checkpointing=not cfg.get("disable_gradient_checkpointing", False),
        optim_8bit="8bit" in str(ctx.get("optim", "")),
        focal_loss=bool(block.get("focal_loss")),
        zero_stage=_zero_stage(cfg, report),
        num_gpus=ctx.num_gpus,
        gen_batch=int(gen.get("batch_size") or 16) if gen.get("enabled") else 0,
        gen_len=cutoff + int(gen.get("max_new_tokens") or 0),
    )


def _check_memory(ctx: checks.Context, report: PreflightReport) -> None:
    if not ctx.is_train:
        return
    if ctx.get("use_cpu", False):
        report.notes.append("use_cpu: CPU run, no GPU memory check")
        return
    if ctx.spec is None:
        report.warnings.append(
            f"model size of {ctx.base_model!r} unknown (not in the Qwen table, no local "
            "config.json): memory not estimated"
        )
        return
    setup = _setup(ctx, report)
    report.estimates.append(memory.train_step(ctx.spec, setup))
    if ctx.eval_enabled:
        report.estimates.append(memory.eval_step(ctx.spec, setup))
    if setup.gen_batch:
        report.estimates.append(memory.generate_step(ctx.spec, setup))
    if report.gpu_mem_gb is None:
        report.warnings.append(f"card memory unknown: pass --gpu-mem GB (or {BLOCK_KEY}.preflight.gpu_mem_gb)")
        return
    for est in report.estimates:
        if est.total > report.gpu_mem_gb:
            biggest = max(est.parts, key=est.parts.get)
            report.errors.append(
                f"{est.name} needs about {est.total:.1f} GiB, the card has {report.gpu_mem_gb:g} "
                f"GiB (largest part: {biggest} {est.parts[biggest]:.1f} GiB; lower the batch "
                "size or cutoff_len)"
            )
        elif est.total > NEAR_FULL * report.gpu_mem_gb:
            report.warnings.append(
                f"{est.name} needs about {est.total:.1f} of {report.gpu_mem_gb:g} GiB: "
                "little headroom for longer batches"
            )


def run_preflight(
    config: dict[str, Any], *, gpu_mem_gb: float | None = None, recipe_path: str | None = None, num_gpus: int = 1
) -> PreflightReport:
    """Check a recipe (``pii_factory`` block included or not). ``gpu_mem_gb`` defaults to the
    block's ``preflight.gpu_mem_gb``; ``recipe_path`` enables the train/serve consistency check;
    ``num_gpus`` divides what DeepSpeed ZeRO shards."""
    lf_config, block = split_plugin_block(config)
    block = _as_plugin_reads_it(block)
    path = Path(recipe_path) if recipe_path else None
    card = gpu_mem_gb if gpu_mem_gb is not None else (block.get("preflight") or {}).get("gpu_mem_gb")
    report = PreflightReport(recipe=str(recipe_path or "<config>"), gpu_mem_gb=card)
    if not lf_config.get("model_name_or_path"):
        report.errors.append("model_name_or_path is unset")
        return report
    base = _base_model(lf_config, path)
    spec, source = resolve_spec(str(lf_config["model_name_or_path"]))
    if spec is None and base != lf_config["model_name_or_path"]:
        spec, source = resolve_spec(base)
    report.notes.append(f"model {base} (shape from {source})")
    ctx = checks.Context(lf_config, block, path, base, spec, num_gpus=num_gpus)
    checks.check_trust_remote_code(ctx, report)
    checks.check_template(ctx, report)
    checks.check_consistency(ctx, report)
    checks.check_datasets(ctx, report, lambda: token_counter(str(lf_config["model_name_or_path"])))
    checks.check_eval_batch(ctx, report)
    checks.check_best_checkpoint(ctx, report)
    _check_memory(ctx, report)
    return report
