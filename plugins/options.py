"""The recipe's ``pii_factory:`` block: one pydantic model, validated before the model loads.

Unknown and ill-typed keys fail with their dotted name (``pii_factory.focal_loss.gama``) so a typo
never silently trains with defaults. Rules that need the rest of the recipe (the stage, the other
loss switches) are validators of the same model, given the recipe as validation context. Every
option carries its description; docs/plugins.md's options table is generated from them
(``python -m plugins.options_doc``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from piifactory.errors import PiiFactoryError

BLOCK_KEY = "pii_factory"  # the recipe key of the block; everything that reads or strips it imports this
# The entity metrics the plugin adds to every evaluation (``eval_<name>``): metric name -> where it
# sits in score_generations' report. Here, not beside the evaluator, so that naming them (the
# experiment runner, recipes' metric_for_best_model, the preflight's check of it, trainer_log.jsonl)
# does not import torch.
METRIC_NAMES: dict[str, tuple[str, str]] = {
    "entity_precision": ("micro", "precision"),
    "entity_recall": ("micro", "recall"),
    "entity_f1": ("micro", "f1"),
    "entity_f2": ("micro", "f2"),
    "parse_failure_rate": ("failures", "parse_failure_rate"),
}
# The focal loss upcasts the logits to fp32 in checkpointed chunks of at most this many bytes
# (plugins.focal_loss); the preflight's memory estimate counts the same chunks.
FOCAL_CHUNK_BYTES = 256 * 2**20
_EXCLUSIVE_LOSSES = ("use_dft_loss", "use_eaft_loss", "use_asft_loss")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FocalLossOptions(_Strict):
    """FL = -alpha * (1 - p_t)^gamma * log p_t, times entity_token_weight on entity-value tokens."""

    gamma: float = Field(2.0, ge=0.0, description="focusing exponent; 0 (with the weights at 1) is the stock loss")
    alpha: float = Field(1.0, gt=0.0, description="scales the whole loss")
    entity_token_weight: float = Field(
        1.0, gt=0.0, description="extra weight on the tokens that spell entity values (not keys, types or quotes)"
    )
    skip_prompt_logits: bool = Field(
        True,
        description="compute logits only from the first position a label needs (`logits_to_keep`): same loss, "
        "less memory and time; off for a model whose forward ignores it",
    )


class EntityMetricsOptions(_Strict):
    """Greedy generation on a fixed seeded subset of the eval set at every evaluation."""

    enabled: bool = Field(True, description="generate and score at every evaluation")
    eval_samples: int = Field(200, ge=1, description="size of the fixed eval subset (all of it when smaller)")
    seed: int = Field(0, description="picks the subset; the same rows at every evaluation")
    batch_size: int = Field(16, ge=1, description="generation batch per process")
    max_new_tokens: int | None = Field(
        None,
        ge=1,
        description="null: the longest gold answer in the subset + max(8, 25%) (+ room to close, with structure)",
    )
    values: Literal["copy", "free"] = Field(
        "copy",
        description="copy: values constrained to text of the input, as `eval.predict --values` (docs/eval.md); "
        "free: plain greedy",
    )
    structure: bool = Field(
        True,
        description="with copy: the whole answer held to the format (eval.decoding.structure), as `eval.predict` does",
    )
    operating_point: str | None = Field(
        None, description="op.json of `eval.calibrate`: metrics at its recall bias and score thresholds"
    )
    save_predictions: bool = Field(True, description="write `<output_dir>/entity_eval/eval-step<N>.jsonl`")


class PreflightOptions(_Strict):
    """``plugins.preflight`` at the start of training."""

    mode: Literal["off", "warn", "error"] = Field(
        "warn", description="warn prints the findings, error also stops the run on an error finding, off skips it"
    )
    gpu_mem_gb: float | None = Field(
        None, gt=0.0, description="card memory in GiB for the memory check (null: not checked)"
    )


class PiiFactoryOptions(_Strict):
    """A sub-block that is absent is off (the preflight excepted: it warns unless ``mode: off``);
    ``{}`` (or ``null``) turns it on with the defaults."""

    focal_loss: FocalLossOptions | None = Field(None, description="absent: LLaMA-Factory's loss")
    entity_metrics: EntityMetricsOptions | None = Field(None, description="absent: no generation during evaluation")
    preflight: PreflightOptions = Field(PreflightOptions(), description="absent: runs with mode warn")

    @model_validator(mode="after")
    def _fits_the_recipe(self, info: ValidationInfo) -> PiiFactoryOptions:
        """What the plugins cannot honour in this recipe (given as context ``recipe``)."""
        recipe = (info.context or {}).get("recipe")
        if recipe is not None:
            problem = combination_problem(recipe, self)
            if problem:
                raise ValueError(problem)
        return self


def flag_on(value: Any) -> bool:
    """A recipe switch as LLaMA-Factory reads it (``true`` in YAML, ``"true"`` from the command line)."""
    return value is True or str(value).lower() == "true"


def combination_problem(recipe: dict[str, Any], options: PiiFactoryOptions) -> str | None:
    """Why these options cannot run with the rest of ``recipe``, or None."""
    if recipe.get("stage", "sft") != "sft":
        return f"{BLOCK_KEY}: the plugins apply to `stage: sft`, not {recipe.get('stage')!r}"
    if flag_on(recipe.get("use_ray")):
        return f"{BLOCK_KEY}: Ray workers are not covered by the plugins; drop `use_ray`"
    if options.focal_loss is not None:
        clashing = [key for key in _EXCLUSIVE_LOSSES if flag_on(recipe.get(key))]
        if clashing:
            return f"{BLOCK_KEY}.focal_loss cannot be combined with {', '.join(clashing)}"
    if (
        options.entity_metrics is not None
        and options.entity_metrics.enabled
        and flag_on(recipe.get("predict_with_generate"))
    ):
        return f"{BLOCK_KEY}.entity_metrics replaces `predict_with_generate` during training; set one of them"
    packed = [key for key in ("packing", "neat_packing") if flag_on(recipe.get(key))]
    if options.entity_metrics is not None and options.entity_metrics.enabled and packed:
        # LLaMA-Factory packs the evaluation rows too: a row would hold several samples' answers.
        return (
            f"{BLOCK_KEY}.entity_metrics scores one sample per evaluation row, and `{packed[0]}` joins rows; "
            "turn packing off or set entity_metrics.enabled: false"
        )
    return None


class OptionsError(PiiFactoryError, ValueError):
    """A bad ``pii_factory:`` block; the message names every offending key."""


def parse_options(raw: Any, recipe: dict[str, Any] | None = None) -> PiiFactoryOptions:
    """Validate the block (against the rest of ``recipe`` when given); ``null`` sub-blocks mean
    "on with defaults" (YAML ``focal_loss:``)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise OptionsError(f"{BLOCK_KEY}: expected a mapping, got {type(raw).__name__}")
    filled = {
        key: ({} if value is None and key in PiiFactoryOptions.model_fields else value) for key, value in raw.items()
    }
    try:
        return PiiFactoryOptions.model_validate(filled, context={"recipe": recipe})
    except ValidationError as exc:
        problems = [_describe(err) for err in exc.errors()]
        if len(problems) == 1 and not exc.errors()[0]["loc"]:
            raise OptionsError(problems[0]) from None
        raise OptionsError(f"invalid {BLOCK_KEY} options:\n  " + "\n  ".join(problems)) from None


def _describe(err: dict[str, Any]) -> str:
    if not err["loc"] and err["type"] == "value_error":  # a rule about the whole block: its own message
        return str(err["ctx"]["error"])
    return f"{'.'.join([BLOCK_KEY, *map(str, err['loc'])])}: {err['msg']} (got {err.get('input')!r})"
