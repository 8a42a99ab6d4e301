"""``convert``: input files -> checked, split, balanced, chunked LLaMA-Factory datasets.

Pass 1 reads and checks every record (strict mode stops here at the first bad one, before any
output exists) and counts what the split and the negative downsampling need. Pass 2 reads again
and writes every split incrementally through atomic writers; the registry is updated last.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

from tqdm import tqdm

from converters.balance import Balance, keeps_negative
from converters.checks import OverlapPolicy
from converters.chunking import chunk_sample
from converters.readers import read_records
from converters.records import Record, Rejected
from converters.registry import check_registry, file_name_for, merge_registry
from converters.split import SPLITS, SplitPlan, find_leaks, texts_of
from converters.tokens import TokenSpans, char_spans, load_tokenizer, tokenizer_spans
from converters.writers import FileKind, Prompting, RowWriter, Style, dataset_entry, row_writer, to_chat, to_row
from piifactory.io import InputError, atomic_open


@dataclass
class ConvertOptions:
    """Everything ``convert`` can be told; the CLI flags map one to one."""

    name: str
    out_dir: Path = Path("data")
    fmt: str | None = None
    label_map: Mapping[str, str | None] | None = None
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

    def lines(self) -> list[str]:
        out = [f"read {self.read} = written {self.written} + dropped negatives {self.dropped} + rejected {self.rejected}"]
        for split, path in self.files.items():
            types = ", ".join(f"{t} {n}" for t, n in sorted(self.types[split].items())) or "no entities"
            out.append(f"{split}: {self.rows[split]} rows -> {path} ({types})")
        if self.chunked:
            out.append(f"chunked {self.chunked} long records; {self.oversized} chunks exceed the budget to keep an entity whole")
        if self.rejects_file is not None:
            out.append(f"rejects: {self.rejected} -> {self.rejects_file}")
        out.append(f"leakage: {len(self.leaks)} texts in two splits" + "".join(f"\n  {a}/{b}: {t[:60]!r}" for t, a, b in self.leaks[:5]))
        return out


def split_names(name: str, ratios: tuple[float, float, float]) -> dict[str, str]:
    """Split -> dataset name; a single split (ratios 1,0,0) is just ``name``."""
    used = [s for s, r in zip(SPLITS, ratios) if r > 0]
    return {"train": name} if used == ["train"] else {s: f"{name}_{s}" for s in used}


def _token_spans(options: ConvertOptions) -> TokenSpans:
    return tokenizer_spans(load_tokenizer(options.tokenizer)) if options.tokenizer else char_spans


def _records(paths: list[Path], options: ConvertOptions, desc: str) -> Iterator[Record | Rejected]:
    for path in paths:
        items = read_records(path, options.fmt, options.label_map, options.overlap)
        yield from tqdm(items, desc=f"{desc} {path.name}", unit=" rec", disable=not options.progress, leave=False)


def _first_pass(paths: list[Path], options: ConvertOptions, summary: Summary) -> tuple[SplitPlan, float, bool]:
    """Check everything and count; returns the split plan, the negative keep fraction and
    whether any row carries a system prompt."""
    plan = SplitPlan(options.ratios)
    positives = negatives = 0
    with_system = options.prompting.system is not None
    for item in _records(paths, options, "check"):
        summary.read += 1
        if isinstance(item, Rejected):
            if not options.skip_invalid:
                raise InputError(item.path, item.line, item.reason)
            summary.rejected += 1
            continue
        plan.observe(item)
        if item.chat is not None:
            with_system = with_system or item.chat.system is not None
        else:
            positives += bool(item.sample.entities)
            negatives += not item.sample.entities
    plan.finish()
    return plan, options.balance.negative_keep(positives, negatives), with_system


def convert(paths: list[Path], options: ConvertOptions) -> Summary:
    """Convert ``paths`` into split dataset files and register them; see the module docstring."""
    if len(options.ratios) != 3 or min(options.ratios) < 0 or abs(sum(options.ratios) - 1) > 1e-6 or options.ratios[0] <= 0:
        raise ValueError(f"split ratios must be three non-negative numbers summing to 1 with train > 0, got {options.ratios}")
    names = split_names(options.name, options.ratios)
    files = {s: options.out_dir / f"{n}.{options.file_kind}" for s, n in names.items()}
    summary = Summary(files=files)
    plan, neg_keep, with_system = _first_pass(paths, options, summary)
    entries = {}
    if options.dataset_info is not None:
        entries = {names[s]: dataset_entry(file_name_for(f, options.dataset_info), options.style, with_system) for s, f in files.items()}
        check_registry(options.dataset_info, entries, options.overwrite)
    spans = _token_spans(options) if options.max_tokens else None
    summary.read = summary.rejected = 0
    rejects_path = options.rejects or options.out_dir / f"{options.name}_rejects.jsonl"
    with contextlib.ExitStack() as stack:
        writers = {s: stack.enter_context(row_writer(f, options.file_kind)) for s, f in files.items()}
        rejects = stack.enter_context(atomic_open(rejects_path)) if options.skip_invalid else None
        for item in _records(paths, options, "write"):
            summary.read += 1
            if isinstance(item, Rejected):
                summary.rejected += 1
                rejects.write(json.dumps(item.to_json(), ensure_ascii=False) + "\n")
                continue
            split = plan.assign(item)
            if split == "train" and item.sample is not None and not item.sample.entities and not keeps_negative(item, neg_keep):
                summary.dropped += 1
                continue
            summary.written += 1
            _write(item, split, writers[split], options, spans, summary, with_system)
    summary.rejects_file = rejects_path if options.skip_invalid else None
    summary.leaks = find_leaks({s: texts_of(f) for s, f in files.items()})
    if options.dataset_info is not None:
        merge_registry(options.dataset_info, entries, options.overwrite)
    return summary


def _write(record: Record, split: str, writer: RowWriter, options: ConvertOptions, spans: TokenSpans | None,
           summary: Summary, with_system: bool) -> None:
    copies = options.balance.copies(record) if split == "train" else 1
    if record.chat is not None:
        chats = [record.chat]
    else:
        pieces = [record.sample]
        if spans is not None:
            pieces = chunk_sample(record.sample, options.max_tokens, options.overlap_tokens, spans)
            if len(pieces) > 1:
                summary.chunked += 1
                summary.oversized += sum(len({s for s, _ in spans(p.text)}) > options.max_tokens for p in pieces)
        chats = [to_chat(p, options.prompting) for p in pieces]
        for piece in pieces:
            summary.types[split].update(e.type for e in piece.entities for _ in range(copies))
    for chat in chats:
        row = to_row(chat, options.style, with_system)
        for _ in range(copies):
            writer.write(row)
            summary.rows[split] += 1
