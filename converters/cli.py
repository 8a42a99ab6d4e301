"""PII data into checked, split LLaMA-Factory datasets (convert), their statistics (stats), a
label audit (audit) and the real-corpus conformance table (conformance).

Every error the user can cause is printed as one ``file:line: what is wrong`` line with exit
status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from converters import audit_report, conformance
from converters.audit import audit
from converters.balance import Balance, parse_oversample
from converters.conll import TOKEN_FORMS
from converters.formats import FORMATS
from converters.label_presets import PRESETS, LabelPreset, get_preset, label_map_of
from converters.pipeline import ConvertOptions, convert
from converters.stats import compute_stats, template_measure
from converters.writers import Prompting
from piifactory.command_line import add_command, command_parser
from piifactory.errors import PiiFactoryError, UsageError
from piifactory.io import InputError, atomic_write_text, parse_json
from piifactory.schema import DEFAULT_INSTRUCTION, UnknownLabelError, canonical_type


def load_label_map(path: Path) -> dict[str, str | None]:
    """A JSON object label -> canonical type (or an alias of one), or null to drop the label."""
    try:
        mapping = parse_json(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, None, f"cannot read the label map: {exc}") from None
    if not isinstance(mapping, dict):
        raise InputError(path, None, "a label map must be a JSON object of label -> type or null")
    for label, target in mapping.items():
        if target is None:
            continue
        try:
            canonical_type(target) if isinstance(target, str) else canonical_type("")
        except UnknownLabelError:
            raise InputError(path, None, f"label {label!r} maps to {target!r}, which is not a PII type") from None
    return mapping


def resolve_label_map(spec: str) -> dict[str, str | None] | LabelPreset:
    """``--label-map``: a mapping file when one exists at that path, else a preset's name."""
    path = Path(spec)
    return load_label_map(path) if path.is_file() else get_preset(spec)


