"""``python -m bench.convert_child INPUT OUT_DIR``: one conversion in a fresh interpreter,
printing its records, seconds and peak RSS as JSON (the parent's memory never counts)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from converters import ConvertOptions, convert


def main(argv: list[str]) -> int:
    src, out = Path(argv[0]), Path(argv[1])
    start = time.perf_counter()
    summary = convert([src], ConvertOptions(name="bench", out_dir=out, dataset_info=None, progress=False))
    seconds = time.perf_counter() - start
    print(json.dumps({"records": summary.read, "seconds": seconds, "peak_rss_mb": peak_rss_kb() / 1024}))
    return 0


def peak_rss_kb() -> int:
    """This process's own peak RSS (VmHWM). Not ``ru_maxrss``: that survives exec, so a child
    would report its parent's peak when the parent (the benchmark runner) was larger."""
    with open("/proc/self/status", encoding="ascii") as handle:
        return int(next(line for line in handle if line.startswith("VmHWM:")).split()[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
