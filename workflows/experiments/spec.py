"""The experiment file: a base recipe plus variants or a search space, the metric, resources per
trial, the early-stopping scheduler and what the report compares. One pydantic model, read once.

Every path in it is relative to the folder the command runs in, as for ``llamafactory-cli``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from piifactory.errors import PiiFactoryError, UsageError
from piifactory.io import InputError
from piifactory.recipe_file import apply_overrides, read_recipe, read_yaml
from plugins.options import BLOCK_KEY, METRIC_NAMES

# What a trial can be judged by: the plugin's entity metrics (``eval_<name>`` in trainer_log.jsonl)
# and the evaluation loss.
METRICS = (*METRIC_NAMES, "loss")
LOWER_IS_BETTER = ("loss", "parse_failure_rate")
# Keys the runner sets on every trial; an experiment may not set them.
RUNNER_KEYS = ("output_dir", "overwrite_output_dir", "resume_from_checkpoint")


class ExperimentError(PiiFactoryError):
    """An experiment file that cannot run as written."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Overrides = dict[str, Any]


class Variant(_Strict):
    """One arm of an A/B (or A/B/C) comparison: a name, optionally its own recipe, and overrides."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="folder-safe label, e.g. A, focal_g2")
    recipe: str | None = Field(None, description="this arm's recipe instead of the experiment's")
    overrides: Overrides = Field(default_factory=dict, description="recipe keys, dotted for nested blocks")


Distribution = Literal["grid", "choice", "uniform", "loguniform", "randint"]


class Axis(_Strict):
    """One searched key: exactly one of ``grid: [...]``, ``choice: [...]``, ``uniform: [lo, hi]``,
    ``loguniform: [lo, hi]`` or ``randint: [lo, hi)``."""

    grid: list[Any] | None = None
    choice: list[Any] | None = None
    uniform: tuple[float, float] | None = None
    loguniform: tuple[float, float] | None = None
    randint: tuple[int, int] | None = None

    @model_validator(mode="after")
    def _one(self) -> Axis:
        if len(self.model_fields_set) != 1:
            raise ValueError("give exactly one of grid, choice, uniform, loguniform, randint")
        return self

    @property
    def kind(self) -> Distribution:
        (kind,) = self.model_fields_set
        return kind  # type: ignore[return-value]

    @property
    def values(self) -> Any:
        return getattr(self, self.kind)


class Search(_Strict):
    """A search space. ``grid`` runs every combination of ``grid`` axes; ``random`` draws ``samples``
    configurations (grid axes still expanded); ``optuna`` lets Optuna's TPE sampler pick them."""

    algorithm: Literal["grid", "random", "optuna"] = "random"
    samples: int = Field(1, ge=1, description="configurations drawn (per grid point for random)")
    seed: int | None = None
    space: dict[str, Axis] = Field(min_length=1)

    @model_validator(mode="after")
    def _fits_algorithm(self) -> Search:
        kinds = {key: axis.kind for key, axis in self.space.items()}
        if self.algorithm == "grid" and (sampled := [k for k, kind in kinds.items() if kind != "grid"]):
            raise ValueError(f"algorithm grid takes only grid axes; sampled: {', '.join(sampled)}")
        if self.algorithm == "optuna" and (grids := [k for k, kind in kinds.items() if kind == "grid"]):
            raise ValueError(f"Optuna samples every axis; use choice instead of grid for {', '.join(grids)}")
        return self


class Scheduler(_Strict):
    """Early stopping, fed at every evaluation. ``asha``: at each rung (grace_period,
    grace_period x reduction_factor, ...) a trial in the worse part is stopped; ``median``: a trial
    whose best value is worse than the median of the others' running means at the same time is
    stopped; ``none``: every trial runs to its end."""

    type: Literal["none", "asha", "median"] = "none"
    time_attr: Literal["epoch", "step"] = Field("epoch", description="the unit of grace_period and max_t")
    grace_period: float = Field(1.0, gt=0, description="no trial is stopped before this")
    max_t: float = Field(
        1e6, gt=0, description="asha: the longest a trial runs, in time_attr units (default: no limit)"
    )
    reduction_factor: float = Field(2.0, gt=1, description="asha: keep 1/reduction_factor at each rung")
    min_samples: int = Field(2, ge=1, description="median: other trials needed before judging one")


class Resources(_Strict):
    """Per trial. Ray gives each trial its GPUs (CUDA_VISIBLE_DEVICES); with more than one,
    LLaMA-Factory runs torchrun inside the trial."""

    cpus: float = Field(1.0, gt=0)
    gpus: float = Field(0.0, ge=0)

    @field_validator("gpus")
    @classmethod
    def _whole_above_one(cls, value: float) -> float:
        if value > 1 and not float(value).is_integer():
            raise ValueError("more than one GPU per trial must be a whole number (one torchrun process each)")
        return value


