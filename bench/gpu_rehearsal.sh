#!/usr/bin/env bash
# CPU rehearsal of the GPU command (bench/gpu_device.sh), so the GPU run dies of nothing a CPU
# could have caught: a stand-in for the machine's bare interpreter (a fresh venv holding only the
# packages its image has, bench/device_packages.txt, linked from .venv), the carried wheels built
# for this Python, a fake nvidia-smi and a copy of the working tree that nothing may write to; then
# the device command with PII_BENCH_DRY_RUN=1 (tiny shapes on CPU), and $OUT checked as the tool
# brings it back. Not rehearsed: CUDA, Python 3.12 (this is .venv's Python), the image's own
# versions of the packages it shares with .venv. Usage: bash bench/gpu_rehearsal.sh [SIM_DIR]
# (nice it: it trains).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
SIM=$(realpath -m "${1:-/tmp/pii-gpu-rehearsal}")
PY=$REPO/.venv/bin/python
cd "$REPO"
# the interpreter: only the image's packages, at .venv's versions
if [ ! -x "$SIM/venv/bin/python3" ]; then
  "$PY" -m venv "$SIM/venv"
  "$PY" - "$SIM/venv" <<'EOF'
import importlib.metadata as md
import re
import sys
from pathlib import Path, PurePath

from packaging.requirements import Requirement

norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()  # noqa: E731
lines = Path("bench/device_packages.txt").read_text(encoding="utf-8").splitlines()
image = {norm(line) for line in lines if line and not line.startswith("#")}
dists = {norm(d.metadata["Name"]): d for d in md.distributions()}
todo = sorted(image & set(dists))
while todo:  # the image is consistent with itself: what its packages need (here) is there too
    for req in map(Requirement, dists[todo.pop()].requires or ()):
        name = norm(req.name)
        if name in dists and name not in image and (not req.marker or req.marker.evaluate({"extra": ""})):
            image.add(name)
            todo.append(name)
site = next(Path(sys.argv[1]).glob("lib/python3*/site-packages"))
linked = 0
for name, dist in dists.items():
    if name not in image or name in {"pip", "setuptools"}:
        continue
    for top in {PurePath(f).parts[0] for f in dist.files or ()} - {"..", "__pycache__"}:
        target = site / top
        if not target.exists() and Path(dist.locate_file(top)).exists():
            target.symlink_to(Path(dist.locate_file(top)).resolve())
            linked += 1
print(f"stand-in interpreter: {linked} files and folders linked from .venv")
EOF
fi
# the carried wheels, for this Python
ver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
[ -f "$SIM/whl/.done" ] || { "$PY" -m bench.gpu_wheels --python-version "$ver" --dest "$SIM/whl" && touch "$SIM/whl/.done"; }
# nvidia-smi, answering the two queries the device script and bench.gpu make
mkdir -p "$SIM/bin"
printf '#!/bin/sh\ncase "$*" in *memory.used*) echo 0 ;; *) echo "fake nvidia-smi (CPU rehearsal), 0 MiB, none" ;; esac\n' >"$SIM/bin/nvidia-smi"
chmod +x "$SIM/bin/nvidia-smi"
# what is copied to the GPU machine: tracked and untracked-not-ignored files (nothing may be written there)
rm -rf "$SIM/tree" "$SIM/out" "$SIM/work"
mkdir -p "$SIM/tree" "$SIM/out"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$SIM/tree"
touch "$SIM/sent"
set +e
(cd "$SIM/tree" && env -u PYTHONPATH -u VIRTUAL_ENV PATH="$SIM/bin:$SIM/venv/bin:$PATH" OUT="$SIM/out" \
  PII_BENCH_DRY_RUN=1 PII_BENCH_WHEELS="$SIM/whl" PII_BENCH_WORK="$SIM/work" \
  PII_BENCH_LIMIT="${PII_BENCH_LIMIT:-1500}" PII_BENCH_CHILD_S="${PII_BENCH_CHILD_S:-420}" \
  bash bench/gpu_device.sh)
code=$?
set -e
# $OUT as the tool brings it back: at most 8 plain files, names of letters, digits, '.', '_', '-'
ls -la "$SIM/out"
n=$(find "$SIM/out" -type f | wc -l)
bad=$(find "$SIM/out" -mindepth 1 -name '*[!A-Za-z0-9._-]*' | wc -l)
written=$(find "$SIM/tree" -newer "$SIM/sent" ! -path '*/__pycache__*' | wc -l)
echo "rehearsal: device script exit $code; $n files in \$OUT ($bad badly named); $written written into the tree"
[ "$n" -le 8 ] && [ "$bad" -eq 0 ] && [ "$written" -eq 0 ] && [ -f "$SIM/out/gpu_results.json" ]
