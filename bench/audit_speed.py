"""The label audit against ``converters convert`` on the same input, side by side (the machine
may be loaded: only the ratio means something), and the audit's peak memory as the input grows.

Each run is a fresh subprocess so its peak RSS is its own. The audit reads its input twice and
keeps per-surface counters, so its memory follows the distinct labelled surfaces (bounded here by
the synthetic pool), not the records.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from types import ModuleType

from bench import audit_speed_child, convert_child
from bench.common import Row, scaled
from bench.convert import LARGE, SMALL, USERS_SIZE, write_input
from piifactory.child import python_m

_REPO = Path(__file__).resolve().parents[1]


def _child(module: ModuleType, *args: Path) -> dict[str, float]:
    proc = subprocess.run(python_m(module, *args), capture_output=True, text=True, check=False, cwd=_REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"{module.__name__} failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout)


def _pair(src: Path, work: Path) -> tuple[float, float]:
    """Records/s of convert and of audit on ``src``, best of two alternated rounds each."""
    convert, audit = 0.0, 0.0
    for _ in range(2):
        done = _child(convert_child, src, work / "out")
        convert = max(convert, done["records"] / done["seconds"])
        done = _child(audit_speed_child, src)
        audit = max(audit, done["records"] / done["seconds"])
    return convert, audit


def run(scale: float) -> list[Row]:
    users, small, large = (
        scaled(size, scale, floor) for size, floor in ((USERS_SIZE, 500), (SMALL, 1_000), (LARGE, 10_000))
    )
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        work = Path(tmp)
        src = work / "users.jsonl"
        write_input(src, users)
        convert, audit = _pair(src, work)
        sizes = {}
        for n in (small, large):
            path = work / f"in_{n}.jsonl"
            write_input(path, n)
            sizes[n] = _child(audit_speed_child, path)
            path.unlink()
    low, high = sizes[small], sizes[large]
    note = f"{users} users'-format records, the same file; best of 2 alternated rounds each"
    return [
        Row("converters", "audit (2 passes, every check, findings JSONL)", audit, "records/s", note),
        Row(
            "converters", "audit / convert speed", audit / convert, "ratio", f"{note}; convert {convert:,.0f} records/s"
        ),
        Row(
            "converters",
            f"audit peak RSS {large} / {small} records",
            high["peak_rss_mb"] / low["peak_rss_mb"],
            "ratio",
            f"{high['peak_rss_mb']:.0f} MB vs {low['peak_rss_mb']:.0f} MB, {high['surfaces']:.0f} vs {low['surfaces']:.0f} surfaces kept (flat = 1)",
        ),
    ]
