"""Reading LLaMA-Factory's ``trainer_log.jsonl`` while a trial writes it: the one source of a
trial's steps and evaluations for Tune, the live progress lines and the report.

LLaMA-Factory writes one JSON line per log event (``current_steps``, ``total_steps``, ``loss``,
``eval_loss``, ``epoch``, ``elapsed_time``); the pack's plugin adds ``eval_entity_*`` to the lines
of evaluations.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from piifactory.io import atomic_write_lines

TRAINER_LOG = "trainer_log.jsonl"
STEP = "current_steps"


class LogTail:
    """The complete lines appended to a file since the last read (a line being written waits)."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path, self.offset = path, offset

    def read(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        self.offset += end
        entries = []
        for raw in data[:end].splitlines():
            try:
                entry = json.loads(raw)
            except json.JSONDecodeError:
                continue  # a line torn by a crash mid-write; LLaMA-Factory writes whole lines otherwise
            if isinstance(entry, dict) and STEP in entry:
                entries.append(entry)
        return entries


def read_log(output_dir: Path) -> list[dict[str, Any]]:
    return LogTail(output_dir / TRAINER_LOG).read()


def cut_log_at(output_dir: Path, step: int) -> list[dict[str, Any]]:
    """Keep the lines up to ``step`` (the checkpoint a resumed run starts from): the resumed run
    logs the later steps again, and the file should tell one history. Returns the kept lines."""
    path = output_dir / TRAINER_LOG
    entries = read_log(output_dir)
    kept = [e for e in entries if e[STEP] <= step]
    if len(kept) != len(entries):
        atomic_write_lines(path, (json.dumps(e, ensure_ascii=False) for e in kept))
    return kept


class EvaluationStream:
    """The results of evaluations from log lines fed in order, one per step: after training,
    LLaMA-Factory evaluates again at the last step (the best checkpoint when
    ``load_best_model_at_end`` is on); that line is not a point of the run's curve and is dropped.
    Each result has the step and epoch (the schedulers' clocks), every eval metric and the latest
    training loss."""

    def __init__(self, metric_key: str) -> None:
        self.metric_key = metric_key
        self.steps: set[int] = set()
        self.last_loss: float | None = None

    def feed(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        results = []
        for entry in entries:
            if isinstance(entry.get("loss"), (int, float)):
                self.last_loss = entry["loss"]
            if self.metric_key in entry and entry[STEP] not in self.steps:
                self.steps.add(entry[STEP])
                result = {k: v for k, v in entry.items() if k.startswith("eval_") and isinstance(v, (int, float))}
                result.update(
                    step=entry[STEP], epoch=float(entry.get("epoch", 0.0)), total_steps=entry.get("total_steps")
                )
                if self.last_loss is not None:
                    result["loss"] = self.last_loss
                results.append(result)
        return results


def evaluations(entries: list[dict[str, Any]], metric_key: str) -> list[dict[str, Any]]:
    return EvaluationStream(metric_key).feed(entries)
