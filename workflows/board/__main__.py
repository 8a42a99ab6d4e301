"""LLaMA-Board on 127.0.0.1 with the pack's datasets and recipes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from piifactory.command_line import command_parser
from piifactory.io import InputError
from workflows.board import BoardSettings, serve


def parse_args(argv: list[str] | None = None) -> BoardSettings:
    parser = command_parser(__name__, __doc__, "--port 7860")
    parser.add_argument("--root", type=Path, default=Path("."), help="pack root: dataset_info.json, recipes, saves/")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (0.0.0.0 exposes the board to the network)")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)), help="port (GRADIO_SERVER_PORT)"
    )
    parser.add_argument("--dataset-dir", default=".", help="folder of dataset_info.json, relative to --root")
    args = parser.parse_args(argv)
    return BoardSettings(root=args.root.resolve(), host=args.host, port=args.port, dataset_dir=args.dataset_dir)


def main(argv: list[str] | None = None) -> int:
    try:
        serve(parse_args(argv))
    except (InputError, FileNotFoundError) as exc:  # a broken recipe (file:line) or no dataset_info.json
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
