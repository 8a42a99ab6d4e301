"""``convert``: input files -> checked, split, balanced, chunked LLaMA-Factory datasets.

Pass 1 reads and checks every record (strict mode stops here at the first bad one, before any
output exists), counts what the split and the negative downsampling need, and spools each
rendered row to a temporary file. Pass 2 streams the spool into the split files through atomic
writers; the registry is updated last. Memory holds counts, never records.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterator, Mapping

from tqdm import tqdm

from converters.balance import Balance
from converters.chunking import chunk_sample
from converters.conll import TokenForm
from converters.dataset_info import check_registry, file_name_for, merge_registry
from converters.label_presets import LabelPreset, label_map_of
from converters.readers import read_records
from converters.record_checks import OverlapPolicy
from converters.records import Chat, Record, Rejected
from converters.split import (
    SPLITS,
    SplitPlan,
    bucket_of,
    find_leaks,
    text_hash,
    type_key,
    user_key,
)
from converters.tokens import TokenSpans, char_spans, load_tokenizer, tokenizer_spans
from converters.writers import (
    FileKind,
    Prompting,
    Style,
    dataset_entry,
    row_writer,
    to_chat,
    to_row,
)
from piifactory.errors import UsageError
from piifactory.io import InputError, atomic_open


@dataclass
class ConvertOptions:
    """Everything ``convert`` can be told; the CLI flags map one to one."""

    name: str
    out_dir: Path = Path("data")
    fmt: str | None = None
    label_map: Mapping[str, str | None] | LabelPreset | None = None
    conll_tokens: TokenForm = "auto"
    overlap: OverlapPolicy = "error"
    style: Style = "alpaca"
    file_kind: FileKind = "json"
    prompting: Prompting = field(default_factory=Prompting)
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    dataset_info: Path | None = Path("dataset_info.json")
    overwrite: bool = False
    skip_invalid: bool = False
    rejects: Path | None = None
    max_tokens: int | None = None
    overlap_tokens: int = 0
    tokenizer: str | None = None
    balance: Balance = field(default_factory=Balance)
    progress: bool = True


@dataclass
class Summary:
    """What a conversion did; ``read == written + dropped + rejected`` always holds."""

    read: int = 0
    written: int = 0
    dropped: int = 0
    rejected: int = 0
    chunked: int = 0
    oversized: int = 0
    rows: Counter[str] = field(default_factory=Counter)
    types: dict[str, Counter[str]] = field(default_factory=lambda: {s: Counter() for s in SPLITS})
    files: dict[str, Path] = field(default_factory=dict)
    rejects_file: Path | None = None
    leaks: list[tuple[str, str, str]] = field(default_factory=list)
    dropped_labels: Counter[str] = field(default_factory=Counter)
    drop_reasons: Mapping[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [
            f"read {self.read} = written {self.written} + dropped negatives {self.dropped} + rejected {self.rejected}"
        ]
        if self.dropped_labels:
            out.append("spans dropped on purpose by the label map (not PII):")
            out += [
                f"  {label} {n}" + (f": {self.drop_reasons[label]}" if label in self.drop_reasons else "")
                for label, n in self.dropped_labels.most_common()
            ]
        for split, path in self.files.items():
            types = ", ".join(f"{t} {n}" for t, n in sorted(self.types[split].items())) or "no entities"
            out.append(f"{split}: {self.rows[split]} rows -> {path} ({types})")
        if self.chunked:
            out.append(
                f"chunked {self.chunked} long records; {self.oversized} chunks exceed the budget to keep an entity whole"
            )
        if self.rejects_file is not None:
            out.append(f"rejects: {self.rejected} -> {self.rejects_file}")
        out.append(
            f"leakage: {len(self.leaks)} texts in two splits"
            + "".join(f"\n  {a}/{b}: {t[:60]!r}" for t, a, b in self.leaks[:5])
        )
        return out


def split_names(name: str, ratios: tuple[float, float, float]) -> dict[str, str]:
    """Split -> dataset name; a single split (ratios 1,0,0) is just ``name``."""
    used = [s for s, r in zip(SPLITS, ratios) if r > 0]
    return {"train": name} if used == ["train"] else {s: f"{name}_{s}" for s in used}


def _token_spans(options: ConvertOptions) -> TokenSpans:
    return tokenizer_spans(load_tokenizer(options.tokenizer)) if options.tokenizer else char_spans


def _records(paths: list[Path], options: ConvertOptions, desc: str) -> Iterator[Record | Rejected]:
    for path in paths:
        items = read_records(path, options.fmt, label_map_of(options.label_map), options.overlap, options.conll_tokens)
        yield from tqdm(items, desc=f"{desc} {path.name}", unit=" rec", disable=not options.progress, leave=False)


class _Spool:
    """Pass 1 writes every accepted row here once, rendered, behind a tab-separated header
    (bucket, type key, copies, negative draw, leakage key, first piece?, types, origin); pass 2
    routes the lines to the split files without parsing the JSON again."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle

    def add(self, record: Record, bucket: int, rows: list[tuple[dict[str, Any], int, list[str]]], copies: int) -> None:
        negative = record.sample is not None and not record.sample.entities
        draw = f"{text_hash(record.text, salt='negative:') / 2**64:.6f}" if negative else "-"
        for index, (row, key, types) in enumerate(rows):
            header = (
                bucket,
                type_key(record),
                copies,
                draw,
                key,
                int(index == 0),
                ",".join(types),
                f"{record.path}:{record.line}",
            )
            self.handle.write("\t".join(map(str, header)) + "\t" + json.dumps(row, ensure_ascii=False) + "\n")

    @staticmethod
    def parse(line: str) -> tuple[int, str, int, float | None, int, bool, list[str], str, str]:
        bucket, key, copies, draw, leak, first, types, origin, row = line.rstrip("\n").split("\t", 8)
        return (
            int(bucket),
            key,
            int(copies),
            None if draw == "-" else float(draw),
            int(leak),
            first == "1",
            types.split(",") if types else [],
            origin,
            row,
        )


