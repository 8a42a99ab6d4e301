#!/usr/bin/env bash
# The GPU check on the lent device machine (docs/bench-gpu.md), in two calls that fit its limits
# (15 minutes of device time in all, 10 per command, 64 MiB carried per call). First, here:
#   make gpu-wheels                      # .whl/: the cp312 wheels the machine lacks (about 30 MiB)
# then one device call per part, each with carry [".whl"] and timeout_s 570:
#   bash bench/gpu_device.sh 1           # Qwen3-0.6B bf16 LoRA, Qwen3-4B QLoRA (the users' 12 GB recipe)
#   bash bench/gpu_device.sh 2           # Qwen3-1.7B bf16 LoRA, Qwen2.5-3B QLoRA (Unsloth if carried)
# and give the machine back after part 2. Each part installs the wheels once per machine, puts the
# pack and its start-up hook on the interpreter's path, runs `python -m bench.gpu` on its recipes
# and leaves gpu_results_partN.{md,json} and logs_partN.tar.gz in $OUT (at most 8 files come back);
# the table is printed last. Then, here:
#   python -m bench.gpu --combine <files>/gpu_results_part1.json <files>/gpu_results_part2.json
# writes bench/gpu_results.md.
set -uo pipefail
part=${1:?usage: bash bench/gpu_device.sh 1|2}
case "$part" in
  1) recipes=(--only qwen3_0.6b_lora --only qwen4b_lora) ;;
  2) recipes=(--only qwen3_1.7b_lora --only qwen2.5_3b_qlora_qa --only qwen4b_lora_unsloth) ;;
  *) echo "part is 1 or 2" >&2; exit 2 ;;
esac
OUT=${OUT:-$PWD/outputs/gpu-device}
WORK=${PII_BENCH_WORK:-/tmp/pii-bench}
SITE=$WORK/site
mkdir -p "$OUT" "$WORK/report"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || exit 3

# 1. the carried wheels, ahead of the image's packages (its transformers 5.17, accelerate 1.15, ...)
if [ ! -f "$SITE/.installed" ]; then
  ls .whl/*.whl >/dev/null 2>&1 || { echo "no .whl/: run make gpu-wheels and carry .whl" >&2; exit 3; }
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl || exit 3
  touch "$SITE/.installed"
fi
export PYTHONPATH="$SITE"
# 2. the pack: the repository on sys.path and its start-up hook, as `pip install -e .` would do
#    (plugins/_build.py); one .pth line so the path is in place before the hook imports.
purelib=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "import sys; sys.path.insert(0, '$PWD'); import plugins._startup" > "$purelib/pii_factory_hook.pth" || exit 4
python3 - <<'EOF' || exit 4
import sys
import llamafactory, transformers, peft, trl, datasets, torch
assert any(type(f).__name__ == "_TunerHook" for f in sys.meta_path), "the start-up hook did not load"
print("llamafactory", llamafactory.__version__, "transformers", transformers.__version__, "peft", peft.__version__,
      "torch", torch.__version__, "cuda", torch.cuda.is_available())
EOF

# 3. the recipes of this part, most important first; each child has its own time limit
timeout 500 python3 -m bench.gpu "${recipes[@]}" --out "$WORK/report" --work "$WORK" --timeout 240 \
  2>&1 | tee "$WORK/bench-part$part.log"
code=${PIPESTATUS[0]}
cp "$WORK/report/gpu_results.md" "$OUT/gpu_results_part$part.md" 2>/dev/null
cp "$WORK/report/gpu_results.json" "$OUT/gpu_results_part$part.json" 2>/dev/null
tar -czf "$OUT/logs_part$part.tar.gz" -C "$WORK" "bench-part$part.log" report 2>/dev/null
echo "bench.gpu exit $code; in \$OUT: $(ls "$OUT" | tr '\n' ' ')"
exit "$code"
