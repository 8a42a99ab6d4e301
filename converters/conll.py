"""CoNLL / BIO token files: one ``token ... tag`` per line, a blank line between sentences.

- Tag schemes: BIO, IOB1, BIOES, BILOU and BMES, read by one rule: ``B`` opens, ``I``/``M``
  continue the open entity of the same label, ``E``/``L`` close it, ``S``/``U`` are one-token
  entities, ``O`` is outside. A file whose entities mostly open with ``I-`` is IOB1, where an
  ``I-`` opens an entity; in any other file an ``I-``/``M-``/``E-`` that opens one is an
  annotation slip and its sentence is rejected. ``-DOCSTART-`` lines are skipped.
- Columns: a line with a tab is split on tabs (a token may then hold a space); otherwise on
  whitespace. The token is the first column, the tag the last.
- Tokens: ``plain``, or ``char-position`` (Weibo NER's revised files: each token is a character
  followed by its position in the word, ``口0 腔1``), whose digits are stripped. ``auto`` (the
  default) reads the file's first sentences and picks ``char-position`` only when every token
  there counts 0, 1, 2 ... within words.
- Joining: a sentence of character tokens (one character, or no ASCII letter or digit, such as
  an emoji or two U+FFFD) is joined without spaces; a sentence of words with one space.
- Encoding: CESU-8 emoji (UTF-16 surrogate halves, one per token line in Weibo NER's original
  file) are joined back into one character token; a half without its partner is an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from itertools import islice
from typing import Literal

from converters.records import RawEntity, RecordError
from piifactory.io import decode_utf8, join_surrogates, lone_surrogate

Row = tuple[int, str, str]  # (line, token, tag)
TokenForm = Literal["auto", "plain", "char-position"]
TOKEN_FORMS = ("auto", "plain", "char-position")

_ROLES = {"B": "begin", "I": "inside", "M": "inside", "E": "end", "L": "end", "S": "single", "U": "single"}
_SNIFF_SENTENCES, _SNIFF_TOKENS = 50, 20
_SNIFF_SCHEME_SENTENCES, _SNIFF_SCHEME_ENTITIES = 2000, 50


class _LineError(RecordError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def _columns(line: str) -> list[str]:
    if "\t" in line:
        return [part.strip() or part for part in line.rstrip("\r\n").split("\t")]
    return line.split()


def _sentences(path: str | os.PathLike[str]) -> Iterator[tuple[list[Row], _LineError | None]]:
    rows: list[Row] = []
    bad: _LineError | None = None
    with open(path, "rb") as handle:  # decoded line by line, so bad bytes get their line number
        for number, raw in enumerate(handle, start=1):
            try:
                line = decode_utf8(raw.removeprefix(b"\xef\xbb\xbf") if number == 1 else raw)
            except UnicodeDecodeError as exc:
                bad = bad or _LineError(number, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
                continue
            if not line.strip() or line.split()[0] == "-DOCSTART-":
                if rows or bad:
                    yield rows, bad
                rows, bad = [], None
                continue
            parts = _columns(line)
            if len(parts) < 2 or not parts[0]:
                bad = bad or _LineError(number, "expected 'token label', got a single field")
                continue
            rows.append((number, parts[0], parts[-1]))
    if rows or bad:
        yield rows, bad


def _join_halves(rows: list[Row]) -> list[Row]:
    """Surrogate halves on consecutive token lines as one token (the first half's tag, unless
    it is O); a half left alone is an error."""
    out: list[Row] = []
    for line, token, tag in rows:
        if out and lone_surrogate(out[-1][1]) == len(out[-1][1]) - 1 and lone_surrogate(token) == 0:
            joined = join_surrogates(out[-1][1] + token)
            if lone_surrogate(joined) < 0:
                prev_line, _, prev_tag = out[-1]
                out[-1] = (prev_line, joined, prev_tag if prev_tag != "O" else tag)
                continue
        out.append((line, token, tag))
    for line, token, _ in out:
        if lone_surrogate(token) >= 0:
            raise _LineError(line, "a UTF-16 surrogate half (CESU-8) without its partner")
    return out


def _position_chars(rows: list[Row]) -> list[Row]:
    """Tokens ``char + position in word`` as the character: the position is the previous one
    plus one (same word) or 0 (a new word)."""
    out: list[Row] = []
    previous = -1
    for line, token, tag in rows:
        following = str(previous + 1)
        if len(token) > len(following) and token.endswith(following):
            out.append((line, token[: -len(following)], tag))
            previous += 1
        elif len(token) > 1 and token.endswith("0"):
            out.append((line, token[:-1], tag))
            previous = 0
        else:
            raise _LineError(
                line,
                f"token does not end with its position in the word (expected {following} or 0); "
                "read the file with --conll-tokens plain if its tokens are plain",
            )
    return out


def sniff_token_form(path: str | os.PathLike[str]) -> TokenForm:
    """``char-position`` when nine in ten tokens of the first sentences (at least 20) are in
    sentences whose tokens count their position in the word, and some word has two characters;
    else ``plain``."""
    sentences = [rows for rows, bad in islice(_sentences(path), _SNIFF_SENTENCES) if bad is None]
    counted = []
    for rows in sentences:
        try:
            _position_chars(_join_halves(rows))
        except _LineError:
            continue
        counted.append(rows)
    tokens = sum(len(rows) for rows in counted)
    enough = tokens >= _SNIFF_TOKENS and tokens >= 0.9 * sum(len(rows) for rows in sentences)
    two_characters = any(token.endswith("1") for rows in counted for _, token, _ in rows)
    return "char-position" if enough and two_characters else "plain"


def sniff_iob1(path: str | os.PathLike[str]) -> bool:
    """True when the file's entities open with ``I-`` more often than with ``B-`` (IOB1, where
    ``B-`` only separates two adjacent entities of one label), judged on its first entities."""
    opened = {"B": 0, "I": 0}
    for rows, _ in islice(_sentences(path), _SNIFF_SCHEME_SENTENCES):
        previous = "O"
        for _, _, tag in rows:
            prefix, _, label = tag.partition("-")
            if prefix in opened and (prefix == "B" or previous.partition("-")[2] != label):
                opened[prefix] += 1
            previous = tag
        if sum(opened.values()) >= _SNIFF_SCHEME_ENTITIES:
            break
    return opened["I"] > opened["B"]


def _character_like(token: str) -> bool:
    return len(token) == 1 or not any(c.isascii() and c.isalnum() for c in token)


def _to_entities(rows: list[Row], iob1: bool = False) -> tuple[str, list[RawEntity]]:
    sep = "" if all(_character_like(tok) for _, tok, _ in rows) else " "
    pieces: list[str] = []
    length = 0
    raws: list[RawEntity] = []
    open_label: str | None = None
    open_start = 0

    def close(end: int) -> None:
        nonlocal open_label
        if open_label is not None:
            raws.append(RawEntity(open_label, None, open_start, end))
        open_label = None

    for line, token, tag in rows:
        prefix, _, label = tag.partition("-")
        role = _ROLES.get(prefix)
        if tag != "O" and (role is None or not label):
            raise _LineError(
                line, f"tag {tag!r} is not O or B-X, I-X, M-X, E-X, L-X, S-X, U-X (BIO, IOB1, BIOES, BILOU, BMES)"
            )
        continuing = role in ("inside", "end") and label == open_label
        if role in ("inside", "end") and not continuing and not iob1:
            raise _LineError(
                line,
                f"tag {tag!r} continues an entity that no B-{label} opened (the file's entities open "
                "with B-, so it is read as BIO/BIOES/BMES, where this is an annotation slip)",
            )
        if not continuing:
            close(length)
        start = length + (len(sep) if pieces else 0)
        pieces.append(token)
        length = start + len(token)
        if tag == "O":
            continue
        if not continuing:
            open_label, open_start = label, start
        if role in ("end", "single"):
            close(length)
    close(length)
    text = sep.join(pieces)
    return text, [RawEntity(r.label, text[r.start : r.end], r.start, r.end) for r in raws]


def read_conll(
    path: str | os.PathLike[str], tokens: TokenForm = "auto"
) -> Iterator[tuple[int, tuple[str, list[RawEntity]] | RecordError, str]]:
    """Yield ``(line, (text, raw entities) or the error, raw block)`` per sentence; the line is
    the sentence's first line, or the offending line for an error."""
    form = sniff_token_form(path) if tokens == "auto" else tokens
    iob1 = sniff_iob1(path)
    for rows, bad in _sentences(path):
        block = "\n".join(f"{tok}\t{tag}" for _, tok, tag in rows).encode("utf-8", "backslashreplace").decode("utf-8")
        try:
            if bad is not None:
                raise bad
            rows = _join_halves(rows)
            if form == "char-position":
                rows = _position_chars(rows)
            yield rows[0][0], _to_entities(rows, iob1), block
        except _LineError as exc:
            yield exc.line, exc, block
