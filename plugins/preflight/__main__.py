"""``python -m plugins.preflight RECIPE [--gpu-mem GB] [--gpus N] [key=value ...]``; exit 1 on errors,
2 when the recipe cannot be read."""

from __future__ import annotations

import argparse
import sys

from piifactory.errors import PiiFactoryError
from piifactory.recipe_file import apply_overrides, read_recipe
from plugins.preflight.core import run_preflight


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plugins.preflight", description=__doc__)
    parser.add_argument("recipe")
    parser.add_argument(
        "--gpu-mem",
        type=float,
        default=None,
        help="card memory in GiB (default: the recipe's pii_factory.preflight.gpu_mem_gb)",
    )
    parser.add_argument("--gpus", type=int, default=1, help="GPUs per node, for DeepSpeed ZeRO sharding")
    parser.add_argument("overrides", nargs="*", help="key=value, as on llamafactory-cli's command line")
    args = parser.parse_intermixed_args(argv)
    try:
        config = apply_overrides(read_recipe(args.recipe), args.overrides)
    except (PiiFactoryError, OSError) as exc:  # InputError (the file, as file:line) included
        print(f"preflight: {exc}", file=sys.stderr)
        return 2
    report = run_preflight(config, gpu_mem_gb=args.gpu_mem, recipe_path=args.recipe, num_gpus=args.gpus)
    print(report.render())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
