"""Find (and redact) PII in JSONL, CSV, Parquet or text files, or a folder of them, with the
trained detector or the rules alone; resumable, in one process or on Ray Data.

``pii-factory scan [RECIPE [key=value ...]] --input PATH --out FILE``: the recipe's model with the
pack's decoding, operating point and rules (``--rules-only``: the recognizers alone, no model)
writes JSONL: each input row with its fields plus ``entities`` (spans with offsets into the text)
and, with ``--redact``, ``redacted``. Parts are written atomically: a scan killed and run again
with the same command finishes the same file. ``--ray`` runs the detector as a Ray Data actor
pool (docs/detector.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Iterable

from tqdm.auto import tqdm

from eval.detection.arguments import add_arguments, options
from eval.detection.detector import Detector, Options
from eval.detection.inference_args import load_recipe
from eval.detection.operators import check_operators
from piifactory.command_line import command_parser
from piifactory.errors import PiiFactoryError, UsageError
from piifactory.io import InputError
from piifactory.iterate import batched
from workflows.scan.inputs import Record, iter_records
from workflows.scan.output import output_line
from workflows.scan.parts import Parts

PART_SIZE = 1000


def scan_here(
    records: Iterable[Record], parts: Parts, detector: Detector, operators: dict | None, progress: bool
) -> tuple[int, int]:
    """Scan in this process, part by part; returns (rows in the input, rows scanned now)."""
    count = scanned = 0
    step = max(1, detector.options.batch_size * 4)
    with tqdm(desc="scan", unit="doc", disable=not progress) as bar:
        for index, chunk in enumerate(batched(records, parts.part_size)):
            count += len(chunk)
            if not parts.done(index):
                spans = [s for batch in batched(chunk, step) for s in detector.analyze([r.text for r in batch])]
                parts.write(index, (output_line(r, s, operators) for r, s in zip(chunk, spans)))
                scanned += len(chunk)
            bar.update(len(chunk))
    return count, scanned


class Summary:
    """Entities per type and per source, counted over the output lines it is shown."""

    def __init__(self) -> None:
        self.by_type: Counter = Counter()
        self.by_source: Counter = Counter()

    def see(self, line: str) -> None:
        for span in json.loads(line)["entities"]:
            self.by_type[span["type"]] += 1
            self.by_source[span["source"]] += 1


def read_operators(path: Path | None) -> dict:
    """The operators of an ``--operators`` file (none: every span becomes ``<TYPE>``), checked."""
    if path is None:
        return {}
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(path, exc.lineno, f"invalid JSON: {exc.msg}") from None
    try:
        check_operators(spec)
    except UsageError as exc:
        raise InputError(path, None, str(exc)) from None
    return spec


def main(argv: list[str] | None = None) -> int:
    parser = command_parser(
        __name__,
        __doc__,
        "llamafactory_configs/qwen4b_lora.yaml adapter_name_or_path=saves/qwen3-4b/pii --rules both "
        "--input records.jsonl --out found.jsonl --redact",
    )
    parser.allow_abbrev = False
    parser.add_argument(
        "recipe", nargs="?", help="training recipe YAML (model, adapter, template); none with --rules-only"
    )
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. adapter_name_or_path=outputs/x")
    parser.add_argument(
        "--input", required=True, type=Path, help="JSONL, CSV, Parquet, plain text, or a folder of them"
    )
    parser.add_argument("--out", required=True, type=Path, help="output JSONL (written when the scan is complete)")
    parser.add_argument("--text-field", default="input", help="the text column of JSONL, CSV and Parquet rows")
    parser.add_argument("--rules-only", action="store_true", help="the recognizers alone: no model, CPU")
    parser.add_argument("--redact", action="store_true", help="add `redacted`: the text with every span replaced")
    parser.add_argument(
        "--operators",
        type=Path,
        help='JSON {TYPE or DEFAULT: {"type": replace|mask|hash|redact|keep, ...}} for --redact',
    )
    parser.add_argument("--part-size", type=int, default=PART_SIZE, help="rows per part (the unit of resuming)")
    parser.add_argument("--ray", metavar="ADDRESS", help="run on Ray Data: local, auto, or HOST:PORT of a cluster")
    parser.add_argument("--actors", type=int, default=1, help="with --ray: detectors (one model each)")
    parser.add_argument("--gpus-per-actor", type=float, default=0.0, help="with --ray: GPUs each actor holds")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_arguments(parser)
    ns = parser.parse_args(argv)
    try:
        return _scan(ns)
    except (PiiFactoryError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _scan(ns: argparse.Namespace) -> int:
    if ns.rules_only == (ns.recipe is not None):
        raise UsageError("give a RECIPE, or --rules-only (not both)")
    chosen: Options = options(ns) if not ns.rules_only else Options(rules="union")
    recipe = load_recipe(ns.recipe, ns.overrides) if ns.recipe is not None else None
    if ns.operators and not ns.redact:
        raise UsageError("--operators needs --redact")
    operators = read_operators(ns.operators) if ns.redact else None
    settings = {
        "recipe": str(Path(ns.recipe).resolve()) if ns.recipe else None,
        "overrides": list(ns.overrides),
        "input": str(ns.input.resolve()),
        "text_field": ns.text_field,
        "options": repr(chosen),
        "redact": operators,
    }
    parts = Parts(ns.out, settings, ns.part_size)
    records = iter_records(ns.input, ns.text_field)
    started = time.perf_counter()
    if ns.ray:
        from workflows.scan.on_ray import scan_on_ray

        count, scanned = scan_on_ray(
            records, parts, recipe, chosen, operators, ns.ray, ns.actors, ns.gpus_per_actor, not ns.no_progress
        )
    else:
        detector = Detector.build(recipe, chosen)
        count, scanned = scan_here(records, parts, detector, operators, not ns.no_progress)
        detector.report()
    seconds = time.perf_counter() - started
    found = Summary()
    parts.finish(count, found.see)
    print(
        f"{count} rows -> {ns.out} ({scanned} scanned now in {seconds:.1f} s, {scanned / max(seconds, 1e-9):.1f} docs/s)\n"
        f"entities by type: {_counts(found.by_type)}\nentities by source: {_counts(found.by_source)}",
        file=sys.stderr,
    )
    return 0


def _counts(counter: Counter) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))) or "none"
