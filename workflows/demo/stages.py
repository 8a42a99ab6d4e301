"""Stages of a long run as separate processes: each timed, run in the foreground, in the background
or several at once, and all stopped together when the run is stopped.

Each stage runs in a session of its own, so Ctrl-C or SIGTERM reaches only the driving process, which
then ends every live stage through its process group: torchrun passes SIGTERM on to its workers,
and nothing trains on with nobody waiting for it (``make demo`` before this left llamafactory-cli,
torchrun and both training workers running).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

from piifactory.io import atomic_write_text

BIN = Path(sys.executable).parent


@dataclass
class Started:
    """A stage running in the background; ``elapsed`` is set when its process ends."""

    name: str
    args: list[str]
    process: subprocess.Popen[str]
    began: float
    elapsed: float | None = None


class Stages:
    """Runs commands in ``root`` and remembers how long each stage took."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.times: list[tuple[str, float]] = []
        self.started = time.perf_counter()
        self.live: list[subprocess.Popen[str]] = []  # started, not yet waited for: what ``stopping`` ends

    def wall(self) -> float:
        """Seconds since the first stage began (stages run at once overlap in ``times``)."""
        return time.perf_counter() - self.started

    @contextmanager
    def stopping(self) -> Iterator[None]:
        """Stop every live stage (and everything it started) if the run is leaving early: SIGTERM to
        each stage's process group, then SIGKILL to whatever is left after ``STOP_GRACE`` seconds."""
        try:
            yield
        except BaseException:
            if any(process.poll() is None for process in self.live):
                print(
                    "\n[demo] stopping: ending the running stages and the processes they started",
                    file=sys.stderr,
                    flush=True,
                )
            _stop(self.live)
            raise

    def run(self, name: str, args: list[str], stdout: Path | None = None, env: dict[str, str] | None = None) -> None:
        print(f"\n[demo] === {name} ===", flush=True)
        began = time.perf_counter()
        process = self._spawn(args, _env(env), subprocess.PIPE if stdout else None)
        output, _ = process.communicate()
        self.live.remove(process)
        if stdout and process.returncode == 0:
            atomic_write_text(stdout, output)
        self._record(name, args, process.returncode, time.perf_counter() - began)

    def start(self, name: str, args: list[str], log: Path) -> Started:
        """``args`` in the background with one thread, output in ``log``; ``finish`` waits for it."""
        log.parent.mkdir(parents=True, exist_ok=True)
        print(f"\n[demo] === {name} (in the background; log in {log}) ===", flush=True)
        with log.open("w", encoding="utf-8") as handle:
            process = self._spawn(args, _env({"OMP_NUM_THREADS": "1"}), handle)
        started = Started(name, args, process, time.perf_counter())
        threading.Thread(target=_time_to_exit, args=(started,), daemon=True).start()
        return started

    def finish(self, stages: list[Started]) -> None:
        """Wait for background stages, each timed to its own end; once all have ended, the first
        failure ends the demo."""
        failed: SystemExit | None = None
        pending = list(stages)
        while pending:
            time.sleep(0.1)
            for stage in [stage for stage in pending if stage.elapsed is not None]:
                pending.remove(stage)
                self.live.remove(stage.process)
                try:
                    self._record(stage.name, stage.args, stage.process.returncode, stage.elapsed)
                except SystemExit as error:
                    failed = failed or error
        if failed:
            raise failed

    def run_together(self, commands: list[tuple[str, list[str]]], logs: Path) -> None:
        """Independent commands at once, one thread each, their output in ``logs/<n>.log``.

        The predictions share the machine's cores this way (a one-thread process per core) instead of
        taking turns with two threads each, which the tiny model's small matrices cannot use well.
        """
        self.finish([self.start(name, args, logs / f"{number}.log") for number, (name, args) in enumerate(commands, 1)])

    def _spawn(self, args: list[str], env: dict[str, str], stdout: IO[str] | int | None) -> subprocess.Popen[str]:
        """One stage's command in a session of its own (see ``stopping``)."""
        process = subprocess.Popen(
            _command(args),
            cwd=self.root,
            env=env,
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout not in (None, subprocess.PIPE) else None,
            text=True,
            start_new_session=True,
        )
        self.live.append(process)
        return process

    def _record(self, name: str, args: list[str], code: int, elapsed: float) -> None:
        self.times.append((name, elapsed))
        print(f"[demo] {name}: {elapsed:.1f}s", flush=True)
        if code != 0:
            raise SystemExit(f"[demo] stage {name!r} failed (exit {code}): {' '.join(args)}")


def _time_to_exit(stage: Started) -> None:
    stage.process.wait()
    stage.elapsed = time.perf_counter() - stage.began


STOP_GRACE = 10.0  # seconds a stopped stage gets to end its workers before SIGKILL


def _stop(processes: list[subprocess.Popen[str]]) -> None:
    for process in processes:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        _signal_group(process, signal.SIGKILL)  # stragglers of the group, even if its leader ended
        process.wait()


def _signal_group(process: subprocess.Popen[str], signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass  # the whole group has ended


def stop_on_terminate() -> None:
    """Make SIGTERM (``kill``, a CI timeout) leave like Ctrl-C does, through ``Stages.stopping``;
    called once by the driving process's ``main``."""
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def _command(args: list[str]) -> list[str]:
    """A console script (``llamafactory-cli``) resolved beside this interpreter."""
    return args if args[0] == sys.executable else [str(BIN / args[0]), *args[1:]]


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The stages' environment: offline hub, unbuffered output, this interpreter's scripts first."""
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONUNBUFFERED": "1",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # torchrun beside this interpreter
        **(extra or {}),
    }
