"""workflows.demo.stages: stages timed to their own ends, in the foreground, the background or several at
once, and a stopped run (Ctrl-C, SIGTERM) that leaves none of their processes behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from workflows.demo.stages import Stages


def test_a_background_stage_is_timed_to_its_own_end(tmp_path) -> None:
    """The tiny model is built beside the data stages: its time is its own, not the time until the
    demo next looks, and a failure in it still stops the demo."""
    stages = Stages(tmp_path)
    quick = stages.start("quick", [sys.executable, "-c", "import time; time.sleep(0.5)"], tmp_path / "quick.log")
    fails = stages.start("fails", [sys.executable, "-c", "raise SystemExit(4)"], tmp_path / "fails.log")
    stages.run("slow", [sys.executable, "-c", "import time; time.sleep(3)"])
    with pytest.raises(SystemExit, match="stage 'fails' failed \\(exit 4\\)"):
        stages.finish([quick, fails])
    times = dict(stages.times)
    assert times["quick"] < 2.5 < times["slow"] and stages.live == []


def test_stages_run_together_time_each_and_report_a_failure(tmp_path) -> None:
    stages = Stages(tmp_path)
    sleep = [sys.executable, "-c", "import time, os; time.sleep(1); print(os.environ['OMP_NUM_THREADS'])"]
    fail = [sys.executable, "-c", "raise SystemExit(3)"]
    with pytest.raises(SystemExit, match="stage 'fails' failed \\(exit 3\\)"):
        stages.run_together([("sleeps", sleep), ("fails", fail)], logs=tmp_path / "logs")
    times = dict(stages.times)
    assert set(times) == {"sleeps", "fails"} and times["fails"] < times["sleeps"]  # each its own end
    assert (tmp_path / "logs/1.log").read_text().strip() == "1"  # one thread per process
    assert stages.wall() >= times["sleeps"]


# A stage that starts a grandchild in its own process group (as llamafactory-cli starts torchrun),
# writes both pids and waits: what a stopped demo must not leave behind.
_TREE = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
with open(sys.argv[1], "w") as handle:
    handle.write(f"{os.getpid()} {child.pid}")
time.sleep(120)
"""
_DRIVER = """
import sys
from pathlib import Path
import signal
from workflows.demo.stages import Stages, stop_on_terminate
stop_on_terminate()
signal.signal(signal.SIGINT, signal.default_int_handler)  # a background CI shell starts us with SIGINT ignored
stages, tree = Stages(Path(sys.argv[1])), [sys.executable, "-c", sys.argv[2], sys.argv[3]]
idle = [sys.executable, "-c", "import time; time.sleep(120)"]
with stages.stopping():
    if sys.argv[4] == "together":
        stages.run_together([("tree", tree), ("idle", idle)], Path(sys.argv[1]) / "logs")
    elif sys.argv[4] == "background":
        stages.start("tree", tree, Path(sys.argv[1]) / "tree.log")
        stages.run("idle", idle)
    else:
        stages.run("tree", tree)
"""


def _alive(pid: int) -> bool:
    """Running and not a zombie (a container's init may never reap an orphan)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.parametrize("how", ["one", "together", "background"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_run_stops_the_stages_it_started(tmp_path, how: str, signum: int) -> None:
    """Ctrl-C or kill during training used to leave torchrun's workers training with no one waiting."""
    pids = tmp_path / "pids"
    driver = subprocess.Popen(
        [sys.executable, "-c", _DRIVER, str(tmp_path), _TREE, str(pids), how],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    deadline = time.monotonic() + 60
    while not (pids.exists() and len(pids.read_text().split()) == 2):
        assert time.monotonic() < deadline and driver.poll() is None, "the stage never started"
        time.sleep(0.1)
    stage, grandchild = map(int, pids.read_text().split())
    driver.send_signal(signum)
    code = driver.wait(timeout=30)
    # SIGTERM: stop_on_terminate's exit 143; SIGINT: Python ends an uncaught KeyboardInterrupt by SIGINT
    assert code == (128 + signum if signum == signal.SIGTERM else -signum)
    deadline = time.monotonic() + 10
    while _alive(stage) or _alive(grandchild):
        assert time.monotonic() < deadline, "a stage's process outlived the demo"
        time.sleep(0.1)