def _ratios(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3:
        raise argparse.ArgumentTypeError("expected TRAIN,VAL,TEST such as 0.8,0.1,0.1")
    return parts  # type: ignore[return-value]


def _reading(parser: argparse.ArgumentParser) -> None:
    """The options that say how to read the inputs (every command that reads them)."""
    parser.add_argument("inputs", nargs="+", type=Path, help="input files (JSONL, JSON array or CoNLL/BIO)")
    parser.add_argument(
        "--from", dest="fmt", choices=FORMATS, help="input format (default: detected from the first record)"
    )
    parser.add_argument(
        "--label-map",
        help=f"a preset ({', '.join(sorted(PRESETS))}) or a JSON file: label -> canonical type, or null to drop",
    )
    parser.add_argument(
        "--conll-tokens",
        choices=TOKEN_FORMS,
        default="auto",
        help="CoNLL tokens: plain, or char-position (a character and its position in the word, Weibo NER's revised files); auto detects",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _common(parser: argparse.ArgumentParser) -> None:
    _reading(parser)
    parser.add_argument(
        "--instruction", default=DEFAULT_INSTRUCTION, help="instruction of every PII row (default: the schema's)"
    )
    parser.add_argument("--system", help="system prompt of every PII row (default: none)")


# The subcommands and what each does: the help below and ``pii-factory --help`` read this table.
SUBCOMMANDS = {
    "convert": "PII data (JSONL, JSON, CoNLL/BIO) -> checked, split, balanced LLaMA-Factory datasets, registered",
    "stats": "Type counts, positive ratio, token lengths and the cutoff_len that truncates no answer",
    "audit": "Missing and contradictory labels: repeats left unlabelled, rule hits the gold misses, ...",
    "conformance": "Convert every corpus of a real-data folder with its label preset, in one table",
}


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser(__name__, __doc__, "convert my_pii.jsonl --name pii --out-dir data")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(SUBCOMMANDS) + "}")
    conv = add_command(sub, "convert", SUBCOMMANDS["convert"], "my_pii.jsonl --name pii --out-dir data")
    _common(conv)
    conv.add_argument("--name", required=True, help="dataset name; splits are NAME_train, NAME_val, NAME_test")
    conv.add_argument("--out-dir", type=Path, default=Path("data"), help="folder of the written splits")
    conv.add_argument(
        "--format", dest="style", choices=("alpaca", "sharegpt"), default="alpaca", help="LLaMA-Factory dataset format"
    )
    conv.add_argument("--file-type", choices=("json", "jsonl"), default="json", help="file type of the splits")
    conv.add_argument("--split", type=_ratios, default=(0.8, 0.1, 0.1), help="TRAIN,VAL,TEST ratios (1,0,0: one file)")
    conv.add_argument("--dataset-info", type=Path, default=Path("dataset_info.json"), help="registry to merge into")
    conv.add_argument("--no-register", action="store_true", help="do not touch dataset_info.json")
    conv.add_argument("--overwrite", action="store_true", help="replace registry entries of the same name")
    conv.add_argument("--skip-invalid", action="store_true", help="write bad records to a rejects file and go on")
    conv.add_argument("--rejects", type=Path, help="rejects file (default OUT_DIR/NAME_rejects.jsonl)")
    conv.add_argument(
        "--overlap", choices=("error", "longest"), default="error", help="overlapping spans: error, or keep the longest"
    )
    conv.add_argument("--max-tokens", type=int, help="chunk texts longer than this many tokens")
    conv.add_argument("--chunk-overlap", type=int, default=0, help="tokens shared by consecutive chunks")
    conv.add_argument("--tokenizer", help="local tokenizer folder for --max-tokens (default: one token per character)")
    conv.add_argument(
        "--oversample", action="append", default=[], metavar="positive=N|TYPE=N", help="copies in train (repeatable)"
    )
    conv.add_argument("--neg-ratio", type=float, help="keep at most this many negatives per positive in train")
    st = add_command(sub, "stats", SUBCOMMANDS["stats"], "data/pii_train.json --tokenizer Qwen/Qwen3-4B")
    _common(st)
    st.add_argument("--tokenizer", help="local tokenizer folder of the target model")
    st.add_argument("--template", default="qwen3", help="LLaMA-Factory template")
    st.add_argument("--enable-thinking", action="store_true", help="as the template's enable_thinking")
    st.add_argument("--json", action="store_true", help="print the stats as JSON")
    conf = add_command(sub, "conformance", SUBCOMMANDS["conformance"], "real-data/")
    conf.add_argument("folder", type=Path, help="a folder of corpora, one sub-folder each with its SOURCE.md")
    conf.add_argument("--out", type=Path, help="also write the Markdown report here")
    aud = add_command(sub, "audit", SUBCOMMANDS["audit"], "my_pii.jsonl --report audit.md --findings audit.jsonl")
    _reading(aud)
    aud.add_argument("--report", type=Path, help="write the Markdown report here (default: print it)")
    aud.add_argument("--findings", type=Path, help="write every finding here as JSONL, with file:line")
    aud.add_argument(
        "--show-values", action="store_true", help="show values in the report and findings (default: masked)"
    )
    aud.add_argument(
        "--fix", choices=("repeats",), help="repeats: write a copy with the unlabelled repeats labelled (--fixed-out)"
    )
    aud.add_argument(
        "--fixed-out", type=Path, help="the corrected copy (users' JSONL format; default INPUT.fixed.jsonl)"
    )
    return parser


def _audit(args: argparse.Namespace) -> int:
    fixed = None
    if args.fix == "repeats":
        fixed = args.fixed_out or args.inputs[0].with_name(args.inputs[0].stem + ".fixed.jsonl")
    elif args.fixed_out is not None:
        raise UsageError("--fixed-out needs --fix repeats")
    label_map = resolve_label_map(args.label_map) if args.label_map else None
    result = audit(
        args.inputs,
        fmt=args.fmt,
        label_map=label_map_of(label_map),
        conll_tokens=args.conll_tokens,
        findings_path=args.findings,
        show_values=args.show_values,
        fix_path=fixed,
        progress=not args.no_progress,
    )
    text = audit_report.render(result, [str(p) for p in args.inputs], args.label_map or "none", args.show_values)
    if args.report is not None:
        atomic_write_text(args.report, text)
    else:
        print(text, end="")
    return 0 if result.reconciled else 1


def _conformance(args: argparse.Namespace) -> int:
    lines, ok = conformance.run(args.folder)
    text = "\n".join(lines) + "\n"
    if args.out is not None:
        atomic_write_text(args.out, text)
    print(text, end="")
    return 0 if ok else 1


def _convert(args: argparse.Namespace, label_map: Any, prompting: Prompting) -> list[str]:
    positive, types = parse_oversample(args.oversample)
    options = ConvertOptions(
        name=args.name,
        out_dir=args.out_dir,
        fmt=args.fmt,
        label_map=label_map,
        overlap=args.overlap,
        style=args.style,
        file_kind=args.file_type,
        prompting=prompting,
        ratios=args.split,
        dataset_info=None if args.no_register else args.dataset_info,
        overwrite=args.overwrite,
        skip_invalid=args.skip_invalid,
        rejects=args.rejects,
        max_tokens=args.max_tokens,
        overlap_tokens=args.chunk_overlap,
        tokenizer=args.tokenizer,
        conll_tokens=args.conll_tokens,
        balance=Balance(positive, types, args.neg_ratio),
        progress=not args.no_progress,
    )
    return convert(args.inputs, options).lines()


def _stats(args: argparse.Namespace, label_map: Any, prompting: Prompting) -> list[str]:
    measure = template_measure(args.tokenizer, args.template, args.enable_thinking) if args.tokenizer else None
    stats = compute_stats(
        args.inputs,
        args.fmt,
        label_map,
        prompting,
        measure,
        progress=not args.no_progress,
        conll_tokens=args.conll_tokens,
    )
    return [json.dumps(stats.to_json(), ensure_ascii=False)] if args.json else stats.lines()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "conformance":
            return _conformance(args)
        if args.command == "audit":
            return _audit(args)
        if args.command == "convert" and (
            args.max_tokens is not None
            and args.max_tokens < 1
            or args.chunk_overlap < 0
            or (args.max_tokens and args.chunk_overlap >= args.max_tokens)
        ):
            raise UsageError("--max-tokens must be >= 1 and --chunk-overlap between 0 and --max-tokens - 1")
        label_map = resolve_label_map(args.label_map) if args.label_map else None
        prompting = Prompting(args.instruction, args.system)
        lines = (_convert if args.command == "convert" else _stats)(args, label_map, prompting)
    except (PiiFactoryError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0
