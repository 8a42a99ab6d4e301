"""The terminal view of a running experiment, one line per trial event, and the record of
trials the scheduler stopped (Tune ends them without the trial knowing why)."""

from __future__ import annotations

import time
from typing import Any

from ray.tune import Callback

from workflows.experiments.trainer_log import STEP, TRAINER_LOG, LogTail
from workflows.experiments.trial import STOPPED, TrialPlan, read_outcome, trial_label, write_outcome

LIVE_EVERY_S = 20.0


class Progress(Callback):
    """Prints ``label  step n/N  metric value (best b @ step)  state``: at every evaluation, at
    every change of state, and between evaluations every LIVE_EVERY_S seconds from the trial's
    ``trainer_log.jsonl`` (training steps and loss)."""

    def __init__(self, plan: TrialPlan) -> None:
        self.plan = plan
        self.key, self.mode = plan.experiment.metric_key, plan.experiment.metric_mode
        self.best: dict[str, tuple[float, int]] = {}
        self.tails: dict[str, LogTail] = {}
        self.last_live: dict[str, float] = {}

    def _label(self, trial: Any) -> str:
        return trial_label(self.plan.experiment, trial.config, trial.trial_id)

    def _print(self, label: str, text: str) -> None:
        width = max([len(label), *map(len, self.best), 8])
        print(f"[{time.strftime('%H:%M:%S')}] {label:<{width}}  {text}", flush=True)

    def _best_text(self, label: str) -> str:
        if label not in self.best:
            return ""
        value, step = self.best[label]
        return f"(best {value:.4g} @ {step})"

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._print(self._label(trial), f"running  {self.plan.runs_dir / self._label(trial)}")

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        label = self._label(trial)
        if self.key not in result or result.get("done"):
            return
        value, step = float(result[self.key]), int(result["step"])
        previous = self.best.get(label)
        if previous is None or (value > previous[0] if self.mode == "max" else value < previous[0]):
            self.best[label] = (value, step)
        total = f"/{result['total_steps']}" if result.get("total_steps") else ""
        self._print(
            label,
            f"step {step}{total}  epoch {result['epoch']:.2f}  {self.key} {value:.4g} {self._best_text(label)}  evaluated",
        )
        self.last_live[label] = time.monotonic()

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        label = self._label(trial)
        run_dir = self.plan.runs_dir / label
        outcome = read_outcome(run_dir)
        if outcome is None:  # the trial did not finish by itself: the scheduler stopped it
            write_outcome(run_dir, STOPPED, at_step=(trial.last_result or {}).get("step"))
            outcome = read_outcome(run_dir)
        last = trial.last_result or {}
        at = f"at step {last['step']} ({self.key} {last[self.key]:.4g}) " if self.key in last and "step" in last else ""
        self._print(label, f"{outcome['state']} {at}{self._best_text(label)}")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        label = self._label(trial)
        outcome = read_outcome(self.plan.runs_dir / label) or {}
        self._print(
            label,
            f"crashed ({outcome.get('reason', 'see the error above')}); "
            f"log: {self.plan.runs_dir / label / 'train.log'}",
        )

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        now = time.monotonic()
        for trial in trials:
            if trial.status != "RUNNING":
                continue
            label = self._label(trial)
            tail = self.tails.setdefault(label, LogTail(self.plan.runs_dir / label / TRAINER_LOG))
            entries = tail.read()
            if not entries or now - self.last_live.get(label, 0.0) < LIVE_EVERY_S:
                continue
            entry = entries[-1]
            loss = f"  loss {entry['loss']:.4g}" if isinstance(entry.get("loss"), (int, float)) else ""
            self._print(
                label,
                f"step {entry[STEP]}/{entry.get('total_steps', '?')}{loss}  "
                f"{entry.get('elapsed_time', '')} elapsed  {self._best_text(label)}  training",
            )
            self.last_live[label] = now
