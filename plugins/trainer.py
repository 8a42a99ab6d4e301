"""The trainer subclass that carries the plugins into LLaMA-Factory's own SFT workflow.

``activation`` swaps it in for ``CustomSeq2SeqTrainer`` inside ``llamafactory.train.sft.workflow``
for the duration of one run, so everything else (data, template, callbacks, saving) stays stock.
The entity metrics are added inside ``evaluation_loop``: ``Trainer.evaluate`` then logs them
(log_history, TensorBoard, and trainer_log.jsonl through :class:`EntityMetricsLog`), hands them
to ``on_evaluate`` (early stopping) and returns them to the best-checkpoint bookkeeping, all from
one dict.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

from llamafactory.extras.constants import TRAINER_LOG
from llamafactory.train.callbacks import LogCallback
from transformers import TrainerCallback

from piifactory import lf_compat
from plugins.entity_metrics.evaluator import EntityEvaluator, write_predictions
from plugins.focal_loss import ValueTokenWeigher, answer_window, make_loss_func
from plugins.options import METRIC_NAMES, PiiFactoryOptions


def plugin_trainer_class(base: type, options: PiiFactoryOptions) -> type:
    """A subclass of LLaMA-Factory's SFT trainer with the options baked in."""

    class PiiFactoryTrainer(base):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            tokenizer = self.processing_class
            focal = options.focal_loss
            if focal is not None:
                weigher = (
                    ValueTokenWeigher(tokenizer, focal.entity_token_weight)
                    if focal.entity_token_weight != 1.0
                    else None
                )
                self.compute_loss_func = make_loss_func(focal.gamma, focal.alpha, weigher)
            self.skips_prompt_logits = (
                focal is not None and focal.skip_prompt_logits and _accepts_logits_to_keep(self.model)
            )
            metrics = options.entity_metrics
            self.entity_evaluator: EntityEvaluator | None = None
            if metrics is not None and metrics.enabled:
                stop_ids = lf_compat.stop_token_ids(kwargs)
                self.entity_evaluator = EntityEvaluator(metrics, tokenizer, stop_ids)
                _log_entity_metrics_before(self, LogCallback)

        def compute_loss(self, model, inputs, *args: Any, **kwargs: Any):
            """The focal loss reads no logit of a position that is prompt in every row: the forward
            skips them (``logits_to_keep``), and the labels are cut to match."""
            return_outputs = kwargs.get("return_outputs", bool(args and args[0]))
            if self.skips_prompt_logits and not return_outputs and "labels" in inputs:
                labels = inputs["labels"]
                start = answer_window(labels)
                if start:
                    inputs = {**inputs, "labels": labels[:, start:], "logits_to_keep": labels.size(1) - start}
            return super().compute_loss(model, inputs, *args, **kwargs)

        def evaluation_loop(
            self, dataloader, description, prediction_loss_only=None, ignore_keys=None, metric_key_prefix="eval"
        ):
            output = super().evaluation_loop(
                dataloader,
                description,
                prediction_loss_only=prediction_loss_only,
                ignore_keys=ignore_keys,
                metric_key_prefix=metric_key_prefix,
            )
            if self.entity_evaluator is not None and metric_key_prefix.startswith("eval"):
                # under the run's mixed precision, as the Trainer's own forwards: accelerate wraps
                # only the outer (PEFT) model's forward, and generate reaches the inner one, where
                # upcast_layernorm's fp32 norms would feed the 16-bit lm_head fp32 hidden states
                with self.accelerator.autocast():
                    metrics, records = self.entity_evaluator.evaluate(
                        self.model, metric_key_prefix, dataloader.dataset, sharded=_sharded_parameters(self)
                    )
                output.metrics.update({f"{metric_key_prefix}_{name}": value for name, value in metrics.items()})
                # every rank scores the same gathered answers; each says what it got (numbers only)
                _logger().info(
                    f"entity metrics on rank {self.args.process_index}: {json.dumps(metrics, sort_keys=True)}"
                )
                if options.entity_metrics.save_predictions and self.is_world_process_zero():
                    path = (
                        Path(self.args.output_dir)
                        / "entity_eval"
                        / f"{metric_key_prefix}-step{self.state.global_step}.jsonl"
                    )
                    write_predictions(path, records)
            return output

    return PiiFactoryTrainer


def _accepts_logits_to_keep(model) -> bool:
    """Whether the causal LM under any PEFT wrapper takes ``logits_to_keep`` (transformers' own do)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(base.forward).parameters


def _logger():
    from llamafactory.extras.logging import get_logger

    return get_logger("llamafactory.pii_factory")


class EntityMetricsLog(TrainerCallback):
    """Writes each evaluation's entity metrics to ``trainer_log.jsonl`` as their own line.

    LLaMA-Factory's LogCallback writes a fixed set of keys per log event (on its thread pool).
    This callback runs just before it, so its line (``current_steps`` plus the metrics) lands just
    before LogCallback's evaluation line, and the file's last line stays LogCallback's, which is
    the one LLaMA-Board reads its progress from. Only while training, on the saving process, as
    LogCallback itself writes.
    """

    def __init__(self) -> None:
        self.training = False

    def on_train_begin(self, args, state, control, **kwargs) -> None:
        self.training = True

    def on_train_end(self, args, state, control, **kwargs) -> None:
        self.training = False

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:
        extra = {k: v for k, v in (logs or {}).items() if k.startswith("eval") and k.endswith(tuple(METRIC_NAMES))}
        if extra and self.training and args.should_save:
            with open(Path(args.output_dir) / TRAINER_LOG, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"current_steps": state.global_step, **extra}) + "\n")


def _log_entity_metrics_before(trainer, log_callback: type) -> None:
    """Insert :class:`EntityMetricsLog` just before LLaMA-Factory's LogCallback (or last)."""
    callbacks = trainer.callback_handler.callbacks
    where = next((i for i, cb in enumerate(callbacks) if isinstance(cb, log_callback)), len(callbacks))
    callbacks.insert(where, EntityMetricsLog())


def _sharded_parameters(trainer) -> bool:
    """Whether each rank holds only a shard of the weights, so generation must step all ranks."""
    from transformers.integrations import is_deepspeed_zero3_enabled

    return is_deepspeed_zero3_enabled() or trainer.is_fsdp_enabled
