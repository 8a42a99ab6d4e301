"""``python -m bench.audit_speed_child INPUT``: one label audit in a fresh interpreter, printing its
records, seconds and peak RSS as JSON (the parent's memory never counts)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from bench.convert_child import peak_rss_kb
from converters.audit import audit


def main(argv: list[str]) -> int:
    src = Path(argv[0])
    start = time.perf_counter()
    result = audit([src], findings_path=src.with_suffix(".findings.jsonl"), progress=False)
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "records": result.read,
                "seconds": seconds,
                "peak_rss_mb": peak_rss_kb() / 1024,
                "surfaces": len(result.surfaces),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
