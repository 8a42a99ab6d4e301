#!/usr/bin/env bash
# The GPU check on a GPU machine without a package index (docs/bench-gpu.md), as one command
# within a time limit. First, in the checkout that is copied there:
#   make gpu-wheels                   # .whl/: the cp312 wheels the machine lacks (about 30 MiB)
# then, on the GPU machine with .whl/ copied along: bash bench/gpu_device.sh
# It installs the wheels, puts the pack and its start-up hook on the interpreter's path as
# `pip install -e .` does, checks the hook and the imports, then runs `python -m bench.gpu` (its
# RUNS, most valuable first) under one budget, so the whole command ends within PII_BENCH_LIMIT
# seconds (520). bench.gpu rewrites its report after every recipe, so a cut run still brings back
# what finished: $OUT gets gpu_results.md, gpu_results.json and logs.tar.gz. Then, here:
#   python -m bench.gpu --combine OUT/gpu_results.json     # writes bench/gpu_results.md
# The CPU rehearsal of all of it is bench/gpu_rehearsal.sh (PII_BENCH_DRY_RUN=1: tiny shapes on CPU).
set -uo pipefail
[ "${1:-all}" = all ] || { echo "usage: bash bench/gpu_device.sh [all]" >&2; exit 2; }
LIMIT=${PII_BENCH_LIMIT:-520}     # seconds for the whole command (8.7 min), under a 10-minute limit
CHILD_S=${PII_BENCH_CHILD_S:-200} # seconds per training or prediction process
OUT=${OUT:-$PWD/outputs/gpu-device}
WORK=${PII_BENCH_WORK:-/tmp/pii-bench}
WHEELS=${PII_BENCH_WHEELS:-.whl}
SITE=$WORK/site
DRY=()
[ "${PII_BENCH_DRY_RUN:-0}" = 1 ] && DRY=(--dry-run)
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 \
  TOKENIZERS_PARALLELISM=false HF_HOME=$WORK/hf MPLCONFIGDIR=$WORK/mpl
rm -rf "$WORK/report" "$WORK/runs"
mkdir -p "$OUT" "$WORK/report" || exit 4

check() {
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || exit 3
  # 1. the carried wheels, ahead of the image's packages (its transformers 5.17, accelerate 1.15, ...),
  #    and the pack as `pip install -e .` installs it: its folders importable (the repository on
  #    PYTHONPATH, so in every child too, before site-packages' .pth lines run) and, in step 2, the
  #    build's start-up hook file in the interpreter's site-packages (plugins._build.write_hook)
  export PYTHONPATH="$SITE:$PWD"
  if [ ! -f "$SITE/.installed" ]; then
    ls "$WHEELS"/*.whl >/dev/null 2>&1 || { echo "no $WHEELS/*.whl: run make gpu-wheels and copy .whl/ along" >&2; exit 3; }
    timeout 150 python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target "$SITE" "$WHEELS"/*.whl || exit 3
    touch "$SITE/.installed"
  fi
  # 2. the start-up hook
  python3 - "$SITE" <<'EOF' || exit 4
import sys
import sysconfig
from pathlib import Path

from plugins._build import PTH_LINE, write_hook

try:
    print("start-up hook:", write_hook(Path(sysconfig.get_paths()["purelib"])))
except OSError as error:  # a read-only image: the same line runs at start-up as sitecustomize instead
    (Path(sys.argv[1]) / "sitecustomize.py").write_text(PTH_LINE, encoding="utf-8")
    print(f"start-up hook: {error}; {sys.argv[1]}/sitecustomize.py instead")
EOF
  # 3. a fresh interpreter: the hook loaded at start-up, the tuner gets wrapped, every import is there
  timeout 150 python3 - "${DRY[@]}" <<'EOF' || exit 5
import os
import sys

assert "pii_factory_startup" in sys.modules, "the start-up hook did not run"
assert sys.modules["pii_factory_startup"].installed(), "the start-up hook is not on sys.meta_path"
import llamafactory
import llamafactory.train.tuner as tuner
import plugins

assert getattr(tuner.run_exp, "pii_factory_wrapped", False), "run_exp is not wrapped by the pack"
assert plugins.__file__.startswith(os.getcwd()), plugins.__file__
import bitsandbytes, datasets, faker, peft, phonenumbers, stdnum, torch, transformers, trl  # noqa: E401,F401
import bench.gpu, bench.gpu_probe, eval.predict, piifactory.synth  # noqa: E401,F401
from piifactory.models.qwen_tokenizer import tiktoken_path

print("Qwen's BPE ranks:", tiktoken_path())  # dashscope's files, never imported (its client needs more)

assert "--dry-run" in sys.argv or torch.cuda.is_available(), "torch sees no CUDA device"
print("hook ok; llamafactory", llamafactory.__version__, "transformers", transformers.__version__, "peft",
      peft.__version__, "trl", trl.__version__, "bitsandbytes", bitsandbytes.__version__, "torch", torch.__version__,
      "cuda", torch.cuda.is_available(), "python", sys.version.split()[0])
EOF
  # 4. the recipes in bench.gpu.RUNS order under one budget; a margin is left for the copy below
  budget=$((LIMIT - SECONDS - 25))
  echo "bench.gpu budget ${budget} s (${SECONDS} s spent)"
  [ "$budget" -gt 0 ] || exit 6
  timeout -k 10 $((budget + 10)) python3 -m bench.gpu "${DRY[@]}" --out "$WORK/report" --work "$WORK" \
    --timeout "$CHILD_S" --budget "$budget"
}

check 2>&1 | tee "$WORK/device.log"
code=${PIPESTATUS[0]}
cp "$WORK/report/gpu_results.md" "$WORK/report/gpu_results.json" "$OUT/" 2>/dev/null
(cd "$WORK" && find device.log report gpu/runs dry-run/runs -maxdepth 3 -size -8M \
  \( -name '*.log' -o -name '*.json' -o -name '*.yaml' \) -print0 2>/dev/null |
  tar -czf "$OUT/logs.tar.gz" --null -T -)
echo "exit $code after ${SECONDS} s; in \$OUT: $(ls "$OUT" | tr '\n' ' ')"
exit "$code"
