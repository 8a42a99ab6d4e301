"""Write synthetic Chinese PII samples in the users' JSONL format.

``--genres varied --types PERSON=3,ADDRESS=2`` draws text unlike the one-sentence templates and
more of some types (data augmentation); ``--list-genres`` lists the genres.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from piifactory.command_line import command_parser, hidden_alias
from piifactory.errors import PiiFactoryError
from piifactory.io import atomic_write_lines
from piifactory.synth.generator import SyntheticPII
from piifactory.synth.genres import GENRES, VARIED_GENRES

_GROUPS = {"all": tuple(GENRES), "varied": VARIED_GENRES}


def parse_weights(text: str, groups: dict[str, tuple[str, ...]] | None = None) -> dict[str, float]:
    """``A=3,B,C=0.5`` -> ``{"A": 3.0, "B": 1.0, "C": 0.5}``; a group name stands for its members."""
    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, weight = item.partition("=")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad weight in {item!r}: expected NAME=NUMBER") from None
        for member in (groups or {}).get(name, (name,)):
            weights[member] = value
    if not weights:
        raise argparse.ArgumentTypeError("expected NAME[=WEIGHT],...")
    return weights


def main(argv: list[str] | None = None) -> int:
    parser = command_parser(__name__, __doc__, "--samples 2000 --seed 0 --out data/pii_synth.jsonl")
    parser.add_argument("--samples", type=int, default=2000, help="number of samples")
    hidden_alias(parser, "--n", "samples", type=int)
    parser.add_argument("--seed", type=int, default=0, help="random seed: the same seed writes the same samples")
    parser.add_argument("--out", type=Path, help="JSONL file in the users' format")
    parser.add_argument(
        "--genres",
        type=lambda s: parse_weights(s, _GROUPS),
        default=None,
        help="NAME[=WEIGHT],... of genres, or 'all' / 'varied' (every genre but templates); "
        "default: templates (see --list-genres)",
    )
    parser.add_argument(
        "--types",
        type=parse_weights,
        default=None,
        help="TYPE=WEIGHT,...: draw positive templates holding TYPE WEIGHT times as often",
    )
    parser.add_argument("--neg-share", type=float, default=1 / 3, help="share of samples without PII")
    hidden_alias(parser, "--negative-ratio", "neg_share", type=float)
    parser.add_argument(
        "--genre-field",
        action="store_true",
        help='add each record\'s genre as a "genre" key (to split or score by genre)',
    )
    parser.add_argument("--list-genres", action="store_true", help="print the genres and exit")
    args = parser.parse_args(argv)
    if args.list_genres:
        for genre in GENRES.values():
            print(f"{genre.name:<16} {genre.description}")
        return 0
    if args.out is None:
        parser.error("--out is required")
    try:
        generator = SyntheticPII(args.seed, args.neg_share, genres=args.genres, types=args.types)
        records = (generator.labelled_sample() for _ in range(args.samples))
        lines = (
            json.dumps({**s.to_user_json(), **({"genre": g} if args.genre_field else {})}, ensure_ascii=False)
            for g, s in records
        )
        atomic_write_lines(args.out, lines)
    except (PiiFactoryError, OSError) as exc:
        print(f"{args.out}: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.samples} samples to {args.out}", file=sys.stderr)
    return 0
