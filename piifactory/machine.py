"""The CPU a time was measured on: printed next to every time the demo and the benchmarks report,
since the same run takes twice as long on a slower or busier machine."""

from __future__ import annotations

import os
import platform

CPUINFO = "/proc/cpuinfo"


def _cpuinfo_field(name: str, cpuinfo: str = CPUINFO) -> str | None:
    """The first ``name : value`` of ``/proc/cpuinfo`` (None without the file or the field)."""
    try:
        with open(cpuinfo, encoding="utf-8") as handle:
            return next((line.split(":", 1)[1].strip() for line in handle if line.startswith(name)), None)
    except OSError:
        return None


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; the platform's name where there is none)."""
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def vector_isa(cpuinfo: str = CPUINFO) -> str | None:
    """The widest x86 vector extension the CPU advertises (``AVX-512``, ``AVX2``, ``AVX``), or None
    where ``/proc/cpuinfo`` has no flags: machines of one model name differ in it, and a 2-core
    machine without AVX-512 trains the demo markedly slower (docs/demo.md)."""
    flags = (_cpuinfo_field("flags", cpuinfo) or "").split()
    return next((name for flag, name in _ISA_FLAGS if flag in flags), None)


_ISA_FLAGS = (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"))


def cpu_line() -> str:
    """``AMD EPYC ..., 2 cores, AVX2, load 3.1`` (load: processes wanting a core over the last minute, where known)."""
    isa = vector_isa()
    try:
        load = f", load {os.getloadavg()[0]:.1f}"
    except OSError:
        load = ""
    return f"{cpu_model()}, {os.cpu_count()} cores{f', {isa}' if isa else ''}{load}"
