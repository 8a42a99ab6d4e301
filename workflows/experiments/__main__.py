"""``python -m workflows.experiments run EXPERIMENT.yaml [--address ADDR]`` and ``report``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from piifactory.errors import PiiFactoryError
from piifactory.extras import require
from piifactory.io import InputError

STORAGE = "outputs/experiments"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workflows.experiments", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the experiment, or resume it where it stopped; then write the report")
    run.add_argument("experiment", type=Path, help="experiment YAML (docs/experiments.md)")
    run.add_argument(
        "--storage",
        default=STORAGE,
        help=f"experiments folder (default {STORAGE}); on a cluster a folder every node sees at the same path",
    )
    run.add_argument(
        "--address",
        help="an existing Ray cluster (ray://HOST:10001 or HOST:6379, or auto); default: a local Ray on this machine",
    )
    run.add_argument("--num-cpus", type=float, help="local Ray only: CPUs it may use (default: all)")
    run.add_argument("--num-gpus", type=float, help="local Ray only: GPUs it may use (default: all)")
    report = commands.add_parser("report", help="write the report again from the trial folders (no training)")
    report.add_argument("experiment", type=Path)
    report.add_argument("--storage", default=STORAGE)
    ns = parser.parse_args(argv)
    try:
        require("ray", "ray", "python -m workflows.experiments")
        if ns.command == "run":
            from workflows.experiments.runner import run as run_experiment

            exp_dir = run_experiment(
                ns.experiment, storage=ns.storage, address=ns.address, num_cpus=ns.num_cpus, num_gpus=ns.num_gpus
            )
        else:
            from workflows.experiments.runner import report_only

            exp_dir = report_only(ns.experiment, storage=ns.storage)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (PiiFactoryError, OSError) as exc:
        print(f"error: {ns.experiment}: {exc}", file=sys.stderr)
        return 2
    print(f"experiment folder: {exp_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
