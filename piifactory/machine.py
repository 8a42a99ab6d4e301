"""The CPU a time was measured on: printed next to every time the demo and the benchmarks report,
since the same run takes twice as long on a slower or busier machine."""

from __future__ import annotations

import os
import platform


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; the platform's name where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_line() -> str:
    """``AMD EPYC ... , 2 cores, load 3.1`` (load: the 1-minute load average, where known)."""
    try:
        load = f", load {os.getloadavg()[0]:.1f}"
    except OSError:
        load = ""
    return f"{cpu_model()}, {os.cpu_count()} cores{load}"
