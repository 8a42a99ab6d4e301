"""piifactory.machine: the CPU line printed next to every published time names the vector extension."""

from __future__ import annotations

from pathlib import Path

import pytest

from piifactory.machine import cpu_line, cpu_model, vector_isa

EPYC_ROME = "processor\t: 0\nmodel name\t: AMD EPYC 7B12\nflags\t\t: fpu sse2 avx fma avx2 sha_ni\n"
XEON = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu avx avx2 avx512f avx512bw\n"


@pytest.mark.parametrize(
    "cpuinfo, expected",
    [(XEON, "AVX-512"), (EPYC_ROME, "AVX2"), ("flags\t: fpu sse2 avx\n", "AVX"), ("flags\t: fpu sse2\n", None)],
)
def test_the_widest_vector_extension_is_named(tmp_path: Path, cpuinfo: str, expected: str | None) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo, encoding="utf-8")
    assert vector_isa(str(path)) == expected


def test_no_flags_or_no_file_names_none(tmp_path: Path) -> None:
    (tmp_path / "cpuinfo").write_text("processor\t: 0\nmodel name\t: Apple M2\n", encoding="utf-8")
    assert vector_isa(str(tmp_path / "cpuinfo")) is None
    assert vector_isa(str(tmp_path / "missing")) is None


def test_the_cpu_line_has_model_cores_and_extension() -> None:
    line = cpu_line()
    assert line.startswith(f"{cpu_model()}, ") and " cores" in line
    isa = vector_isa()
    assert (f" cores, {isa}" in line) if isa else ("AVX" not in line.split(" cores")[1])