def _rows(
    record: Record, options: ConvertOptions, spans: TokenSpans | None, summary: Summary
) -> list[tuple[dict[str, Any], int, list[str]]]:
    """The rendered rows of one record (several when chunked), each with its leakage key and types."""
    if record.chat is not None:
        pieces: list[tuple[Chat, list[str]]] = [(record.chat, [])]
    else:
        samples = [record.sample]
        if spans is not None:
            samples = chunk_sample(record.sample, options.max_tokens, options.overlap_tokens, spans)
            if len(samples) > 1:
                summary.chunked += 1
                summary.oversized += sum(len({s for s, _ in spans(p.text)}) > options.max_tokens for p in samples)
        pieces = [(to_chat(p, options.prompting), [e.type for e in p.entities]) for p in samples]
    return [
        (to_row(chat, options.style), user_key(f"{chat.instruction}\n{chat.input}"), types) for chat, types in pieces
    ]


def _first_pass(
    paths: list[Path], options: ConvertOptions, summary: Summary, spool: _Spool, rejects: IO[str] | None
) -> tuple[SplitPlan, float, bool]:
    """Check every record (strict mode stops at the first bad one), count, and spool the rows.
    Returns the split plan, the fraction of train negatives to keep, and whether any row has a
    system prompt."""
    plan = SplitPlan(options.ratios)
    positives = negatives = 0
    spans = _token_spans(options) if options.max_tokens else None
    with_system = options.prompting.system is not None
    for item in _records(paths, options, "check"):
        summary.read += 1
        if isinstance(item, Rejected):
            if rejects is None:
                raise InputError(item.path, item.line, item.reason)
            summary.rejected += 1
            rejects.write(json.dumps(item.to_json(), ensure_ascii=False) + "\n")
            continue
        if item.dropped:
            summary.dropped_labels.update(item.dropped)
        types = [e.type for e in item.sample.entities] if item.sample is not None else []
        bucket = bucket_of(text_hash(item.text))
        plan.observe(type_key(item), bucket, types)
        if item.sample is not None:
            positives += bool(types)
            negatives += not types
        else:
            with_system = with_system or item.chat.system is not None
        spool.add(item, bucket, _rows(item, options, spans, summary), options.balance.copies(item))
    plan.finish()
    return plan, options.balance.negative_keep(positives, negatives), with_system


def convert(paths: list[Path], options: ConvertOptions) -> Summary:
    """Convert ``paths`` into split dataset files and register them; see the module docstring."""
    if (
        len(options.ratios) != 3
        or min(options.ratios) < 0
        or abs(sum(options.ratios) - 1) > 1e-6
        or options.ratios[0] <= 0
    ):
        raise UsageError(
            f"split ratios must be three non-negative numbers summing to 1 with train > 0, got {options.ratios}"
        )
    names = split_names(options.name, options.ratios)
    files = {s: options.out_dir / f"{n}.{options.file_kind}" for s, n in names.items()}
    summary = Summary(
        files=files, drop_reasons=options.label_map.drops if isinstance(options.label_map, LabelPreset) else {}
    )
    rejects_path = options.rejects or options.out_dir / f"{options.name}_rejects.jsonl"
    options.out_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        spool_file = stack.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8", dir=options.out_dir))
        rejects = stack.enter_context(atomic_open(rejects_path)) if options.skip_invalid else None
        plan, neg_keep, with_system = _first_pass(paths, options, summary, _Spool(spool_file), rejects)
        entries = {}
        if options.dataset_info is not None:
            entries = {
                names[s]: dataset_entry(file_name_for(f, options.dataset_info), options.style, with_system)
                for s, f in files.items()
            }
            check_registry(options.dataset_info, entries, options.overwrite)
        writers = {s: stack.enter_context(row_writer(f, options.file_kind)) for s, f in files.items()}
        spool_file.seek(0)
        for line in tqdm(spool_file, desc="write", unit=" row", disable=not options.progress, leave=False):
            bucket, key, copies, draw, _, first, types, _, row = _Spool.parse(line)
            split = plan.assign(key, bucket)
            if split == "train" and draw is not None and draw >= neg_keep:
                summary.dropped += first
                continue
            summary.written += first
            copies = copies if split == "train" else 1
            for _ in range(copies):
                writers[split].write_raw(row)
            summary.rows[split] += copies
            summary.types[split].update({t: n * copies for t, n in Counter(types).items()})
        summary.leaks = find_leaks({s: _spooled_keys(spool_file, plan, neg_keep, s) for s in files})
    summary.rejects_file = rejects_path if options.skip_invalid else None
    if options.dataset_info is not None:
        merge_registry(options.dataset_info, entries, options.overwrite)
    return summary


def _spooled_keys(spool_file: IO[str], plan: SplitPlan, neg_keep: float, split: str) -> Iterator[tuple[int, str]]:
    """``(leakage key, origin)`` of the rows written to ``split``, read back from the spool."""
    spool_file.seek(0)
    for line in spool_file:
        bucket, key, _, draw, leak, _, _, origin, _ = _Spool.parse(line)
        if plan.assign(key, bucket) == split and not (split == "train" and draw is not None and draw >= neg_keep):
            yield leak, origin
