"""One trial: the stock ``llamafactory-cli train RECIPE key=value ...`` in its own process and
output folder, its evaluations streamed from ``trainer_log.jsonl`` to Tune as they appear.

A trial's folder is ``<experiment>/runs/<label>/`` (LLaMA-Factory's ``output_dir``, its console
output in ``train.log``, the state in ``outcome.json``). It outlives the runner: a rerun finds a
finished or stopped trial there and only replays its evaluations to Tune; an unfinished one
continues from its last complete checkpoint.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ray import tune

from piifactory.errors import PiiFactoryError
from piifactory.io import atomic_write_text
from plugins.activation import last_complete_checkpoint
from workflows.experiments.spec import Experiment, override_arg, trial_overrides, trial_recipe_path
from workflows.experiments.trainer_log import TRAINER_LOG, EvaluationStream, LogTail, cut_log_at, read_log

OUTCOME = "outcome.json"
RECORD = "trial.json"
CONSOLE_LOG = "train.log"
FINISHED, STOPPED, CRASHED = "finished", "stopped early", "crashed"
POLL_S = 1.0
LOG_TAIL_LINES = 40

# Runs the command given after the parent's pid, and dies with that parent (Linux PDEATHSIG,
# kept across exec): a trial process must not outlive a runner that was killed with -9.
_EXEC_TIED_TO_PARENT = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)\n"  # PR_SET_PDEATHSIG
    "os.getppid() == int(sys.argv[1]) or sys.exit(137)\n"  # the parent died before prctl
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


class TrialFailed(PiiFactoryError):
    """The training process of a trial failed; the message ends with the tail of its log."""


@dataclass(frozen=True)
class TrialPlan:
    """What every trial of one experiment shares."""

    experiment: Experiment
    workdir: Path  # recipes, data and models are found relative to it, as for llamafactory-cli
    runs_dir: Path


def trial_label(experiment: Experiment, config: dict[str, Any], trial_id: str) -> str:
    """The variant's name for an A/B list (``<variant>-seed<N>`` with seeds); the trial id (after
    the variant, if any) for a search."""
    if experiment.search is None:
        return f"{config['variant']}-seed{config['seed']}" if experiment.seeds else config["variant"]
    return f"{config['variant']}-{trial_id}" if "variant" in config else trial_id


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def read_outcome(run_dir: Path) -> dict[str, Any] | None:
    """``{"state": finished | stopped early | crashed, "end": time, ...}``; None while it runs."""
    return _read_json(run_dir / OUTCOME)


def read_record(run_dir: Path) -> dict[str, Any] | None:
    """``{"label", "trial_id", "config", "recipe", "attempts": [{"start", "resume_from", "argv"}]}``."""
    return _read_json(run_dir / RECORD)


def write_outcome(run_dir: Path, state: str, **details: Any) -> None:
    record = {"state": state, "end": time.time(), **details}
    atomic_write_text(run_dir / OUTCOME, json.dumps(record, ensure_ascii=False, indent=1) + "\n")


def train_command(plan: TrialPlan, config: dict[str, Any], run_dir: Path, resume_from: str | None) -> list[str]:
    """``llamafactory-cli train RECIPE key=value ...`` with the trial's folder as output_dir."""
    cli = Path(sys.executable).parent / "llamafactory-cli"
    args = [
        str(cli),
        "train",
        trial_recipe_path(plan.experiment, config),
        *trial_overrides(plan.experiment, config),
        override_arg("output_dir", str(run_dir)),
        override_arg("overwrite_output_dir", False),
    ]
    if resume_from is not None:
        args.append(override_arg("resume_from_checkpoint", resume_from))
    if plan.experiment.resources.gpus > 1 and (spaced := [a for a in args if any(c.isspace() for c in a)]):
        # launcher.py re-joins the arguments with spaces for torchrun and splits them again
        raise TrialFailed(f"torchrun (gpus > 1) cannot pass arguments with spaces: {spaced}")
    return args


def train_env(plan: TrialPlan) -> dict[str, str]:
    """Ray has set CUDA_VISIBLE_DEVICES to the trial's GPUs; a CPU trial sees none, a multi-GPU
    trial runs torchrun with one process per GPU."""
    resources = plan.experiment.resources
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": str(max(1, int(resources.cpus)))}
    if resources.gpus == 0:
        env["CUDA_VISIBLE_DEVICES"] = ""
    elif resources.gpus > 1:
        env.update(FORCE_TORCHRUN="1", NPROC_PER_NODE=str(int(resources.gpus)))
    return env


