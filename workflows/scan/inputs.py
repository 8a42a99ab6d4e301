"""Rows to scan, streamed from JSONL, CSV, Parquet or plain-text files or a folder of them, in a
fixed order (a rerun meets the same row at the same position, which is what resuming relies on)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from piifactory.errors import UsageError
from piifactory.io import InputError, iter_jsonl

SUFFIXES = {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet", ".txt": "text"}


@dataclass(frozen=True, slots=True)
class Record:
    """One input row: its fields (written back with ``entities``) and its text."""

    row: dict[str, Any]
    text: str


def input_files(path: Path) -> list[Path]:
    """``path`` itself, or every file of a known kind under the folder (sorted, hidden ones skipped)."""
    if path.is_file():
        if path.suffix.lower() not in SUFFIXES:
            raise UsageError(f"{path}: unknown kind of file; scan reads {', '.join(sorted(SUFFIXES))}")
        return [path]
    if not path.is_dir():
        raise UsageError(f"{path}: no such file or folder")
    found = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    if not found:
        raise UsageError(f"{path}: no {', '.join(sorted(SUFFIXES))} files in this folder")
    return found


def iter_records(path: Path, text_field: str = "input") -> Iterator[Record]:
    """Every row of ``path`` (a file or a folder; rows from a folder carry their ``file``)."""
    folder = path if path.is_dir() else None
    for file in input_files(path):
        for row in _rows(file, text_field):
            if folder is not None:
                row = {"file": file.relative_to(folder).as_posix(), **row}
            yield Record(row, row[text_field])


def _rows(file: Path, field: str) -> Iterator[dict[str, Any]]:
    kind = SUFFIXES[file.suffix.lower()]
    if kind == "text":
        with open(file, encoding="utf-8", errors="strict") as handle:
            for number, line in enumerate(handle, 1):
                yield {"line": number, field: line.rstrip("\r\n")}
        return
    if kind == "jsonl":
        rows: Iterator[tuple[int, Any]] = iter_jsonl(file)
    elif kind == "csv":
        rows = _csv_rows(file)
    else:
        rows = _parquet_rows(file)
    for line, row in rows:
        if not isinstance(row, dict):
            raise InputError(file, line, f"a row must be an object with a {field!r} field")
        if not isinstance(row.get(field), str):
            raise InputError(file, line, f"no string field {field!r} (choose the text field with --text-field)")
        yield row


def _csv_rows(file: Path) -> Iterator[tuple[int, dict]]:
    with open(file, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            yield reader.line_num, dict(row)


def _parquet_rows(file: Path) -> Iterator[tuple[int, dict]]:
    import pyarrow.parquet as pq

    number = 0
    for batch in pq.ParquetFile(file).iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            number += 1
            yield number, row
