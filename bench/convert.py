"""``converters.convert`` throughput at the users' size, and peak memory as the input grows.

Each size runs in its own subprocess (:mod:`bench.convert_child`) so its peak RSS is its own:
a flat pipeline shows the same peak for 1M records as for 100k.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from itertools import cycle, islice
from pathlib import Path

import bench.convert_child
from bench.common import Row, scaled
from piifactory.child import python_m
from piifactory.synth import generate

USERS_SIZE = 56_000
SMALL, LARGE = 100_000, 1_000_000
_POOL = 5_000


def write_input(path: Path, n: int, seed: int = 0) -> None:
    """``n`` users'-format records: a pool of synthetic samples, each text made unique by a
    numbered suffix (offsets unchanged), streamed to ``path``."""
    pool = generate(min(n, _POOL), seed=seed)
    with open(path, "w", encoding="utf-8") as handle:
        for i, sample in enumerate(islice(cycle(pool), n)):
            record = sample.to_user_json()
            record["input"] += f"（第{i}条）"
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def measure(n: int, workdir: Path) -> dict[str, float]:
    """Convert ``n`` records in a fresh interpreter; its records, seconds and peak RSS."""
    src = workdir / f"in_{n}.jsonl"
    write_input(src, n)
    out = workdir / f"out_{n}"
    proc = subprocess.run(
        [*python_m(bench.convert_child), str(src), str(out)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench.convert_child failed on {n} records: {proc.stderr.strip()[-2000:]}")
    src.unlink()
    for path in out.iterdir():
        path.unlink()
    return json.loads(proc.stdout)


def run(scale: float) -> list[Row]:
    users, small, large = (
        scaled(size, scale, floor) for size, floor in ((USERS_SIZE, 500), (SMALL, 1_000), (LARGE, 10_000))
    )
    with tempfile.TemporaryDirectory(prefix="bench-convert-") as tmp:
        work = Path(tmp)
        speed = measure(users, work)
        low = measure(small, work)
        high = measure(large, work)
    return [
        Row(
            "converters",
            "convert (check + split + write)",
            speed["records"] / speed["seconds"],
            "records/s",
            f"{users} users'-format records, JSON out, 0.8/0.1/0.1 split",
        ),
        Row(
            "converters",
            f"peak RSS {large} / {small} records",
            high["peak_rss_mb"] / low["peak_rss_mb"],
            "ratio",
            f"{high['peak_rss_mb']:.0f} MB vs {low['peak_rss_mb']:.0f} MB, one subprocess each (flat = 1)",
        ),
    ]
