"""CoNLL / BIO token files: one ``token ... label`` per line, a blank line between sentences.

Tags ``B-X``, ``I-X``, ``E-X``, ``S-X`` (BIO, IOB1 and BIOES) and ``O`` are read; ``-DOCSTART-``
lines are skipped. Tokens are joined without spaces when every token of a sentence is a single
character (Chinese character-level corpora), otherwise with one space.
"""

from __future__ import annotations

import os
from typing import Iterator

from converters.records import RawEntity, RecordError

Row = tuple[int, str, str]  # (line, token, tag)


class _LineError(RecordError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def _sentences(path: str | os.PathLike[str]) -> Iterator[tuple[list[Row], _LineError | None]]:
    rows: list[Row] = []
    bad: _LineError | None = None
    with open(path, "rb") as handle:  # decoded line by line, so bad bytes get their line number
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                bad = bad or _LineError(number, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
                continue
            parts = line.split()
            if not parts or parts[0] == "-DOCSTART-":
                if rows or bad:
                    yield rows, bad
                rows, bad = [], None
                continue
            if len(parts) < 2:
                bad = bad or _LineError(number, "expected 'token label', got a single field")
            rows.append((number, parts[0], parts[-1]))
    if rows or bad:
        yield rows, bad


def _to_entities(rows: list[Row]) -> tuple[str, list[RawEntity]]:
    sep = "" if all(len(tok) == 1 for _, tok, _ in rows) else " "
    text, raws = "", []
    open_label: str | None = None
    open_start = 0

    def close(end: int) -> None:
        nonlocal open_label
        if open_label is not None:
            raws.append(RawEntity(open_label, text[open_start:end], open_start, end))
        open_label = None

    for line, token, tag in rows:
        start = len(text) + (len(sep) if text else 0)
        prefix, _, label = tag.partition("-")
        if tag != "O" and (prefix not in ("B", "I", "E", "S") or not label):
            raise _LineError(line, f"tag {tag!r} is not O, B-X, I-X, E-X or S-X")
        continuing = prefix in ("I", "E") and label == open_label
        if not continuing:
            close(len(text))
        text = text + sep + token if text else token
        if tag == "O":
            continue
        if not continuing:
            open_label, open_start = label, start
        if prefix in ("E", "S"):
            close(len(text))
    close(len(text))
    return text, raws


def read_conll(path: str | os.PathLike[str]) -> Iterator[tuple[int, tuple[str, list[RawEntity]] | RecordError, str]]:
    """Yield ``(line, (text, raw entities) or the error, raw block)`` per sentence; the line is
    the sentence's first line, or the offending line for an error."""
    for rows, bad in _sentences(path):
        block = "\n".join(f"{tok} {tag}" for _, tok, tag in rows)
        try:
            if bad is not None:
                raise bad
            yield rows[0][0], _to_entities(rows), block
        except _LineError as exc:
            yield exc.line, exc, block
