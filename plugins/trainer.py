"""The trainer subclass that carries the plugins into LLaMA-Factory's own SFT workflow.

``activation`` swaps it in for ``CustomSeq2SeqTrainer`` inside ``llamafactory.train.sft.workflow``
for the duration of one run, so everything else (data, template, callbacks, saving) stays stock.
The entity metrics are added inside ``evaluation_loop``: ``Trainer.evaluate`` then logs them
(trainer_log.jsonl, log_history, TensorBoard), hands them to ``on_evaluate`` (early stopping) and
returns them to ``_determine_best_metric`` (best checkpoint), all from one dict.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from plugins.entity_metrics.evaluator import METRIC_NAMES, EntityEvaluator, write_predictions
from plugins.focal_loss import ValueTokenWeigher, make_loss_func
from plugins.options import PiiFactoryOptions


def plugin_trainer_class(base: type, options: PiiFactoryOptions) -> type:
    """A subclass of LLaMA-Factory's SFT trainer with the options baked in."""

    class PiiFactoryTrainer(base):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            tokenizer = self.processing_class
            focal = options.focal_loss
            if focal is not None:
                weigher = ValueTokenWeigher(tokenizer, focal.entity_token_weight) if focal.entity_token_weight != 1.0 else None
                self.compute_loss_func = make_loss_func(focal.gamma, focal.alpha, weigher)
            metrics = options.entity_metrics
            self.entity_evaluator: EntityEvaluator | None = None
            if metrics is not None and metrics.enabled:
                # LLaMA-Factory's EOS list (template stop words included); Seq2SeqTrainer.evaluate
                # overwrites _gen_kwargs later, so it is read now.
                stop_ids = self._gen_kwargs["eos_token_id"]
                self.entity_evaluator = EntityEvaluator(metrics, tokenizer, stop_ids)
                _add_entity_metrics_to_trainer_log(self)

        def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None, metric_key_prefix="eval"):
            output = super().evaluation_loop(
                dataloader, description, prediction_loss_only=prediction_loss_only,
                ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix,
            )
            if self.entity_evaluator is not None and metric_key_prefix.startswith("eval"):
                metrics, records = self.entity_evaluator.evaluate(self.model, metric_key_prefix, dataloader.dataset,
                                                                  sharded=_sharded_parameters(self))
                output.metrics.update({f"{metric_key_prefix}_{name}": value for name, value in metrics.items()})
                # every rank scores the same gathered answers; each says what it got (numbers only)
                _logger().info(f"entity metrics on rank {self.args.process_index}: {json.dumps(metrics, sort_keys=True)}")
                if options.entity_metrics.save_predictions and self.is_world_process_zero():
                    path = Path(self.args.output_dir) / "entity_eval" / f"{metric_key_prefix}-step{self.state.global_step}.jsonl"
                    write_predictions(path, records)
            return output

    return PiiFactoryTrainer


def _logger():
    from llamafactory.extras.logging import get_logger

    return get_logger("llamafactory.pii_factory")


def _add_entity_metrics_to_trainer_log(trainer) -> None:
    """LLaMA-Factory's LogCallback writes a fixed set of keys to trainer_log.jsonl; append ours to
    the same line (LLaMA-Board reads that file, so no lines of a different shape are added)."""
    from llamafactory.train.callbacks import LogCallback

    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, LogCallback):
            callback.on_log = _with_entity_keys(callback)


def _with_entity_keys(callback):
    stock_on_log = callback.on_log
    stock_write = callback._write_log

    def on_log(args, state, control, **kwargs):
        latest = state.log_history[-1] if state.log_history else {}
        extra = {k: v for k, v in latest.items() if k.startswith("eval") and k.endswith(tuple(METRIC_NAMES))}
        # _write_log runs on LogCallback's thread pool: bind this line's extras now, not later
        callback._write_log = lambda output_dir, logs: stock_write(output_dir, {**logs, **extra})
        try:
            stock_on_log(args, state, control, **kwargs)
        finally:
            callback._write_log = stock_write

    return on_log


def _sharded_parameters(trainer) -> bool:
    """Whether each rank holds only a shard of the weights, so generation must step all ranks."""
    from transformers.integrations import is_deepspeed_zero3_enabled

    return is_deepspeed_zero3_enabled() or trainer.is_fsdp_enabled
