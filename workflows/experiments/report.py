"""The experiment report (``report/README.md`` + plots): every trial's settings, best entity
P/R/F1 and at which step, time, how it ended; the metric over steps for all trials in one plot;
then, for the A/B pair (or the two best), predictions on the test split by ``eval.predict`` and the
paired bootstrap of ``eval.compare``: the difference with its 95% interval, whether the split tells
them apart, and about how many samples it would take if not.

Built from the trial folders alone (``runs/<trial>/``), so ``python -m workflows.experiments
report`` can write it again without Ray's state.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.scoring.markdown_report import save_png
from piifactory.child import python_m
from piifactory.io import atomic_write_text
from piifactory.recipe_file import apply_overrides, read_recipe
from piifactory.tables import markdown_table
from workflows.experiments.spec import Experiment, override_arg, trial_overrides, trial_recipe_path
from workflows.experiments.study import evaluate, plot, study_lines
from workflows.experiments.trainer_log import evaluations, read_log
from workflows.experiments.trial import (
    CONSOLE_LOG,
    CRASHED,
    FINISHED,
    TrialPlan,
    log_tail,
    read_outcome,
    read_record,
    run_tied,
)

INTERRUPTED = "interrupted"
# metric of the experiment -> the eval.compare delta that answers for it
COMPARE_METRIC = {"entity_precision": "precision", "entity_recall": "recall", "entity_f1": "f1", "entity_f2": "f2"}


@dataclass
class TrialSummary:
    label: str
    config: dict[str, Any]
    state: str
    evals: list[dict[str, Any]]
    best: dict[str, Any] | None
    seconds: float | None  # the last attempt, start to end
    attempts: int
    run_dir: Path
    started: float
    reason: str = ""

    def settings(self, experiment: Experiment) -> str:
        variant = experiment.variant(self.config.get("variant"))
        parts = [f"{self.config['variant']}:"] if variant else []
        parts += [override_arg(k, v) for k, v in (variant.overrides.items() if variant else ())]
        parts += [override_arg(k, v) for k, v in self.config.items() if k != "variant"]
        return " ".join(parts) or "(base recipe)"


def _better(experiment: Experiment) -> Any:
    return max if experiment.metric_mode == "max" else min


def summarize(plan: TrialPlan) -> list[TrialSummary]:
    """Every trial that started, in the order they started."""
    experiment, out = plan.experiment, []
    for run_dir in plan.runs_dir.glob("*/"):
        record = read_record(run_dir)
        if record is None:
            continue
        outcome = read_outcome(run_dir) or {"state": INTERRUPTED}
        evals = evaluations(read_log(run_dir), experiment.metric_key)
        best = _better(experiment)(evals, key=lambda e: e[experiment.metric_key]) if evals else None
        attempts = record["attempts"]
        seconds = outcome["end"] - attempts[-1]["start"] if "end" in outcome else None
        out.append(
            TrialSummary(
                record["label"],
                record["config"],
                outcome["state"],
                evals,
                best,
                seconds,
                len(attempts),
                run_dir,
                attempts[0]["start"],
                outcome.get("reason", ""),
            )
        )
    return sorted(out, key=lambda s: s.started)


def best_model_dir(summary: TrialSummary) -> Path | None:
    """The weights of the trial's best evaluation: its checkpoint if kept, else what transformers
    recorded as best, else the final output of a finished run."""
    if summary.best is not None:
        at_best = summary.run_dir / f"checkpoint-{summary.best['step']}"
        if (at_best / "trainer_state.json").is_file():
            return at_best
    states = sorted(
        summary.run_dir.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.rsplit("-", 1)[1])
    )
    if states:
        best = json.loads(states[-1].read_text(encoding="utf-8")).get("best_model_checkpoint")
        if best and Path(best).is_dir():
            return Path(best)
    if summary.state == FINISHED:
        return summary.run_dir
    return states[-1].parent if states else None


def pick_pair(experiment: Experiment, summaries: list[TrialSummary]) -> tuple[TrialSummary, TrialSummary] | None:
    """``report.compare``, else the two variants of an A/B, else the two best trials."""
    by_label = {s.label: s for s in summaries}
    if experiment.report.compare:
        a, b = experiment.report.compare
        return (by_label[a], by_label[b]) if a in by_label and b in by_label else None
    if len(experiment.variants) == 2 and experiment.search is None:
        a, b = (v.name for v in experiment.variants)
        return (by_label[a], by_label[b]) if a in by_label and b in by_label else None
    ranked = sorted(
        (s for s in summaries if s.best is not None),
        key=lambda s: s.best[experiment.metric_key],
        reverse=experiment.metric_mode == "max",
    )
    return (ranked[0], ranked[1]) if len(ranked) >= 2 else None


def weights_override(plan: TrialPlan, summary: TrialSummary, model_dir: Path) -> str:
    """The trial's weights for eval.predict or eval.calibrate: a LoRA adapter, or the model itself
    for a full fine-tune."""
    recipe_path = trial_recipe_path(plan.experiment, summary.config)
    recipe = apply_overrides(read_recipe(plan.workdir / recipe_path), trial_overrides(plan.experiment, summary.config))
    weights = (
        "model_name_or_path" if recipe.get("finetuning_type", "lora") in ("full", "freeze") else "adapter_name_or_path"
    )
    return override_arg(weights, str(model_dir))


def predict_command(plan: TrialPlan, summary: TrialSummary, model_dir: Path, out: Path) -> list[str]:
    """``python -m eval.predict RECIPE key=value ... --out`` with the trial's own overrides and its
    best weights: a LoRA adapter, or the model itself for a full fine-tune."""
    import eval.predict  # here, not at the top: the runner itself imports no torch

    experiment, report = plan.experiment, plan.experiment.report
    args = [
        *python_m(eval.predict),
        trial_recipe_path(experiment, summary.config),
        *trial_overrides(experiment, summary.config),
        weights_override(plan, summary, model_dir),
        "--dataset",
        str(report.dataset),
        "--out",
        str(out),
        "--batch-size",
        str(report.batch_size),
        "--max-new-tokens",
        str(report.max_new_tokens),
        "--values",
        report.values,
        "--no-progress",
    ]
    return [*args, "--limit", str(report.limit)] if report.limit else args


def _predict(argv: list[str], workdir: str, log: str, env: dict[str, str]) -> int:
    return run_tied(argv, Path(workdir), env, Path(log))


def compare_pair(plan: TrialPlan, pair: tuple[TrialSummary, TrialSummary], out_dir: Path) -> dict[str, Any]:
    """Both trials' test predictions (Ray tasks with a trial's resources, in parallel where they
    fit; a rerun keeps finished predictions), then ``eval.compare``."""
    import ray

    from eval.compare import compare
    from eval.inputs import load
    from workflows.experiments.trial import train_env

    resources = plan.experiment.resources
    task = ray.remote(num_cpus=resources.cpus, num_gpus=resources.gpus)(_predict)
    futures, paths = [], []
    for summary in pair:
        model_dir = best_model_dir(summary)
        if model_dir is None:
            return {"error": f"{summary.label} has no saved weights to predict with"}
        path = out_dir / f"predictions_{summary.label}.jsonl"
        log = out_dir / f"predict_{summary.label}.log"
        futures.append(
            task.remote(predict_command(plan, summary, model_dir, path), str(plan.workdir), str(log), train_env(plan))
        )
        paths.append((summary.label, model_dir, path, log))
    codes = ray.get(futures)
    for (label, _, _, log), code in zip(paths, codes):
        if code != 0:
            return {"error": f"eval.predict for {label} failed (exit {code}):\n{log_tail(log)}"}
    (a_label, a_model, a_path, _), (b_label, b_model, b_path, _) = paths
    result = compare(load(a_path), load(b_path), replicates=plan.experiment.report.bootstrap)
    return {**result, "a": a_label, "b": b_label, "a_model": str(a_model), "b_model": str(b_model)}


def plot_metric(plan: TrialPlan, summaries: list[TrialSummary], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = plan.experiment.metric_key
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for summary in summaries:
        if not summary.evals:
            continue
        steps = [e["step"] for e in summary.evals]
        (line,) = ax.plot(steps, [e[key] for e in summary.evals], "o-", label=f"{summary.label} ({summary.state})")
        if summary.state != FINISHED:
            ax.plot(steps[-1], summary.evals[-1][key], "x", color=line.get_color(), markersize=12)
    ax.set_xlabel("step")
    ax.set_ylabel(key)
    ax.set_title(f"{key} at every evaluation (x: the trial ended before its last step)")
    ax.legend(fontsize=8)
    return save_png(fig, path)


def _pct(entry: dict[str, Any] | None, key: str) -> str:
    return f"{100 * entry[key]:.1f}" if entry and key in entry else "-"


def _duration(seconds: float | None) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(seconds)) if seconds is not None else "-"


def trial_rows(plan: TrialPlan, summaries: list[TrialSummary]) -> list[list[str]]:
    key = plan.experiment.metric_key
    rows = []
    for s in summaries:
        value = f"{s.best[key]:.4g}" if s.best else "-"
        state = s.state + (f" ({s.attempts} attempts)" if s.attempts > 1 else "")
        rows.append(
            [
                s.label,
                f"`{s.settings(plan.experiment)}`",
                value,
                _pct(s.best, "eval_entity_precision"),
                _pct(s.best, "eval_entity_recall"),
                _pct(s.best, "eval_entity_f1"),
                str(s.best["step"]) if s.best else "-",
                _duration(s.seconds),
                state,
            ]
        )
    return rows


def comparison_lines(plan: TrialPlan, result: dict[str, Any]) -> list[str]:
    if "error" in result:
        return ["## A/B on the test split", "", f"Not compared: {result['error']}", ""]
    name = COMPARE_METRIC.get(plan.experiment.metric, "f1")
    d = result["deltas"][name]
    verdict = (
        "the split tells them apart (the 95% interval excludes 0)"
        if d["separated"]
        else "no difference was seen"
        if d["samples_needed"] is None
        else f"the split cannot tell them apart; about {d['samples_needed']} samples would be needed for a "
        f"difference this size"
    )
    lines = [
        "## A/B on the test split",
        "",
        f"`{result['b']}` - `{result['a']}` on {result['samples']} test samples (`{plan.experiment.report.dataset}`), "
        f"{result['replicates']} paired bootstrap resamples; weights: `{result['a_model']}` and `{result['b_model']}`.",
        "",
        f"**{name}: {100 * d['delta']:+.1f} points, 95% interval [{100 * d['ci'][0]:+.1f}, {100 * d['ci'][1]:+.1f}]**: "
        f"{verdict}.",
        "",
    ]
    rows = [
        [
            m,
            f"{100 * v['a']:.1f}",
            f"{100 * v['b']:.1f}",
            f"{100 * v['delta']:+.1f}",
            f"[{100 * v['ci'][0]:+.1f}, {100 * v['ci'][1]:+.1f}]",
            f"{v['p_value']:.3f}",
            "yes" if v["separated"] else (f"no (~{v['samples_needed']} samples)" if v["samples_needed"] else "no"),
        ]
        for m, v in result["deltas"].items()
    ]
    lines += [markdown_table(["metric", result["a"], result["b"], "delta", "95% CI", "p", "separated"], rows), ""]
    return lines


def write_report(plan: TrialPlan, out_dir: Path) -> Path:
    """Write ``out_dir/README.md`` and its plots; returns the Markdown path."""
    experiment = plan.experiment
    summaries = summarize(plan)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_metric(plan, summaries, out_dir / "metric.png")
    lines = [
        f"# Experiment {experiment.name}",
        "",
        f"Metric `{experiment.metric_key}` ({experiment.metric_mode}), scheduler {experiment.scheduler.type}"
        + (
            f" on {experiment.scheduler.time_attr} (grace period {experiment.scheduler.grace_period:g})"
            if experiment.scheduler.type != "none"
            else ""
        )
        + f", base recipe `{experiment.recipe}`.",
        "",
        markdown_table(
            ["trial", "settings", experiment.metric_key, "P", "R", "F1", "best at step", "time", "state"],
            trial_rows(plan, summaries),
        ),
        "",
        "P/R/F1: entity precision, recall and F1 (%) at the trial's best evaluation; time: its last attempt.",
        "",
        "![metric over steps](metric.png)",
        "",
    ]
    crashed = [s for s in summaries if s.state == CRASHED]
    for s in crashed:
        lines += [f"### {s.label} crashed: {s.reason}", "", "```", log_tail(s.run_dir / CONSOLE_LOG, 15), "```", ""]
    if experiment.report.baseline is not None:
        pair = None
        if experiment.report.dataset:
            study = evaluate(plan, summaries, out_dir)
            plot(study, out_dir / "pr.png")
            lines += study_lines(plan, study)
    else:
        pair = pick_pair(experiment, summaries) if experiment.report.dataset else None
    if pair is not None:
        result = compare_pair(plan, pair, out_dir)
        atomic_write_text(out_dir / "compare.json", json.dumps(result, indent=1) + "\n")
        lines += comparison_lines(plan, result)
    path = out_dir / "README.md"
    atomic_write_text(path, "\n".join(lines))
    return path