class PrepareStep(_Strict):
    """One command run once before any trial, in order (a rerun skips the steps that finished):
    the arguments of ``python -m piifactory.synth`` (``synth``), of ``python -m converters convert``
    (``convert``), or of ``llamafactory-cli train`` (``train``: a base model the trials start
    from, ``processes`` DDP processes of one thread each on a CPU machine)."""

    synth: list[str | int | float] | None = None
    convert: list[str | int | float] | None = None
    train: list[str | int | float] | None = None
    processes: int = Field(1, ge=1, description="train: torchrun processes (FORCE_TORCHRUN) when above 1")

    @model_validator(mode="after")
    def _one(self) -> PrepareStep:
        if len(self.model_fields_set - {"processes"}) != 1:
            raise ValueError("give exactly one of synth, convert, train")
        if "processes" in self.model_fields_set and self.train is None:
            raise ValueError("processes applies to a train step only")
        return self

    @property
    def tool(self) -> Literal["synth", "convert", "train"]:
        (tool,) = self.model_fields_set - {"processes"}
        return tool  # type: ignore[return-value]

    @property
    def args(self) -> list[str]:
        return [str(a) for a in getattr(self, self.tool)]


class Arm(_Strict):
    """One row of the study table: the models of a trained variant (every seed) predicted on the
    test split another way: another checkpoint, extra ``eval.predict`` flags, an operating point
    chosen on validation by ``eval.calibrate``. Needs no training of its own."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    variant: str = Field(description="the trained variant whose models it predicts with")
    checkpoint: Literal[METRICS] | None = Field(  # type: ignore[valid-type]
        None, description="the checkpoint of the best evaluation by this metric instead of the experiment's"
    )
    predict: list[str] = Field(default_factory=list, description="extra eval.predict flags, e.g. [--rules, both]")
    calibrate: list[str] | None = Field(
        None,
        description="eval.calibrate flags (e.g. [--dataset, VAL, --best, f2]): its operating point is "
        "passed to eval.predict as --operating-point",
    )


class Report(_Strict):
    """The comparison on the test split: predictions by ``eval.predict`` for two trials (``compare``,
    else the two variants of an A/B, else the two best), then ``eval.compare``'s paired bootstrap.
    With ``baseline``, a study instead: every variant and every arm against the baseline, seed by
    seed on the same test samples, pooled over the seeds."""

    dataset: str | None = Field(None, description="test split (dataset name or file); none: no comparison")
    compare: tuple[str, str] | None = Field(None, description="two trial labels (variant names)")
    limit: int | None = Field(None, ge=1, description="first N test samples only")
    batch_size: int = Field(8, ge=1)
    max_new_tokens: int = Field(512, ge=1)
    values: Literal["copy", "free"] = "copy"
    bootstrap: int = Field(1000, ge=100)
    baseline: str | None = Field(None, description="the variant every other variant and arm is compared with")
    arms: list[Arm] = Field(default_factory=list, description="prediction-only arms (need baseline)")


class Experiment(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    recipe: str = Field(description="the base recipe every trial starts from")
    overrides: Overrides = Field(default_factory=dict, description="applied to every trial")
    variants: list[Variant] = Field(default_factory=list)
    seeds: list[int] = Field(
        default_factory=list, description="every variant trained once per seed (the recipe's seed key)"
    )
    prepare: list[PrepareStep] = Field(
        default_factory=list, description="data and base models made once, in order, before the trials"
    )
    search: Search | None = None
    metric: Literal[METRICS] = "entity_f1"  # type: ignore[valid-type]
    mode: Literal["max", "min"] | None = Field(None, description="default: min for loss and parse_failure_rate")
    resources: Resources = Resources()
    max_concurrent: int | None = Field(None, ge=1, description="default: as many as the resources allow")
    scheduler: Scheduler = Scheduler()
    report: Report = Report()
    loggers: list[Literal["tensorboard", "mlflow"]] = Field(default_factory=lambda: ["tensorboard"])

    @model_validator(mode="after")
    def _checks(self) -> Experiment:
        if not self.variants and self.search is None:
            raise ValueError("give variants (an explicit list, e.g. A and B) or a search space, or both")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names repeat: {names}")
        keys = [
            *self.overrides,
            *(k for v in self.variants for k in v.overrides),
            *(self.search.space if self.search else ()),
        ]
        if taken := sorted({k for k in keys if k in RUNNER_KEYS}):
            raise ValueError(f"{', '.join(taken)}: set by the runner for each trial (runs/<trial>/, resumed there)")
        if self.report.compare and self.search is None and (unknown := set(self.report.compare) - set(names)):
            raise ValueError(f"report.compare names no variant: {', '.join(sorted(unknown))}")
        if self.seeds and self.search is not None:
            raise ValueError("seeds repeat the variants; with a search space, search the seed key instead")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds repeat: {self.seeds}")
        self._check_study(names)
        return self

    def _check_study(self, names: list[str]) -> None:
        report = self.report
        if report.arms and report.baseline is None:
            raise ValueError("report.arms are compared with report.baseline: name it")
        if report.baseline is None:
            return
        if self.search is not None:
            raise ValueError("report.baseline compares variants: a study has no search space")
        if report.baseline not in names:
            raise ValueError(f"report.baseline names no variant: {report.baseline}")
        arm_names = [a.name for a in report.arms]
        if clash := sorted(set(arm_names) & set(names) | {n for n in arm_names if arm_names.count(n) > 1}):
            raise ValueError(f"arm names repeat or clash with variant names: {', '.join(clash)}")
        if unknown := sorted({a.variant for a in report.arms} - set(names)):
            raise ValueError(f"report.arms name no variant: {', '.join(unknown)}")

    @property
    def metric_key(self) -> str:
        """The key in trainer_log.jsonl and in every result reported to Tune."""
        return f"eval_{self.metric}"

    @property
    def metric_mode(self) -> str:
        return self.mode or ("min" if self.metric in LOWER_IS_BETTER else "max")

    def variant(self, name: str | None) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)


def load_experiment(path: str | Path) -> Experiment:
    """The experiment file, validated; errors name the file and the key (and the line for YAML)."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise InputError(path, 1, "an experiment is a mapping of keys")
    data.setdefault("name", Path(path).stem)
    try:
        return Experiment.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'experiment'}: {e['msg']}" for e in exc.errors())
        raise InputError(path, None, problems) from None


