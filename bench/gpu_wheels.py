"""``python -m bench.gpu_wheels`` (``make gpu-wheels``): the wheels a bare GPU machine needs, in ``.whl/``.

The GPU image this serves (docs/bench-gpu.md, its package list in ``bench/device_packages.txt``) has
Python 3.12 with torch 2.11, accelerate, pandas, pyarrow and friends, but neither llamafactory,
bitsandbytes, datasets, peft nor trl, and transformers 5.17 where the pack is pinned to 5.6, and it
has no package index. The packages below are what the training, ``eval.predict`` and ``bench.gpu``
import that the image lacks or has at another version (read off ``sys.modules`` after those imports,
against the image's package list); their versions come from ``constraints.txt``, the one pin list.
Everything travels with the working tree, whose copy is limited in size (``LIMIT_BYTES``):
bitsandbytes' wheel carries kernels for every CUDA and ROCm release (43 MB), so it is repacked with
the CUDA 13.0 kernels the image's torch (cu130) loads, and the CPU ones, with its RECORD rewritten
to match.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

from piifactory.tables import text_table

REPO = Path(__file__).resolve().parents[1]
LIMIT_BYTES = 64 * 2**20  # working tree plus wheels: the largest copy to the GPU machine
CUDA_SUFFIX = "cuda130"  # torch 2.11.0+cu130 on the machine
PACKAGES = (
    "llamafactory",
    "transformers",
    "tokenizers",
    "accelerate",
    "peft",
    "trl",
    "datasets",
    "dill",
    "multiprocess",
    "fsspec",
    "bitsandbytes",
    "omegaconf",
    "fire",
    "termcolor",
    "pydantic",
    "pydantic_core",
    "annotated-types",
    "typing-inspection",
    "faker",
    "python-stdnum",
    "phonenumbers",
    "dashscope",
)
PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_24_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
)


def _norm(name: str) -> str:
    return name.lower().replace("_", "-")


def pins(constraints: Path = REPO / "constraints.txt") -> list[str]:
    """``NAME==VERSION`` for :data:`PACKAGES`, versions from constraints.txt."""
    found = {}
    for line in constraints.read_text(encoding="utf-8").splitlines():
        name, sep, version = line.split("#")[0].strip().partition("==")
        if sep:
            found[_norm(name)] = version.strip()
    missing = [p for p in PACKAGES if _norm(p) not in found]
    if missing:
        raise SystemExit(f"error: constraints.txt pins no version of {', '.join(missing)}")
    return [f"{p}=={found[_norm(p)]}" for p in PACKAGES]


def download(dest: Path, requirements: list[str], python_version: str = "3.12") -> None:
    args = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        python_version,
        "--implementation",
        "cp",
        "-d",
        str(dest),
    ]
    for platform in PLATFORMS:
        args += ["--platform", platform]
    subprocess.run([*args, *requirements], check=True)


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def slim_bitsandbytes(wheel: Path) -> Path:
    """The wheel without the kernels of other CUDA and ROCm releases; a valid wheel (RECORD matches)."""
    keep = lambda name: (
        not (name.startswith("bitsandbytes/libbitsandbytes_") and name.endswith(".so"))
        or (CUDA_SUFFIX in name or "_cpu" in name)
    )  # noqa: E731
    slim = wheel.with_name(wheel.name + ".slim")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(slim, "w", zipfile.ZIP_DEFLATED) as dst:
        record_name = next(n for n in src.namelist() if n.endswith(".dist-info/RECORD"))
        kept = [n for n in src.namelist() if keep(n) and n != record_name]
        lines = []
        for name in kept:
            data = src.read(name)
            dst.writestr(src.getinfo(name), data)
            lines.append(f"{name},{_record_hash(data)},{len(data)}")
        lines.append(f"{record_name},,")
        dst.writestr(record_name, "\n".join(lines) + "\n")
    slim.replace(wheel)
    return wheel


def tree_bytes() -> int:
    """Bytes of the working tree's copy besides the wheels: tracked and untracked-not-ignored files."""
    names = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    return sum((REPO / n.decode()).stat().st_size for n in names if n and (REPO / n.decode()).is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu_wheels", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=REPO / ".whl")
    parser.add_argument("--check-only", action="store_true", help="size the existing .whl/ against the limit")
    parser.add_argument(
        "--python-version",
        default="3.12",
        help="the machine's Python (3.12); the CPU rehearsal (bench/gpu_rehearsal.sh) asks for its own",
    )
    ns = parser.parse_args(argv)
    ns.dest.mkdir(parents=True, exist_ok=True)
    if not ns.check_only:
        download(ns.dest, pins(), ns.python_version)
        for wheel in ns.dest.glob("bitsandbytes-*.whl"):
            slim_bitsandbytes(wheel)
    wheels = sorted(ns.dest.glob("*.whl"))
    rows = [[w.name, f"{w.stat().st_size / 2**20:.2f}"] for w in wheels]
    wheel_total, tree = sum(w.stat().st_size for w in wheels), tree_bytes()
    rows += [
        ["(all wheels)", f"{wheel_total / 2**20:.2f}"],
        ["(working tree)", f"{tree / 2**20:.2f}"],
        ["(the copy in all)", f"{(wheel_total + tree) / 2**20:.2f} of {LIMIT_BYTES / 2**20:.0f}"],
    ]
    print(text_table(["file", "MiB"], rows, align="lr"))
    if wheel_total + tree > LIMIT_BYTES:
        print(f"error: over the copy's limit of {LIMIT_BYTES / 2**20:.0f} MiB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
