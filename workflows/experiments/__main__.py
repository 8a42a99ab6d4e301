"""A/B runs and sweeps on Ray Tune, resumable, with a comparison report (run, report)."""

from __future__ import annotations

import sys
from pathlib import Path

from piifactory.command_line import add_command, command_parser
from piifactory.errors import PiiFactoryError
from piifactory.io import InputError

STORAGE = "outputs/experiments"


def main(argv: list[str] | None = None) -> int:
    parser = command_parser(__name__, __doc__, "run llamafactory_configs/experiments/tiny_cpu_sweep.yaml")
    commands = parser.add_subparsers(dest="command", required=True)
    run = add_command(
        commands,
        "run",
        "run the experiment, or resume it where it stopped; then write the report",
        "llamafactory_configs/experiments/tiny_cpu_sweep.yaml --num-cpus 2",
    )
    run.add_argument("experiment", type=Path, help="experiment YAML (docs/experiments.md)")
    run.add_argument(
        "--storage",
        default=STORAGE,
        help="experiments folder; on a cluster a folder every node sees at the same path",
    )
    run.add_argument(
        "--address",
        help="an existing Ray cluster (ray://HOST:10001 or HOST:6379, or auto); default: a local Ray on this machine",
    )
    run.add_argument("--num-cpus", type=float, help="local Ray only: CPUs it may use (default: all)")
    run.add_argument("--num-gpus", type=float, help="local Ray only: GPUs it may use (default: all)")
    report = add_command(
        commands,
        "report",
        "write the report again from the trial folders (no training)",
        "llamafactory_configs/experiments/tiny_cpu_sweep.yaml",
    )
    report.add_argument("experiment", type=Path, help="the experiment YAML that was run")
    report.add_argument("--storage", default=STORAGE, help="experiments folder the run wrote to")
    ns = parser.parse_args(argv)
    try:
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
