"""The llama.cpp toolchain, built once from the registry's ``llama-cpp-python`` source package.

That one package carries llama.cpp's whole tree (``vendor/llama.cpp``): the C++ library (with its
quantizer, ``llama_model_quantize``, which the ``llama-quantize`` tool only wraps),
``convert_hf_to_gguf.py`` with its ``conversion/`` package and gguf-py. Taking all of them from it
keeps the converter, the quantizer and the Python bindings of one llama.cpp commit.

Everything lands in ``.cache/llama.cpp-<version>/`` and nothing in the training venv:

* ``build/``: CMake build of ``libllama`` and ``libggml*`` (no tools: their common library is a
  third of the compile time and the quantizer is in ``libllama``);
* ``python/``: the ``llama_cpp`` bindings (pure ctypes) with the libraries beside them, imported by
  :func:`bindings` (eval's llama.cpp backend, the export's quantisation);
* ``convert-venv/``: the converter's own environment (it pins transformers 4.57.6, the training venv
  has 5.x). Its torch pin is the training venv's torch (2.11.0), so the converter venv reads that
  torch through a ``.pth`` placed after its own site-packages instead of downloading PyPI's 2.5 GB
  CUDA build a second time.

Each part ends with a stamp file; an interrupted build resumes, a finished one is reused.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from piifactory.errors import PiiFactoryError

VERSION = "0.3.36"
"""llama-cpp-python release whose vendored llama.cpp we build (bindings and tree of one commit)."""

CONVERTER_REQUIREMENTS = Path(__file__).with_name("llamacpp_convert.txt")
"""Pinned converter environment (llama.cpp's requirements-convert_hf_to_gguf.txt, resolved)."""

BINDINGS_REQUIREMENTS = ("diskcache==5.6.3",)
"""What ``llama_cpp`` imports that the training venv lacks (numpy, jinja2, typing-extensions it has)."""

BUILD_NICENESS = 10
"""Build steps run at this niceness (not more when the caller is already niced): the machine is shared."""

NATIVE_TARGETS = ("llama", "ggml")
CMAKE_OPTIONS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DLLAVA_BUILD=OFF",  # multimodal library: not needed for text models
    "-DLLAMA_BUILD_TOOLS=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    # A portable AVX2 build, not -march=native: on a Xeon that advertises AMX the native build's
    # quantised kernels died with SIGILL (q8_0) where f16 ran, and a cache built on one machine may
    # run on another of the same kind without AVX-512.
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX=ON",
    "-DGGML_AVX2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
)
# In the native build's stamp: a cache built with other CMake options (the earlier -march=native
# one) is rebuilt instead of reused.
NATIVE_BUILD_ID = hashlib.sha256(" ".join(CMAKE_OPTIONS).encode()).hexdigest()[:12]


class ToolchainError(PiiFactoryError):
    """The llama.cpp build or the converter environment could not be made."""


def cache_root() -> Path:
    """``$PII_LLAMACPP_DIR`` or ``.cache/llama.cpp-<version>`` in the repository."""
    configured = os.environ.get("PII_LLAMACPP_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / ".cache" / f"llama.cpp-{VERSION}"


@dataclass(frozen=True)
class Toolchain:
    root: Path

    @property
    def source(self) -> Path:
        return self.root / "src"

    @property
    def tree(self) -> Path:
        """llama.cpp's own tree inside the source package."""
        return self.source / "vendor" / "llama.cpp"

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def python_dir(self) -> Path:
        return self.root / "python"

    @property
    def convert_python(self) -> Path:
        return self.root / "convert-venv" / "bin" / "python"

    def stamp(self, part: str) -> Path:
        suffix = f"-{NATIVE_BUILD_ID}" if part == "native" else ""
        return self.root / f".{part}{suffix}.done"

    def ready(self) -> bool:
        return all(self.stamp(part).exists() for part in ("source", "native", "convert"))


def toolchain() -> Toolchain:
    return Toolchain(cache_root())


def ensure(progress: bool = True) -> Toolchain:
    """The built toolchain; builds whatever part is missing first (one builder at a time)."""
    tools = toolchain()
    if tools.ready():
        return tools
    tools.root.mkdir(parents=True, exist_ok=True)
    with _lock(tools.root / ".lock"):
        for part, step in (("source", _fetch_source), ("native", _build_native), ("convert", _make_converter_env)):
            if tools.stamp(part).exists():
                continue
            started = time.perf_counter()
            if progress:
                print(f"[llama.cpp] {part}: building (first use; cached in {tools.root})", file=sys.stderr, flush=True)
            step(tools)
            elapsed = time.perf_counter() - started
            tools.stamp(part).write_text(f"{elapsed:.1f}\n", encoding="utf-8")
            if progress:
                print(f"[llama.cpp] {part}: {elapsed:.0f}s", file=sys.stderr, flush=True)
    return tools


def build_seconds(tools: Toolchain) -> dict[str, float]:
    """Seconds each part took when it was built (from the stamps)."""
    return {p: float(tools.stamp(p).read_text()) for p in ("source", "native", "convert") if tools.stamp(p).exists()}


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(args: list[str], log: Path, **kwargs) -> None:
    """Run a build step at ``BUILD_NICENESS``, its output in ``log``; a failure names the log."""
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(args)}\n")
        handle.flush()
        result = subprocess.run(
            ["nice", "-n", str(max(0, BUILD_NICENESS - os.nice(0))), *args],
            stdout=handle,
            stderr=subprocess.STDOUT,
            **kwargs,
        )
    if result.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        raise ToolchainError(
            f"{log}: `{' '.join(args[:3])} ...` failed (exit {result.returncode}):\n" + "\n".join(tail)
        )


