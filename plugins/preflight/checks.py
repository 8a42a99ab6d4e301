"""The mistakes that cost the users hours, each a function that adds findings to a report."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from piifactory.io import InputError
from piifactory.recipe_file import read_recipe
from plugins.options import BLOCK_KEY, METRIC_NAMES
from plugins.preflight import data as ds
from plugins.preflight.findings import PreflightReport
from plugins.preflight.models import ModelSpec, template_rule

HF_DEFAULT_EVAL_BATCH = 8  # transformers' per_device_eval_batch_size default


@dataclass
class Context:
    """One recipe under check, with what earlier checks learnt (rows, base model)."""

    config: dict[str, Any]
    block: dict[str, Any]
    recipe_path: Path | None
    base_model: str
    spec: ModelSpec | None
    num_gpus: int = 1
    train_rows: int | None = None
    stats: dict[str, ds.LengthStats] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        value = self.config.get(key)
        return default if value is None else value

    @property
    def is_train(self) -> bool:
        return bool(self.get("do_train", False))

    @property
    def eval_enabled(self) -> bool:
        return self.is_train and (str(self.get("eval_strategy", "no")) != "no" or bool(self.get("do_eval")))

    @property
    def thinking(self) -> bool:
        """LLaMA-Factory's enable_thinking defaults to true."""
        return bool(self.get("enable_thinking", True))


def check_trust_remote_code(ctx: Context, report: PreflightReport) -> None:
    if ctx.get("trust_remote_code", False):
        msg = (
            "trust_remote_code is on: it runs Python shipped with the model; Qwen models are "
            "built into transformers and do not need it"
        )
        (report.errors if ctx.spec is not None or template_rule(ctx.base_model) else report.warnings).append(msg)


def check_template(ctx: Context, report: PreflightReport) -> None:
    template = ctx.get("template")
    if template is None:
        report.errors.append("template is unset: set it to the model family's template (qwen3 for Qwen3)")
        return
    rule = template_rule(ctx.base_model)
    if rule is None:
        if ctx.spec is not None and ctx.spec.model_type.startswith("qwen") and not str(template).startswith("qwen"):
            report.warnings.append(f"template {template!r} on a {ctx.spec.model_type} model")
        return
    if template not in rule.templates:
        report.errors.append(
            f"template {template!r} does not match {ctx.base_model} ({rule.family}): use {' or '.join(rule.templates)}"
        )
    elif rule.thinking is not None and template == "qwen3" and ctx.thinking != rule.thinking:
        state = "on (enable_thinking unset defaults to true)" if ctx.thinking else "off"
        report.errors.append(
            f"thinking is {state} for {ctx.base_model} ({rule.family}): "
            f"set enable_thinking: {str(rule.thinking).lower()}"
        )


