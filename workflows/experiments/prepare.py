"""The experiment's ``prepare:`` steps: the synthetic generator, the converters and base-model
trainings, run once before any trial, in order, in the folder the command runs in, each with its
output in ``prepare/<n>.log``. A finished step leaves its command as a marker beside its log, so a
resumed experiment does not make its data or base model again; a step whose command differs from
its marker runs again, and so does every step after it."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import converters
from piifactory import synth
from piifactory.child import python_m
from piifactory.io import atomic_write_text
from workflows.experiments.spec import ExperimentError, PrepareStep
from workflows.experiments.trial import log_tail, run_tied

PREPARE_DIR = "prepare"


def step_command(step: PrepareStep) -> list[str]:
    if step.tool == "synth":
        return python_m(synth, *step.args)
    if step.tool == "convert":
        return python_m(converters, "convert", *step.args)
    return [str(Path(sys.executable).parent / "llamafactory-cli"), "train", *step.args]


def step_env(step: PrepareStep) -> dict[str, str]:
    """A train step of several processes runs them under torchrun, one thread each."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if step.processes > 1:  # LLaMA-Factory's launcher finds torchrun beside the interpreter
        path = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env.update(FORCE_TORCHRUN="1", NPROC_PER_NODE=str(step.processes), OMP_NUM_THREADS="1", PATH=path)
    return env


def prepare(steps: list[PrepareStep], workdir: Path, exp_dir: Path) -> None:
    """Run the steps not yet done; a failing step stops the experiment with the tail of its log."""
    folder = exp_dir / PREPARE_DIR
    redo = False  # once a step runs, every later one runs too: it may read what that step made
    for index, step in enumerate(steps, start=1):
        marker, log = folder / f"{index}.done", folder / f"{index}.log"
        argv = step_command(step)
        if not redo and marker.exists() and marker.read_text(encoding="utf-8") == _marker_text(argv):
            continue
        redo = True
        print(f"prepare {index}/{len(steps)}: {step.tool} {' '.join(step.args)}", flush=True)
        if (code := run_tied(argv, workdir, step_env(step), log)) != 0:
            raise ExperimentError(f"prepare step {index} ({step.tool}) failed (exit {code}):\n{log_tail(log, 20)}")
        atomic_write_text(marker, _marker_text(argv))


def _marker_text(argv: list[str]) -> str:
    return shlex.join(argv) + "\n"
