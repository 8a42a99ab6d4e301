"""The tests' CLI runner leaves nothing behind: a command that times out takes its children with it
(a timed-out quick demo once left its `llamafactory-cli train` running for the rest of the session)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.conftest import run_cli

SPAWN_AND_HANG = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(child.pid, flush=True)
open(sys.argv[1], "w").write(str(child.pid))
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie waiting for its parent is gone too
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_a_timed_out_command_takes_its_children_with_it(tmp_path) -> None:
    pid_file = tmp_path / "child.pid"
    with pytest.raises(subprocess.TimeoutExpired):
        run_cli([sys.executable, "-c", SPAWN_AND_HANG, str(pid_file)], timeout=5)
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(child)


def test_a_finished_command_keeps_its_output() -> None:
    result = run_cli([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"])
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
