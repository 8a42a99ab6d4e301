"""Check that a recipe fits in GPU memory and is consistent (exit 1 on errors, 2 when the
recipe cannot be read)."""

from __future__ import annotations

import sys

from piifactory.command_line import command_parser
from piifactory.errors import PiiFactoryError
from piifactory.recipe_file import apply_overrides, read_recipe
from plugins.preflight.core import run_preflight


def main(argv: list[str] | None = None) -> int:
    parser = command_parser(__name__, __doc__, "llamafactory_configs/qwen4b_lora.yaml --gpu-mem 24")
    parser.add_argument("recipe", help="training recipe YAML")
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
