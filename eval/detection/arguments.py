"""The detector's command-line flags, one definition for ``eval.predict``, ``scan`` and ``serve``."""

from __future__ import annotations

import argparse
from pathlib import Path

from eval.decoding.dial import OperatingPoint, parse_min_score, read_point
from eval.detection.detector import BACKENDS, Options


def add_arguments(parser: argparse.ArgumentParser, *, second_look: bool = True) -> None:
    """Backend, decoding, operating point and rules flags (``--batch-size``, ``--max-new-tokens`` too)."""
    parser.add_argument("--batch-size", type=int, default=8, help="prompts generated together")
    parser.add_argument("--max-new-tokens", type=int, default=512, help="answer length limit")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="hf",
        help="llamacpp: the --gguf file on CPU through llama.cpp (eval/decoding/llamacpp_backend.py)",
    )
    parser.add_argument(
        "--gguf",
        type=Path,
        help="GGUF model for --backend llamacpp (the recipe still gives the "
        "tokenizer and template: point model_name_or_path at the exported HF model)",
    )
    parser.add_argument(
        "--values",
        choices=("copy", "free"),
        default="copy",
        help="copy: a value can only be text of the input (copy-constrained decoding, hf and "
        "llamacpp backends); "
        "free: plain greedy decoding, the model's raw answer",
    )
    parser.add_argument(
        "--no-structure",
        action="store_true",
        help="copy-constrained values only, without holding the rest of the answer to the format "
        "(structure-safe decoding is on by default with --values copy)",
    )
    parser.add_argument(
        "--operating-point",
        type=Path,
        help="recall bias and score thresholds chosen by python -m eval.calibrate (flags below win)",
    )
    parser.add_argument(
        "--recall-bias",
        type=float,
        help="logit offset against closing the entity list: > 0 makes the model propose more entities",
    )
    parser.add_argument("--min-score", help="keep entities scoring at least S: S, or S,TYPE=S,... per type")
    if second_look:
        parser.add_argument(
            "--second-look",
            action="store_true",
            help="predict again with the found values masked and add what that finds (twice the time)",
        )
    parser.add_argument(
        "--rules",
        choices=("off", "union", "verify", "both"),
        default="off",
        help="merge checksum-verified rule hits: union adds missed ones (recall), verify drops "
        "predictions failing their checksum (precision), both does the two",
    )


def options(ns: argparse.Namespace) -> Options:
    """The detector options the parsed flags ask for (a bad operating point file raises InputError)."""
    return Options(
        backend=ns.backend,
        gguf=ns.gguf,
        values=ns.values,
        structure=not ns.no_structure,
        point=operating_point(ns.operating_point, ns.recall_bias, ns.min_score),
        rules=ns.rules,
        second_look=getattr(ns, "second_look", False),
        batch_size=ns.batch_size,
        max_new_tokens=ns.max_new_tokens,
    )


def operating_point(path: Path | None, recall_bias: float | None, min_score: str | None) -> OperatingPoint:
    """The point from a calibration file, with ``--recall-bias`` / ``--min-score`` overriding it."""
    point = read_point(path) if path is not None else OperatingPoint()
    if recall_bias is not None:
        point = OperatingPoint(recall_bias, point.min_score, point.per_type)
    if min_score is not None:
        default, per_type = parse_min_score(min_score)
        point = OperatingPoint(point.recall_bias, default, per_type)
    return point
