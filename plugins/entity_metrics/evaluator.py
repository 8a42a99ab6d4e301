"""Generate on a fixed seeded eval subset, score with the pack's scorer, return the metrics.

Prompts are the tokenized eval rows cut at their first supervised label, so they are exactly
what training rendered (same template, system prompt, thinking setting, cutoff). Under DDP each
rank generates an interleaved shard with the unwrapped model and the texts are all-gathered, so
every rank scores the same list and gets the same numbers; there is no rank-0-only collective.
With sharded parameters (DeepSpeed ZeRO-3, FSDP) every forward pass is a collective: the ranks
step together (transformers' ``synced_gpus``) and each gets the same number of prompts (the short
shards repeat a prompt whose answer is dropped), so no rank waits on a forward another never runs.
FSDP2 (``fsdp_config: {version: 2}``) gathers each layer inside its forward, so ``generate`` runs on
the model as it is (tested with 2 processes on CPU); FSDP1's root unit holds the embeddings sharded
outside its own forward, so there the full parameters are gathered for the pass, as transformers'
``Seq2SeqTrainer`` does (accelerate runs FSDP1 on GPUs only: not tested here).

With ``operating_point`` (an ``eval.calibrate`` file) the model generates with its recall bias and
the answers keep only the entities at or above its thresholds, so the metrics, and the
``metric_for_best_model`` that picks the checkpoint, are those of what will be served.
"""

from __future__ import annotations

import contextlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.distributed as dist
from llamafactory.extras.constants import IGNORE_INDEX

from eval.decoding.dial import OperatingPoint, apply_point, read_point
from eval.decoding.generation import Answer, generate_answers
from eval.decoding.structure import budget_reserve
from eval.scoring.scorer import score_generations
from piifactory.errors import UsageError
from piifactory.io import atomic_write_lines
from piifactory.schema import input_text
from plugins.options import METRIC_NAMES, EntityMetricsOptions


@dataclass(frozen=True)
class EvalSubset:
    """The fixed rows of one eval dataset: indices, prompt ids, input text and gold target."""

    indices: list[int]
    prompts: list[list[int]]
    texts: list[str]
    gold: list[str]
    max_new_tokens: int


def _split_row(input_ids: Sequence[int], labels: Sequence[int]) -> tuple[list[int], list[int]]:
    """(prompt ids up to the first supervised label, supervised target ids)."""
    first = next((i for i, label in enumerate(labels) if label != IGNORE_INDEX), len(labels))
    return list(input_ids[:first]), [label for label in labels[first:] if label != IGNORE_INDEX]


class EntityEvaluator:
    """Holds the subset per eval dataset (picked once) and computes the metrics each time."""

    def __init__(self, options: EntityMetricsOptions, tokenizer, stop_token_ids: Sequence[int]) -> None:
        self.options = options
        self.tokenizer = tokenizer
        self.stop_token_ids = list(stop_token_ids)
        self.structured = options.values == "copy" and options.structure
        self.point = read_point(options.operating_point) if options.operating_point else OperatingPoint()
        if (self.point.recall_bias or self.point.filters) and not self.structured:
            raise UsageError("pii_factory.entity_metrics.operating_point needs values: copy and structure: true")
        self._subsets: dict[str, EvalSubset] = {}

    def subset(self, key: str, dataset) -> EvalSubset:
        if key not in self._subsets:
            count = min(self.options.eval_samples, len(dataset))
            indices = sorted(random.Random(self.options.seed).sample(range(len(dataset)), count))
            prompts, texts, gold, longest = [], [], [], 0
            for index in indices:
                row = dataset[index]
                prompt, target = _split_row(row["input_ids"], row["labels"])
                prompts.append(prompt)
                texts.append(input_text(self.tokenizer.decode(prompt, skip_special_tokens=True)))
                gold.append(self.tokenizer.decode(target, skip_special_tokens=True).strip())
                longest = max(longest, len(target))
            reserve = budget_reserve(self.tokenizer) if self.structured else 0  # room to close any answer
            max_new = self.options.max_new_tokens or longest + max(8, longest // 4) + reserve
            self._subsets[key] = EvalSubset(indices, prompts, texts, gold, max_new)
        return self._subsets[key]

    def evaluate(
        self, model: torch.nn.Module, key: str, dataset, *, sharded: bool = False
    ) -> tuple[dict[str, float], list[dict[str, Any]]]:
        """(metrics without prefix, one record per sample for the predictions file); ``sharded``:
        the model's parameters are split across the ranks (ZeRO-3, FSDP)."""
        subset = self.subset(key, dataset)
        rank, world = (
            (dist.get_rank(), dist.get_world_size()) if dist.is_available() and dist.is_initialized() else (0, 1)
        )
        synced = sharded and world > 1
        mine = list(range(rank, len(subset.prompts), world))
        run = mine
        if synced:  # the same number of prompts (so of batches) on every rank; the repeats are dropped
            share = -(-len(subset.prompts) // world)
            run = mine + [mine[0] if mine else 0] * (share - len(mine))
        with _full_parameters_under_fsdp1(model):
            answers = generate_answers(
                model,
                self.tokenizer,
                [subset.prompts[i] for i in run],
                max_new_tokens=subset.max_new_tokens,
                stop_token_ids=self.stop_token_ids,
                batch_size=self.options.batch_size,
                sources=[subset.texts[i] for i in run] if self.options.values == "copy" else None,
                structure=self.structured,
                recall_bias=self.point.recall_bias,
                synced_gpus=synced,
            )[: len(mine)]
        served = [self._served(answer, subset.texts[i]) for i, answer in zip(mine, answers)]
        predictions = [("", "")] * len(subset.prompts)
        shards: list[list[tuple[int, tuple[str, str]]]] = [list(zip(mine, served))]
        if world > 1:
            shards = [[] for _ in range(world)]
            dist.all_gather_object(shards, list(zip(mine, served)))
        for shard in shards:
            for index, pair in shard:
                predictions[index] = pair
        report = score_generations(subset.texts, subset.gold, [prediction for prediction, _ in predictions])
        metrics = {name: float(report[section][field]) for name, (section, field) in METRIC_NAMES.items()}
        records = [
            {"index": index, "gold": gold, "prediction": prediction, **({"raw": raw} if raw != prediction else {})}
            for index, gold, (prediction, raw) in zip(subset.indices, subset.gold, predictions)
        ]
        return metrics, records

    def _served(self, answer: Answer, text: str) -> tuple[str, str]:
        """(the answer at the operating point, the model's whole answer)."""
        if answer.scores is None or not self.point.filters:
            return answer.text, answer.text
        return apply_point(answer.text, [s.to_dict() for s in answer.scores], self.point, text), answer.text


def _full_parameters_under_fsdp1(model: torch.nn.Module):
    """FSDP1's wrapper: gather the full parameters for generation (read only); else nothing."""
    if dist.is_available():
        from torch.distributed.fsdp import FullyShardedDataParallel

        if isinstance(model, FullyShardedDataParallel):
            return FullyShardedDataParallel.summon_full_params(model, writeback=False)
    return contextlib.nullcontext()


def write_predictions(path: Path, records: list[dict[str, Any]]) -> None:
    """One JSON line per sample (eval row index, gold target, prediction as scored, and the model's
    whole answer as ``raw`` when score thresholds changed it); atomic."""
    atomic_write_lines(path, (json.dumps(record, ensure_ascii=False) for record in records))