def _links(config: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(paths this recipe reads, paths it writes), normalised for comparison."""
    norm = lambda p: str(p).strip().rstrip("/")  # noqa: E731
    reads = {norm(p) for p in str(config.get("adapter_name_or_path") or "").split(",") if p.strip()}
    reads.add(norm(config.get("model_name_or_path", "")))
    writes = {norm(config[k]) for k in ("output_dir", "export_dir") if config.get(k)}
    return reads, writes


def related_recipes(recipe_path: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Recipes in the same folder chained to this one through output_dir/export_dir and
    adapter_name_or_path/model_name_or_path (train -> merge -> serve), in either direction."""
    recipes: dict[Path, dict[str, Any]] = {}
    for path in sorted(recipe_path.parent.glob("*.y*ml")):
        try:
            recipes[path.resolve()] = read_recipe(path)
        except InputError:  # a broken sibling is that recipe's own preflight's business
            continue
    group = {recipe_path.resolve()}
    changed = True
    while changed:
        changed = False
        for path, cfg in recipes.items():
            if path in group:
                continue
            reads, writes = _links(cfg)
            for member in group:
                m_reads, m_writes = _links(recipes.get(member, {}))
                if reads & m_writes or writes & m_reads:
                    group.add(path)
                    changed = True
                    break
    return [(p, recipes[p]) for p in sorted(group) if p != recipe_path.resolve()]


def check_consistency(ctx: Context, report: PreflightReport) -> None:
    """Train, merge and serve recipes of one model must share template and thinking."""
    if ctx.recipe_path is None:
        return
    mine = (ctx.get("template"), ctx.thinking if ctx.get("template") == "qwen3" else None)
    for path, cfg in related_recipes(ctx.recipe_path):
        other_template = cfg.get("template")
        other_thinking = cfg.get("enable_thinking", True) if other_template == "qwen3" else None
        if (other_template, other_thinking) != mine:
            report.errors.append(
                f"template/thinking differ from {path.name}: here {mine[0]!r}, enable_thinking "
                f"{ctx.get('enable_thinking', 'unset (true)')}; there {other_template!r}, enable_thinking "
                f"{cfg.get('enable_thinking', 'unset (true)')}"
            )


def check_datasets(ctx: Context, report: PreflightReport, counter: Callable[[], tuple[ds.Counter, str]]) -> None:
    """Names registered, files present, answers not cut by cutoff_len; remembers train rows.
    ``counter`` is called once, when the first local file is found (loading a tokenizer is slow)."""
    names = {"dataset": ds.split_names(ctx.get("dataset")), "eval_dataset": ds.split_names(ctx.get("eval_dataset"))}
    if not any(names.values()):
        return
    dataset_dir = ctx.get("dataset_dir", "data")
    info = ds.read_dataset_info(dataset_dir)
    if info is None:
        report.errors.append(f"no dataset_info.json in dataset_dir {dataset_dir!r}")
        return
    cutoff = int(ctx.get("cutoff_len", 2048))
    max_samples = ctx.get("max_samples")
    train_rows = 0
    count: ds.Counter | None = None
    method = ""
    for key, dataset_names in names.items():
        for name in dataset_names:
            entry = info.get(name)
            if entry is None:
                report.errors.append(
                    f"{key} {name!r} is not registered in {Path(dataset_dir) / 'dataset_info.json'} "
                    f"(registered: {', '.join(sorted(info)) or 'none'})"
                )
                continue
            if "file_name" not in entry:
                report.notes.append(f"{name}: not a local file, lengths not checked")
                continue
            if not (Path(dataset_dir) / entry["file_name"]).exists():
                report.errors.append(f"{name}: file {Path(dataset_dir) / entry['file_name']} does not exist")
                continue
            if count is None:
                count, method = counter()
            stats = ds.measure(entry, dataset_dir, cutoff, ctx.get("template"), count, method)
            ctx.stats[name] = stats
            if key == "dataset":
                train_rows += min(stats.rows, max_samples) if max_samples else stats.rows
            if stats.truncated_answers:
                msg = (
                    f"{name}: cutoff_len {cutoff} cuts the answer of {stats.truncated_answers} of "
                    f"{stats.rows} rows (longest sample {stats.longest_total} tokens, {method}); "
                    f"raise cutoff_len to at least {stats.longest_total}"
                )
                (report.errors if method == "tokenizer" else report.warnings).append(msg)
            else:
                report.notes.append(
                    f"{name}: {stats.rows} rows, longest {stats.longest_total} tokens "
                    f"({method}), none cut at cutoff_len {cutoff}"
                )
    if names["dataset"] and all(n in ctx.stats for n in names["dataset"]):
        ctx.train_rows = train_rows


def total_steps(ctx: Context) -> int | None:
    if int(ctx.get("max_steps", -1)) > 0:
        return int(ctx.get("max_steps"))
    if ctx.train_rows is None:
        return None
    val_size = float(ctx.get("val_size", 0.0))  # a fraction, or a row count when >= 1
    rows = ctx.train_rows - val_size if val_size >= 1 else ctx.train_rows * (1 - val_size)
    per_step = int(ctx.get("per_device_train_batch_size", 8)) * int(ctx.get("gradient_accumulation_steps", 1))
    return math.ceil(rows / (per_step * ctx.num_gpus)) * math.ceil(float(ctx.get("num_train_epochs", 3.0)))


def check_eval_batch(ctx: Context, report: PreflightReport) -> None:
    if ctx.eval_enabled and ctx.config.get("per_device_eval_batch_size") is None:
        report.errors.append(
            f"per_device_eval_batch_size is unset: evaluation falls back to {HF_DEFAULT_EVAL_BATCH} rows x "
            f"cutoff_len x 152k vocabulary of logits; set it (at most the train batch size)"
        )


def check_best_checkpoint(ctx: Context, report: PreflightReport) -> None:
    """load_best_model_at_end needs evaluated checkpoints and a metric that exists."""
    if not (ctx.is_train and ctx.get("load_best_model_at_end", False)):
        return
    eval_s, save_s = str(ctx.get("eval_strategy", "no")), str(ctx.get("save_strategy", "steps"))
    if eval_s == "no":
        report.errors.append("load_best_model_at_end without evaluation (eval_strategy no): no checkpoint can be best")
        return
    if save_s != "best" and save_s != eval_s:
        report.errors.append(f"load_best_model_at_end needs save_strategy ({save_s}) equal to eval_strategy ({eval_s})")
        return
    if eval_s == "steps" and save_s == "steps":
        eval_steps = ctx.get("eval_steps") or ctx.get("logging_steps", 500)
        save_steps = ctx.get("save_steps", 500)
        if save_steps % eval_steps:
            report.errors.append(
                f"save_steps {save_steps} is not a multiple of eval_steps {eval_steps}: "
                "checkpoints would miss the evaluations that pick the best one"
            )
            return
        steps = total_steps(ctx)
        if steps is not None and math.ceil(steps / save_steps) < 2:
            report.warnings.append(
                f"about {steps} training steps and save_steps {save_steps}: only the final "
                "checkpoint is evaluated, so there is nothing to choose from; lower save/eval steps"
            )
    metric = str(ctx.get("metric_for_best_model", "loss"))
    if metric.removeprefix("eval_") in METRIC_NAMES and not (ctx.block.get("entity_metrics") or {}).get("enabled"):
        report.errors.append(
            f"metric_for_best_model {metric} needs {BLOCK_KEY}.entity_metrics.enabled: true "
            "(nothing else computes it; transformers raises KeyError at the first evaluation)"
        )