def override_arg(key: str, value: Any) -> str:
    """``key=value`` as LLaMA-Factory's command line (OmegaConf) and the pack's recipe reader
    (YAML) both read it back as ``value``: strings are quoted (``no`` stays a string), floats keep
    a decimal point (YAML reads ``1e-05`` as a string, ``1.0e-05`` as a float)."""
    if isinstance(value, bool) or value is None:
        text = {True: "true", False: "false", None: "null"}[value]
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ExperimentError(f"{key}: {value} is not a usable value")
        text = repr(value)
        mantissa, e, exponent = text.partition("e")
        if e and "." not in mantissa:
            text = f"{mantissa}.0e{exponent}"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = "'" + value + "'" if "'" not in value else '"' + value + '"'
    else:
        raise ExperimentError(f"{key}: only numbers, strings, booleans and null can be overridden, got {value!r}")
    return f"{key}={text}"


def trial_overrides(experiment: Experiment, config: dict[str, Any]) -> list[str]:
    """The ``key=value`` arguments of one trial: the experiment's, the variant's, the searched values."""
    variant = experiment.variant(config.get("variant"))
    merged = {
        **experiment.overrides,
        **(variant.overrides if variant else {}),
        **{k: v for k, v in config.items() if k != "variant"},
    }
    return [override_arg(key, value) for key, value in merged.items()]


def trial_recipe_path(experiment: Experiment, config: dict[str, Any]) -> str:
    variant = experiment.variant(config.get("variant"))
    return variant.recipe if variant and variant.recipe else experiment.recipe


def check_recipes(experiment: Experiment, workdir: Path) -> None:
    """What would make every trial useless, found before Ray starts: an unreadable recipe, no
    evaluation to judge by, entity metrics without the plugin block, LLaMA-Factory's own Ray."""
    sample = {k: axis.values[0] for k, axis in (experiment.search.space.items() if experiment.search else ())}
    arms = [{"variant": v.name, **sample} for v in experiment.variants] or [sample]
    for config in arms:
        path = trial_recipe_path(experiment, config)
        try:
            recipe = apply_overrides(read_recipe(workdir / path), trial_overrides(experiment, config))
        except UsageError as exc:  # a bad override (the recipe file is not at fault)
            raise ExperimentError(str(exc)) from None
        where = f"{path} (variant {config['variant']})" if "variant" in config else path
        if str(recipe.get("eval_strategy", "no")).lower() in ("no", "false"):
            raise ExperimentError(
                f"{where}: eval_strategy is off; trials are judged at evaluations (set steps or epoch)"
            )
        if experiment.metric != "loss" and not _entity_metrics_on(recipe):
            raise ExperimentError(f"{where}: metric {experiment.metric} needs the {BLOCK_KEY}.entity_metrics block")
        if str(recipe.get("use_ray", False)).lower() == "true":
            raise ExperimentError(
                f"{where}: use_ray is LLaMA-Factory's own Ray training; the experiment runner "
                "already runs each trial on Ray; drop it"
            )


def _entity_metrics_on(recipe: dict[str, Any]) -> bool:
    """The block's ``entity_metrics`` key turns them on (``{}`` or empty: the defaults) unless
    ``enabled: false``."""
    block = recipe.get(BLOCK_KEY)
    if not isinstance(block, dict) or "entity_metrics" not in block:
        return False
    metrics = block["entity_metrics"]
    return not (isinstance(metrics, dict) and metrics.get("enabled") is False)
