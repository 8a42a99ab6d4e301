"""The machine a run was measured on, for the header of bench/results.md."""

from __future__ import annotations

import datetime as dt
import os
import platform
from importlib import metadata

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


def _gpu() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU only)"


def details() -> dict[str, str]:
    """CPU, cores, RAM, GPU, Python and the versions that decide the figures, plus the date."""
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
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
