"""The recipe's ``pii_factory:`` block: one pydantic model, validated before the model loads.

Unknown and ill-typed keys fail with their dotted name (``pii_factory.focal_loss.gama``) so a typo
never silently trains with defaults.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# The focal loss upcasts the logits to fp32 in checkpointed chunks of at most this many bytes
# (plugins.focal_loss); the preflight's memory estimate counts the same chunks.
FOCAL_CHUNK_BYTES = 256 * 2**20


class FocalLossOptions(_Strict):
    """FL = -alpha * (1 - p_t)^gamma * log p_t, times entity_token_weight on entity-value tokens."""

    gamma: float = Field(2.0, ge=0.0)
    alpha: float = Field(1.0, gt=0.0)
    entity_token_weight: float = Field(1.0, gt=0.0)


class EntityMetricsOptions(_Strict):
    """Greedy generation on a fixed seeded subset of the eval set at every evaluation."""

    enabled: bool = True
    eval_samples: int = Field(200, ge=1)
    seed: int = 0
    batch_size: int = Field(16, ge=1)
    max_new_tokens: int | None = Field(None, ge=1)  # None: longest gold answer in the subset + margin
    values: Literal["copy", "free"] = "copy"  # copy: values constrained to input text, as eval.predict does
    structure: bool = True  # with copy values: the whole answer held to the format (eval.structure), as predict does
    operating_point: str | None = None  # op.json of eval.calibrate: metrics at its recall bias and score thresholds
    save_predictions: bool = True


class PreflightOptions(_Strict):
    """``plugins.preflight`` at the start of training: ``warn`` prints its findings, ``error``
    also stops the run on an error finding, ``off`` skips it."""

    mode: Literal["off", "warn", "error"] = "warn"
    gpu_mem_gb: float | None = Field(None, gt=0.0)


class PiiFactoryOptions(_Strict):
    """A sub-block that is absent is off (the preflight excepted: it warns unless ``mode: off``);
    ``{}`` (or ``null``) turns it on with the defaults."""

    focal_loss: FocalLossOptions | None = None
    entity_metrics: EntityMetricsOptions | None = None
    preflight: PreflightOptions = PreflightOptions()


class OptionsError(PiiFactoryError, ValueError):
    """A bad ``pii_factory:`` block; the message names every offending key."""


def parse_options(raw: Any) -> PiiFactoryOptions:
    """Validate the block; ``null`` sub-blocks mean "on with defaults" (YAML ``focal_loss:``)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise OptionsError(f"{BLOCK_KEY}: expected a mapping, got {type(raw).__name__}")
    filled = {key: ({} if value is None and key in PiiFactoryOptions.model_fields else value) for key, value in raw.items()}
    try:
        return PiiFactoryOptions.model_validate(filled)
    except ValidationError as exc:
        problems = [
            f"{'.'.join([BLOCK_KEY, *map(str, err['loc'])])}: {err['msg']} (got {err.get('input')!r})"
            for err in exc.errors()
        ]
        raise OptionsError("invalid pii_factory options:\n  " + "\n  ".join(problems)) from None