def start_tied(argv: list[str], cwd: Path, env: dict[str, str], log: Path, header: str = "") -> subprocess.Popen[bytes]:
    """Start ``argv`` with its output appended to ``log``, to die with this process."""
    guard = [sys.executable, "-c", _EXEC_TIED_TO_PARENT, str(os.getpid())]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as console:
        console.write(f"\n{header or shlex.join(argv)}\n".encode())
        console.flush()
        return subprocess.Popen(
            [*guard, *argv], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT
        )


def run_tied(argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> int:
    return start_tied(argv, cwd, env, log).wait()


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:])


class LlamaFactoryTrial(tune.Trainable):
    """A Tune trainable whose ``step`` returns the next evaluation of the training process."""

    def setup(self, config: dict[str, Any], plan: TrialPlan) -> None:
        self.plan = plan
        self.label = trial_label(plan.experiment, config, self.trial_id)
        self.run_dir = plan.runs_dir / self.label
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.stream = EvaluationStream(plan.experiment.metric_key)
        self.pending: deque[dict[str, Any]] = deque()
        self.last: dict[str, Any] | None = None
        self.process: subprocess.Popen[bytes] | None = None
        outcome = read_outcome(self.run_dir)
        if outcome is not None and outcome["state"] in (FINISHED, STOPPED):
            self.pending.extend(
                self.stream.feed(read_log(self.run_dir))
            )  # done before an interruption: replay, train nothing
            return
        checkpoint = last_complete_checkpoint(self.run_dir)
        self.pending.extend(
            self.stream.feed(cut_log_at(self.run_dir, int(checkpoint.rsplit("-", 1)[1]) if checkpoint else 0))
        )
        self.tail = LogTail(self.run_dir / TRAINER_LOG, offset=_size(self.run_dir / TRAINER_LOG))
        (self.run_dir / OUTCOME).unlink(missing_ok=True)
        argv = train_command(plan, config, self.run_dir, checkpoint)
        record = read_record(self.run_dir) or {
            "label": self.label,
            "trial_id": self.trial_id,
            "config": config,
            "recipe": trial_recipe_path(plan.experiment, config),
            "attempts": [],
        }
        record["attempts"].append({"start": time.time(), "resume_from": checkpoint, "argv": argv})
        atomic_write_text(self.run_dir / RECORD, json.dumps(record, ensure_ascii=False, indent=1) + "\n")
        self._start(argv)

    def _start(self, argv: list[str]) -> None:
        header = f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} trial {self.label}: {shlex.join(argv)}"
        self.process = start_tied(argv, self.plan.workdir, train_env(self.plan), self.run_dir / CONSOLE_LOG, header)

    def step(self) -> dict[str, Any]:
        while not self.pending:
            exited = self.process is None or self.process.poll() is not None
            if self.process is not None:
                self.pending.extend(self.stream.feed(self.tail.read()))
            if self.pending:
                break
            if exited:
                return self._finish()
            time.sleep(POLL_S)
        self.last = self.pending.popleft()
        return self.last

    def _finish(self) -> dict[str, Any]:
        """The process has ended and every evaluation was reported: the outcome, or the failure."""
        code = 0 if self.process is None else self.process.returncode
        if code == 0 and self.last is not None:
            if self.process is not None:
                write_outcome(self.run_dir, FINISHED)
            return {**self.last, "done": True}  # Tune's last result; the schedulers ignore the repeat
        tail = log_tail(self.run_dir / CONSOLE_LOG)
        reason = f"exit status {code}" if code else f"finished without an evaluation of {self.metric_key}"
        write_outcome(self.run_dir, CRASHED, reason=reason, log_tail=tail)
        raise TrialFailed(
            f"trial {self.label}: llamafactory-cli train failed ({reason}); "
            f"last lines of {self.run_dir / CONSOLE_LOG}:\n{tail}"
        )

    def cleanup(self) -> None:
        """Stopped by the scheduler or the runner: end the training process and its children."""
        if self.process is None or self.process.poll() is not None:
            return
        import psutil

        try:
            procs = [psutil.Process(self.process.pid), *psutil.Process(self.process.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for proc in procs:
            proc.terminate()
        _, alive = psutil.wait_procs(procs, timeout=30)
        for proc in alive:
            proc.kill()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
