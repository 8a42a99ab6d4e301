"""Start an experiment on Ray Tune, or resume it: a local Ray on this machine by default, an
existing cluster with ``address``. Tune places the trials and runs the scheduler; nothing here
schedules anything itself.

The experiment folder ``<storage>/<name>/`` holds Tune's state (``Tuner.restore`` reads it), the
experiment file as first run (a changed file is refused rather than mixed into the old trials),
``runs/<trial>/`` and ``report/``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from workflows.experiments.prepare import prepare
from workflows.experiments.spec import Experiment, ExperimentError, check_recipes, load_experiment
from workflows.experiments.trial import TrialPlan, trial_label

PINNED_FILE = "experiment.yaml"


def param_space(experiment: Experiment) -> dict[str, Any]:
    """Tune's search space: the variants as a grid over their names, then the searched keys."""
    from ray import tune

    space: dict[str, Any] = {}
    if experiment.variants:
        space["variant"] = tune.grid_search([v.name for v in experiment.variants])
    if experiment.seeds:  # Tune expands the seeds innermost: a variant's seeds run one after another
        space["seed"] = tune.grid_search(list(experiment.seeds))
    for key, axis in experiment.search.space.items() if experiment.search else ():
        if axis.kind == "grid":
            space[key] = tune.grid_search(list(axis.values))
        elif axis.kind == "choice":
            space[key] = tune.choice(list(axis.values))
        else:
            space[key] = getattr(tune, axis.kind)(*axis.values)
    return space


def scheduler(experiment: Experiment):
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, MedianStoppingRule

    spec = experiment.scheduler
    if spec.type == "asha":
        return ASHAScheduler(
            time_attr=spec.time_attr,
            grace_period=spec.grace_period,
            max_t=spec.max_t,
            reduction_factor=spec.reduction_factor,
        )
    if spec.type == "median":
        return MedianStoppingRule(
            time_attr=spec.time_attr, grace_period=spec.grace_period, min_samples_required=spec.min_samples
        )
    return FIFOScheduler()


def search_algorithm(experiment: Experiment):
    from ray.tune.search import BasicVariantGenerator

    search = experiment.search
    if search is not None and search.algorithm == "optuna":
        try:
            import optuna
            from ray.tune.search.optuna import OptunaSearch
        except ImportError:
            raise ExperimentError("search.algorithm optuna needs Optuna: pip install 'pii-factory[optuna]'") from None
        return OptunaSearch(sampler=optuna.samplers.TPESampler(seed=search.seed))
    return BasicVariantGenerator(random_state=search.seed if search else None)


def loggers(experiment: Experiment) -> list:
    """Tune's JSON and CSV results always; TensorBoard and MLflow as the experiment asks."""
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback, TBXLoggerCallback

    callbacks: list = [JsonLoggerCallback(), CSVLoggerCallback()]
    if "tensorboard" in experiment.loggers:
        callbacks.append(TBXLoggerCallback())
    if "mlflow" in experiment.loggers:
        try:
            import mlflow  # noqa: F401
            from ray.air.integrations.mlflow import MLflowLoggerCallback
        except ImportError:
            raise ExperimentError("loggers: mlflow needs MLflow installed (pip install mlflow)") from None
        callbacks.append(MLflowLoggerCallback(experiment_name=experiment.name))
    return callbacks


def _dirname(experiment: Experiment, trial) -> str:
    return f"tune_{trial_label(experiment, trial.config, trial.trial_id)}"


def pin_experiment_file(path: Path, exp_dir: Path) -> None:
    """The first run copies the experiment file into its folder; a rerun must use the same file."""
    from piifactory.io import atomic_write_text

    text = path.read_text(encoding="utf-8")
    pinned = exp_dir / PINNED_FILE
    if pinned.exists() and pinned.read_text(encoding="utf-8") != text:
        raise ExperimentError(
            f"{path}: changed since this experiment started ({pinned}); resuming would mix two "
            "experiments: give it a new name, or remove the folder to start over"
        )
    if not pinned.exists():
        atomic_write_text(pinned, text)


def init_ray(address: str | None, num_cpus: float | None, num_gpus: float | None) -> None:
    import ray

    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, log_to_driver=False)


def run(
    path: str | Path,
    *,
    storage: str | Path = "outputs/experiments",
    address: str | None = None,
    num_cpus: float | None = None,
    num_gpus: float | None = None,
    workdir: str | Path | None = None,
) -> Path:
    """Run (or resume) the experiment, then write its report; returns the experiment folder."""
    path = Path(path)
    workdir = Path(workdir or os.getcwd()).resolve()
    experiment = load_experiment(path)
    check_recipes(experiment, workdir)
    exp_dir = (workdir / storage / experiment.name).resolve()
    pin_experiment_file(path, exp_dir)
    prepare(experiment.prepare, workdir, exp_dir)
    plan = TrialPlan(experiment, workdir, exp_dir / "runs")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # loggers() chooses them
    init_ray(address, num_cpus, num_gpus)
    try:
        tune_and_report(plan, exp_dir)
    finally:
        import ray

        ray.shutdown()
    return exp_dir


def report_only(path: str | Path, *, storage: str | Path = "outputs/experiments") -> Path:
    """The report again from the trial folders (a local Ray runs the comparison's predictions)."""
    from workflows.experiments.report import write_report

    workdir = Path(os.getcwd()).resolve()
    experiment = load_experiment(path)
    exp_dir = (workdir / storage / experiment.name).resolve()
    if not (exp_dir / "runs").is_dir():
        raise ExperimentError(f"no trials in {exp_dir}: run the experiment first")
    init_ray(None, None, None)
    try:
        print(f"report: {write_report(TrialPlan(experiment, workdir, exp_dir / 'runs'), exp_dir / 'report')}")
    finally:
        import ray

        ray.shutdown()
    return exp_dir


def tune_and_report(plan: TrialPlan, exp_dir: Path) -> None:
    from ray import tune

    from workflows.experiments.progress import Progress
    from workflows.experiments.report import write_report
    from workflows.experiments.trial import LlamaFactoryTrial

    experiment = plan.experiment
    resources = {"cpu": experiment.resources.cpus, "gpu": experiment.resources.gpus}
    trainable = tune.with_resources(tune.with_parameters(LlamaFactoryTrial, plan=plan), resources)
    if tune.Tuner.can_restore(str(exp_dir)):
        print(
            f"resuming {exp_dir}: finished trials are kept, unfinished ones continue from their last checkpoint",
            flush=True,
        )
        tuner = tune.Tuner.restore(str(exp_dir), trainable, resume_unfinished=True, resume_errored=True)
    else:
        tuner = tune.Tuner(
            trainable,
            param_space=param_space(experiment),
            tune_config=tune.TuneConfig(
                metric=experiment.metric_key,
                mode=experiment.metric_mode,
                scheduler=scheduler(experiment),
                search_alg=search_algorithm(experiment),
                num_samples=experiment.search.samples if experiment.search else 1,
                max_concurrent_trials=experiment.max_concurrent,
                trial_dirname_creator=functools.partial(_dirname, experiment),
            ),
            run_config=tune.RunConfig(
                name=experiment.name,
                storage_path=str(exp_dir.parent),
                verbose=0,
                callbacks=[Progress(plan), *loggers(experiment)],
                checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False),
                failure_config=tune.FailureConfig(max_failures=0, fail_fast=False),
            ),
        )
    tuner.fit()
    report = write_report(plan, exp_dir / "report")
    print(f"report: {report}", flush=True)