def _pip(python: Path | str, *args: str, log: Path) -> None:
    _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args], log)


def _fetch_source(tools: Toolchain) -> None:
    """``pip download`` the source package from the registry and unpack it to ``src/``."""
    download = tools.root / "download"
    download.mkdir(exist_ok=True)
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"llama-cpp-python=={VERSION}",
            "-d",
            str(download),
        ],
        tools.root / "fetch.log",
    )
    (archive,) = download.glob(f"llama_cpp_python-{VERSION}.tar.gz")
    staging = tools.root / "src.partial"
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(archive) as tar:
        tar.extractall(staging, filter="data")
    (unpacked,) = staging.iterdir()
    shutil.rmtree(tools.source, ignore_errors=True)
    unpacked.rename(tools.source)
    staging.rmdir()
    archive.unlink()


def _build_native(tools: Toolchain) -> None:
    """CMake build of the shared libraries, which the bindings load from beside them."""
    log = tools.root / "build.log"
    _run(["cmake", "-S", str(tools.source), "-B", str(tools.build_dir), *_generator(), *CMAKE_OPTIONS], log)
    jobs = str(os.cpu_count() or 2)
    _run(["cmake", "--build", str(tools.build_dir), "-j", jobs, "--target", *NATIVE_TARGETS], log)
    staging = tools.root / "python.partial"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(tools.source / "llama_cpp", staging / "llama_cpp")
    lib = staging / "llama_cpp" / "lib"
    lib.mkdir(exist_ok=True)
    for library in tools.build_dir.rglob("*.so*"):
        if library.is_file() and not library.is_symlink():
            shutil.copy2(library, lib / library.name)
    for library in tools.build_dir.rglob("*.so*"):  # the soname links (libllama.so -> libllama.so.0.0.N)
        if library.is_symlink():
            (lib / library.name).unlink(missing_ok=True)
            (lib / library.name).symlink_to(os.readlink(library))
    _pip(sys.executable, "--no-deps", "--target", str(staging), *BINDINGS_REQUIREMENTS, log=log)
    shutil.rmtree(tools.python_dir, ignore_errors=True)
    staging.rename(tools.python_dir)


def _generator() -> list[str]:
    return ["-G", "Ninja"] if shutil.which("ninja") else []


def _make_converter_env(tools: Toolchain) -> None:
    """A venv with the converter's pins, llama.cpp's own gguf-py, and the training venv's torch."""
    log = tools.root / "convert-venv.log"
    venv = tools.convert_python.parents[1]
    shutil.rmtree(venv, ignore_errors=True)
    base = getattr(sys, "_base_executable", sys.executable)
    _run([base, "-m", "venv", str(venv)], log)
    _pip(tools.convert_python, "-r", str(CONVERTER_REQUIREMENTS), log=log)
    _pip(tools.convert_python, "--no-deps", str(tools.tree / "gguf-py"), log=log)
    # Appended after the venv's own site-packages: only what the venv lacks (torch and its
    # dependencies) comes from the training venv.
    site = subprocess.run(
        [str(tools.convert_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "zz_training_venv_torch.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    _run(
        [
            str(tools.convert_python),
            "-c",
            "import torch, transformers, gguf; "
            "assert transformers.__version__ == '4.57.6', transformers.__version__; print('torch', torch.__version__)",
        ],
        log,
    )


def bindings():
    """The ``llama_cpp`` module of the built toolchain (built first if missing)."""
    tools = ensure()
    path = str(tools.python_dir)
    if path not in sys.path:
        sys.path.insert(0, path)
    return importlib.import_module("llama_cpp")
