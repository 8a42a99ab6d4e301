"""The demo under three training seeds: is its F1 a property of the recipe or of one lucky seed?

    python -m bench.demo_seeds                 # seeds 42 (the recipe's), 1 and 2, in .cache/demo_seeds/
    python -m bench.demo_seeds --seeds 7 8 --quick

Each seed runs the whole ``python -m workflows.demo`` in a workspace of its own (``--root``) with
``seed=N`` passed on to ``llamafactory-cli train`` (model initialisation and data order; the data
are the same for every seed), then one table prints the test-split F1, the F1 on held-out genres
and the training time of each, with the CPU they ran on. Not part of ``make bench``: three full
demos take three times the demo's time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

import workflows.demo
from piifactory.child import python_m
from piifactory.machine import cpu_line
from piifactory.tables import markdown_table

REPO = Path(__file__).resolve().parents[1]


def run_seed(seed: int, root: Path, quick: bool) -> list[str]:
    """One demo run; its table row (seed, test F1, held-out-genre F1, train seconds, exit code)."""
    root.mkdir(parents=True, exist_ok=True)
    command = [
        *python_m(workflows.demo),
        "--root",
        str(root),
        *(["--quick"] if quick else []),
        f"seed={seed}",
    ]
    log = root / "demo.log"
    with log.open("w", encoding="utf-8") as handle:
        code = subprocess.run(
            command,
            cwd=REPO,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")},
        ).returncode
    report = root / "outputs/tiny_cpu_demo/report"
    try:
        test = json.loads((report / "score.json").read_text(encoding="utf-8"))["micro"]["f1"]
        genres = json.loads((report / "rules_vs_model_genres.json").read_text(encoding="utf-8"))["model"]["micro"]["f1"]
    except (OSError, KeyError, ValueError):
        return [str(seed), "-", "-", "-", f"{code} (see {log})"]
    train = next(
        (
            line.split(":")[1].strip()
            for line in log.read_text(encoding="utf-8").splitlines()
            if line.startswith("[demo] train (llamafactory-cli):")
        ),
        "-",
    )
    return [str(seed), f"{test:.3f}", f"{genres:.3f}", train, str(code)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.demo_seeds", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2], help="training seeds (default 42 1 2)")
    parser.add_argument("--workdir", type=Path, default=REPO / ".cache/demo_seeds", help="one workspace per seed")
    parser.add_argument("--quick", action="store_true", help="the demo's shortened run (a smoke test of this script)")
    args = parser.parse_args(argv)
    rows = []
    for seed in args.seeds:
        print(f"[demo_seeds] seed {seed} ...", flush=True)
        rows.append(run_seed(seed, args.workdir / f"seed{seed}", args.quick))
    print(f"\nOn {cpu_line()}:\n")
    print(markdown_table(["seed", "test F1", "held-out genres F1", "train", "exit"], rows, align="rrrrr"))
    return 0 if all(row[-1] == "0" for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
