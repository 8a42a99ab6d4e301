"""The study report of an experiment with ``report.baseline``: every variant and every
prediction-only arm against the baseline on the test split.

Each arm is predicted once per seed with that seed's model (a variant's own trials; an arm's
variant's trials, another checkpoint, extra ``eval.predict`` flags or an operating point that
``eval.calibrate`` chose on validation). The seeds' predictions are pooled: one unit per (seed,
test sample), the same units for every arm, so ``eval.compare``'s paired bootstrap gives the
difference from the baseline with its 95% interval over test samples and seeds' models together.
The time of each arm is its training (mean per seed) and its prediction (calibration included).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.scoring.markdown_report import save_png
from piifactory.child import python_m
from piifactory.io import atomic_write_text
from piifactory.tables import markdown_table
from workflows.experiments.spec import LOWER_IS_BETTER, Arm, Experiment
from workflows.experiments.trainer_log import evaluations, read_log
from workflows.experiments.trial import FINISHED, TrialPlan, log_tail, run_tied

TIMING = "timing.json"
SHOWN = ("precision", "recall", "f1")


@dataclass(frozen=True)
class Job:
    """One arm's prediction with one seed's model."""

    arm: str
    seed: int
    model_dir: Path
    predict: list[str]
    calibrate: list[str] | None
    out_dir: Path

    @property
    def predictions(self) -> Path:
        return self.out_dir / "predictions.jsonl"


@dataclass
class ArmResult:
    name: str
    variant: str
    options: str
    train_s: float | None
    predict_s: float | None
    per_seed: dict[int, dict[str, float]] = field(default_factory=dict)
    pooled: dict[str, float] = field(default_factory=dict)
    deltas: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def all_arms(experiment: Experiment) -> list[Arm]:
    """Every variant as an arm of its own (its trials' best checkpoints, plain prediction), then the
    prediction-only arms."""
    return [Arm(name=v.name, variant=v.name) for v in experiment.variants] + list(experiment.report.arms)


def checkpoint_by(summary, metric: str) -> Path | None:
    """The checkpoint saved at the trial's best evaluation by ``metric`` (None if not kept)."""
    key = f"eval_{metric}"
    # read again by this metric: the plugin logs the entity metrics on lines of their own, beside
    # LLaMA-Factory's eval_loss line of the same step
    evals = [
        e for e in evaluations(read_log(summary.run_dir), key) if (summary.run_dir / f"checkpoint-{e['step']}").is_dir()
    ]
    if not evals:
        return None
    pick = min if metric in LOWER_IS_BETTER else max
    # ties go to the earliest step (fewer steps, the same score)
    best = pick(evals, key=lambda e: (e[key], -e["step"]) if pick is max else (e[key], e["step"]))
    return summary.run_dir / f"checkpoint-{best['step']}"


def jobs(plan: TrialPlan, summaries: list, out_dir: Path) -> tuple[list[Job], list[str]]:
    """The predictions to make, and why any arm x seed cannot be made (no trial, no weights)."""
    from workflows.experiments.report import best_model_dir

    by_label = {s.label: s for s in summaries}
    made, missing = [], []
    for arm in all_arms(plan.experiment):
        for seed in plan.experiment.seeds or [None]:
            label = arm.variant if seed is None else f"{arm.variant}-seed{seed}"
            summary = by_label.get(label)
            if summary is None or summary.state != FINISHED:  # a study compares whole trainings only
                missing.append(f"{arm.name} seed {seed}: trial {label} did not finish")
                continue
            model_dir = checkpoint_by(summary, arm.checkpoint) if arm.checkpoint else best_model_dir(summary)
            if model_dir is None:
                missing.append(f"{arm.name} seed {seed}: trial {label} has no weights to predict with")
                continue
            where = out_dir / "arms" / arm.name / f"seed{seed if seed is not None else 0}"
            made.append(Job(arm.name, seed or 0, model_dir, list(arm.predict), arm.calibrate, where))
    return made, missing


def _run_job(plan: TrialPlan, summary, job: Job, env: dict[str, str]) -> dict[str, Any]:
    """Calibrate (if the arm does) and predict; returns the seconds of each. A finished job is kept."""
    import eval.calibrate
    from workflows.experiments.report import predict_command, weights_override

    done = job.out_dir / TIMING
    if done.exists():
        return json.loads(done.read_text(encoding="utf-8"))
    job.out_dir.mkdir(parents=True, exist_ok=True)
    log = job.out_dir / "predict.log"
    timing: dict[str, Any] = {"model": str(job.model_dir)}
    extra = list(job.predict)
    if job.calibrate is not None:
        operating_point = job.out_dir / "op.json"
        biased = job.out_dir / "val_biased.jsonl"
        biased.unlink(missing_ok=True)
        report = plan.experiment.report
        recipe, overrides = _recipe_and_overrides(plan, summary)
        argv = [
            *python_m(eval.calibrate),
            recipe,
            *overrides,
            weights_override(plan, summary, job.model_dir),
            *("--predictions", str(biased), "--out", str(operating_point)),
            *("--batch-size", str(report.batch_size), "--max-new-tokens", str(report.max_new_tokens)),
            *job.calibrate,
        ]
        start = time.monotonic()
        if (code := run_tied(argv, plan.workdir, env, log)) != 0:
            return {"error": f"eval.calibrate failed (exit {code}):\n{log_tail(log)}"}
        timing["calibrate_s"] = time.monotonic() - start
        extra += ["--operating-point", str(operating_point)]
    job.predictions.unlink(missing_ok=True)  # pooled by line: a fresh file keeps the test split's order
    start = time.monotonic()
    argv = [*predict_command(plan, summary, job.model_dir, job.predictions), *extra]
    if (code := run_tied(argv, plan.workdir, env, log)) != 0:
        return {"error": f"eval.predict failed (exit {code}):\n{log_tail(log)}"}
    timing["predict_s"] = time.monotonic() - start
    atomic_write_text(done, json.dumps(timing, indent=1) + "\n")
    return timing


def _recipe_and_overrides(plan: TrialPlan, summary) -> tuple[str, list[str]]:
    from workflows.experiments.spec import trial_overrides, trial_recipe_path

    return trial_recipe_path(plan.experiment, summary.config), trial_overrides(plan.experiment, summary.config)


def run_jobs(plan: TrialPlan, summaries: list, todo: list[Job]) -> dict[tuple[str, int], dict[str, Any]]:
    """Every job as a Ray task with a trial's resources (as many at once as fit)."""
    import ray

    from workflows.experiments.trial import train_env

    by_label = {s.label: s for s in summaries}
    arms = {a.name: a for a in all_arms(plan.experiment)}
    resources = plan.experiment.resources
    task = ray.remote(num_cpus=resources.cpus, num_gpus=resources.gpus)(_run_job)
    futures = {}
    for job in todo:
        variant = arms[job.arm].variant
        summary = by_label[variant if not plan.experiment.seeds else f"{variant}-seed{job.seed}"]
        futures[(job.arm, job.seed)] = task.remote(plan, summary, job, train_env(plan))
    return {key: ray.get(future) for key, future in futures.items()}


def _pool(samples: list) -> Any:
    from eval.inputs import Samples

    return Samples(
        [t for s in samples for t in s.texts],
        [g for s in samples for g in s.gold],
        [p for s in samples for p in s.predictions],
    )


def _micro(samples) -> dict[str, float]:
    from eval.scoring.scorer import report_dict, score_samples

    micro = report_dict(score_samples(samples.texts, samples.gold, samples.predictions))["micro"]
    return {k: micro[k] for k in (*SHOWN, "f2")}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def evaluate(plan: TrialPlan, summaries: list, out_dir: Path) -> dict[str, Any]:
    """Predict every arm x seed, then score and compare: the study's result (also ``study.json``)."""
    from eval.compare import compare
    from eval.inputs import load

    experiment = plan.experiment
    todo, missing = jobs(plan, summaries, out_dir)
    timings = run_jobs(plan, summaries, todo)
    by_label = {s.label: s for s in summaries}
    loaded: dict[str, dict[int, Any]] = {}
    results: list[ArmResult] = []
    for arm in all_arms(experiment):
        seeds = list(experiment.seeds) or [0]
        trials = [by_label.get(arm.variant if not experiment.seeds else f"{arm.variant}-seed{s}") for s in seeds]
        result = ArmResult(
            arm.name,
            arm.variant,
            _options(arm),
            _mean([t.seconds for t in trials if t is not None and t.seconds is not None]),
            None,
        )
        errors = [timings[(arm.name, s)]["error"] for s in seeds if "error" in timings.get((arm.name, s), {})]
        ran = [s for s in seeds if (arm.name, s) in timings and "error" not in timings[(arm.name, s)]]
        if errors or len(ran) != len(seeds):
            result.error = errors[0] if errors else f"seeds without a model: {sorted(set(seeds) - set(ran))}"
        results.append(result)
        if not ran:
            continue
        result.predict_s = _mean(
            [timings[(arm.name, s)]["predict_s"] + timings[(arm.name, s)].get("calibrate_s", 0.0) for s in ran]
        )
        loaded[arm.name] = {s: load(next(j.predictions for j in todo if (j.arm, j.seed) == (arm.name, s))) for s in ran}
        result.per_seed = {s: _micro(samples) for s, samples in loaded[arm.name].items()}
        result.pooled = _micro(_pool(list(loaded[arm.name].values())))
    baseline = experiment.report.baseline
    for result in results:
        if result.name == baseline or result.name not in loaded or baseline not in loaded:
            continue
        common = sorted(set(loaded[baseline]) & set(loaded[result.name]))  # the same (seed, sample) units
        if common:
            base_pooled = _pool([loaded[baseline][s] for s in common])
            pooled = _pool([loaded[result.name][s] for s in common])
            result.deltas = compare(base_pooled, pooled, replicates=experiment.report.bootstrap)["deltas"]
    study = {
        "baseline": baseline,
        "seeds": experiment.seeds,
        "test_dataset": experiment.report.dataset,
        "test_samples": experiment.report.limit,
        "bootstrap": experiment.report.bootstrap,
        "missing": missing,
        "arms": [vars(r) | {"per_seed": {str(k): v for k, v in r.per_seed.items()}} for r in results],
    }
    atomic_write_text(out_dir / "study.json", json.dumps(study, indent=1, default=str) + "\n")
    return study


def _options(arm: Arm) -> str:
    parts = []
    if arm.checkpoint:
        parts.append(f"checkpoint by {arm.checkpoint}")
    if arm.calibrate is not None:
        parts.append("operating point: eval.calibrate " + " ".join(arm.calibrate))
    if arm.predict:
        parts.append("eval.predict " + " ".join(arm.predict))
    return "; ".join(parts)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _delta(deltas: dict[str, Any], metric: str) -> str:
    if metric not in deltas:
        return "-"
    d = deltas[metric]
    return f"{100 * d['delta']:+.1f} [{100 * d['ci'][0]:+.1f}, {100 * d['ci'][1]:+.1f}]"


def _seconds(value: float | None, base: float | None) -> tuple[str, str]:
    if value is None:
        return "-", "-"
    extra = "-" if base is None else f"{value - base:+.0f}"
    return f"{value:.0f}", extra


def table(study: dict[str, Any]) -> str:
    """One row per arm, the baseline first: P, R, F1 (pooled over seeds), the differences from the
    baseline with their 95% intervals, each seed's recall, and the time."""
    arms = sorted(study["arms"], key=lambda a: a["name"] != study["baseline"])
    base = arms[0]
    rows = []
    for arm in arms:
        pooled, deltas = arm["pooled"], arm["deltas"]
        recalls = [v["recall"] for v in arm["per_seed"].values()]
        train, extra_train = _seconds(arm["train_s"], base["train_s"])
        predict, extra_predict = _seconds(arm["predict_s"], base["predict_s"])
        rows.append(
            [
                f"`{arm['name']}`",
                _pct(pooled.get("precision")),
                _pct(pooled.get("recall")),
                _pct(pooled.get("f1")),
                _delta(deltas, "recall"),
                _delta(deltas, "precision"),
                _delta(deltas, "f1"),
                " / ".join(_pct(r) for r in recalls) or "-",
                train,
                extra_train,
                predict,
                extra_predict,
            ]
        )
    header = ["arm", "P", "R", "F1", "dR [95% CI]", "dP [95% CI]", "dF1 [95% CI]", "R per seed"]
    header += ["train s", "+train s", "predict s", "+predict s"]
    return markdown_table(header, rows, align="lrrrrrrrrrrr")


def plot(study: dict[str, Any], path: Path) -> Path:
    """Precision against recall: each arm pooled over the seeds (large), and each seed (small)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5))
    markers = "osD^v<>ph*XP8"
    for index, arm in enumerate(a for a in study["arms"] if a["pooled"]):
        marker = markers[index % len(markers)]
        (point,) = ax.plot(
            arm["pooled"]["recall"], arm["pooled"]["precision"], marker, markersize=10, label=arm["name"]
        )
        seeds = list(arm["per_seed"].values())
        ax.plot(
            [s["recall"] for s in seeds], [s["precision"] for s in seeds], marker, color=point.get_color(), alpha=0.35
        )
    ax.set_xlabel("recall (test split)")
    ax.set_ylabel("precision (test split)")
    ax.set_title("every arm: pooled over the seeds (large), each seed (small)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return save_png(fig, path)


def study_lines(plan: TrialPlan, study: dict[str, Any]) -> list[str]:
    """The report's study section: the table, its legend, the plot, what could not be predicted."""
    seeds = ", ".join(str(s) for s in study["seeds"]) or "one run"
    lines = [
        "## Study on the test split",
        "",
        f"Every arm against `{study['baseline']}` on `{study['test_dataset']}`, seeds {seeds} (each arm predicts "
        f"with the model of each seed; the same seeds for every arm). P/R/F1: entity micro figures (%) of the "
        f"seeds' predictions pooled; d: the difference from the baseline with its 95% interval from "
        f"{study['bootstrap']} paired bootstrap resamples of (seed, test sample) units; train s: mean training "
        "time per seed; predict s: mean prediction time per seed (calibration on validation included).",
        "",
        table(study),
        "",
        "![precision against recall](pr.png)",
        "",
    ]
    lines += [f"- {arm['name']}: {arm['options']}" for arm in study["arms"] if arm["options"]]
    lines += ["", *(f"Not predicted: {m}" for m in study["missing"])]
    lines += [f"Failed: {arm['name']}: {arm['error']}" for arm in study["arms"] if arm["error"]]
    return [*lines, ""]
