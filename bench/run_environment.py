"""The machine a run was measured on, for the header of bench/results.md."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from piifactory.machine import cpu_model, vector_isa


def _ram_gib() -> str:
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            kib = int(next(line for line in handle if line.startswith("MemTotal")).split()[1])
        return f"{kib / 2**20:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        return "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


REPO = Path(__file__).resolve().parents[1]


def commit(repo: Path = REPO) -> str:
    """The checkout's commit (``-dirty`` with uncommitted changes), or "unknown" outside a git checkout:
    a figure is only comparable with the code that produced it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def _gpu() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU only)"


def details() -> dict[str, str]:
    """CPU, cores, RAM, GPU, Python and the versions that decide the figures, plus the date and commit."""
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "cpu": cpu_model(),
        "vector extensions": vector_isa() or "unknown",
        "cores": str(os.cpu_count()),
        "ram": _ram_gib(),
        "gpu": _gpu(),
        "python": platform.python_version(),
        "torch": _version("torch"),
        "transformers": _version("transformers"),
        "llamafactory": _version("llamafactory"),
    }
