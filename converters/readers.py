"""Read any supported input file as a stream of checked records (or rejects with reasons).

JSONL is read line by line (memory flat); a JSON array file is loaded whole and its items are
numbered from 1 in place of lines. The format is detected from the first record unless forced.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

from converters.conll import TokenForm, read_conll
from converters.formats import FORMATS, PARSERS, detect
from converters.record_checks import LabelMap, OverlapPolicy, build_sample
from converters.records import Chat, RawEntity, Record, RecordError, Rejected
from piifactory.io import InputError, iter_json_lines, parse_json, read_text

_CONLL_SUFFIXES = (".conll", ".bio", ".bioes", ".bmes", ".iob", ".tsv")


def _json_array(path: Path) -> Iterator[tuple[int, Any, str | None]]:
    try:
        items = parse_json(read_text(path))
    except UnicodeDecodeError as exc:
        raise InputError(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, exc.lineno, f"not a JSON file: {exc.msg} (column {exc.colno})") from None
    if not isinstance(items, list):
        raise InputError(path, None, "a .json input must hold a list of records")
    for number, item in enumerate(items, start=1):
        yield number, item, None


def _first_char(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(4096).lstrip(b"\xef\xbb\xbf").lstrip()
    return head[:1].decode("ascii", "replace")


def sniff(path: Path) -> str:
    """``conll``, ``json`` (array) or ``jsonl`` from the suffix and the first character."""
    first = _first_char(path)
    if path.suffix.lower() in _CONLL_SUFFIXES or first not in ("{", "["):
        return "conll"
    return "json" if first == "[" else "jsonl"


def _sample_record(
    path: Path, line: int, text: str, raws: list[RawEntity], label_map: LabelMap | None, overlap: OverlapPolicy
) -> Record:
    dropped: list[str] = []
    spans: list[tuple[str, int, int]] = []
    sample = build_sample(text, raws, label_map=label_map, overlap=overlap, dropped=dropped, dropped_spans=spans)
    return Record(str(path), line, sample=sample, dropped=tuple(dropped), dropped_spans=tuple(spans))


def _one(path: Path, line: int, fmt: str, obj: Any, label_map: LabelMap | None, overlap: OverlapPolicy) -> Record:
    if not isinstance(obj, dict):
        raise RecordError(f"a record must be a JSON object, got {type(obj).__name__}")
    parsed = PARSERS[fmt](obj)
    if isinstance(parsed, Chat):
        return Record(str(path), line, chat=parsed)
    return _sample_record(path, line, *parsed, label_map, overlap)


def read_records(
    path: str | os.PathLike[str],
    fmt: str | None = None,
    label_map: LabelMap | None = None,
    overlap: OverlapPolicy = "error",
    conll_tokens: TokenForm = "auto",
) -> Iterator[Record | Rejected]:
    """Every record of ``path``, checked: a :class:`Record`, or a :class:`Rejected` with its reason.
    ``conll_tokens`` says how CoNLL tokens are written (see :mod:`converters.conll`).

    Raises :class:`InputError` only when the file as a whole cannot be read or its format told.
    """
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise InputError(path, None, f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not path.is_file():
        raise InputError(path, None, "no such file")
    layout = "conll" if fmt == "conll" else sniff(path)
    if layout == "conll":
        if fmt not in (None, "conll"):
            raise InputError(path, 1, f"--from {fmt} needs JSON records, but this file is not JSON")
        yield from _read_conll(path, label_map, overlap, conll_tokens)
        return
    for number, obj, error in _json_array(path) if layout == "json" else iter_json_lines(path):
        if error is not None:
            yield Rejected(str(path), number, error, obj)
            continue
        if fmt is None:
            fmt = detect(obj)
            if fmt is None:
                keys = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
                raise InputError(
                    path, number, f"cannot tell the format from the fields {keys}; use --from ({', '.join(FORMATS)})"
                )
        try:
            yield _one(path, number, fmt, obj, label_map, overlap)
        except RecordError as exc:
            yield Rejected(str(path), number, str(exc), obj)


def _read_conll(
    path: Path, label_map: LabelMap | None, overlap: OverlapPolicy, tokens: TokenForm
) -> Iterator[Record | Rejected]:
    for line, parsed, block in read_conll(path, tokens):
        if isinstance(parsed, RecordError):
            yield Rejected(str(path), line, str(parsed), block)
            continue
        try:
            yield _sample_record(path, line, *parsed, label_map, overlap)
        except RecordError as exc:
            yield Rejected(str(path), line, str(exc), block)
