"""``python -m bench.convert_child INPUT OUT_DIR``: one conversion in a fresh interpreter,
printing its records, seconds and peak RSS as JSON (the parent's memory never counts)."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from converters import ConvertOptions, convert


def main(argv: list[str]) -> int:
    src, out = Path(argv[0]), Path(argv[1])
    start = time.perf_counter()
    summary = convert([src], ConvertOptions(name="bench", out_dir=out, dataset_info=None, progress=False))
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    print(json.dumps({"records": summary.read, "seconds": seconds, "peak_rss_mb": peak_kb / 1024}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
