"""Where values sit in a text: the one rule that places a value given without offsets (a model's
answer, a gold record that lists values only) and checks offsets that come with one. Converters,
the scorer, the rules merge and the answer order all place values here, so they agree.

The rule (tests/test_offsets.py holds each part):

- Given offsets are kept when they lie in the text and hold the value (as matched below);
  otherwise the value is placed as if it had none.
- A value is looked for verbatim first, then loosely: width-folded (full-width forms as ASCII),
  case-blind, any whitespace run standing for a whitespace run, and inside identifiers spaces and
  hyphens optional (a model copies ``138-1234-5678`` as ``13812345678``). Not NFKC: it changes
  lengths (``㈱`` becomes three characters), and an offset found in the folded copy must be an
  offset into the text.
- Occurrences of one value never overlap each other. One glued to an ASCII letter or digit of the
  text (``12`` inside ``5123``) is used only after every free-standing one.
- Repeats: the k-th mention of a value takes its k-th occurrence; a span goes to one mention
  only. A mention with no occurrence left is not placed (``None``): the caller decides whether
  that is an error (converters), a spurious prediction (scorer) or a value kept without offsets
  (the rules merge).
- Different values may overlap or nest (a company inside a book title): placing never resolves
  overlaps; the converters' overlap policy does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from piifactory.schema import Entity

Span = tuple[int, int]

# Full-width ASCII (U+FF01..U+FF5E) to ASCII, the ideographic and no-break spaces to a space,
# dash look-alikes to "-". Every mapping is one character to one character, so offsets survive.
# The full-width colon stays: it is ordinary Chinese punctuation before a value, never part of one.
_FOLD: dict[int, int] = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F) if code != 0xFF1A}
_FOLD.update({0x3000: 0x20, 0x00A0: 0x20})
_FOLD.update({code: 0x2D for code in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212)})


def fold_width(text: str) -> str:
    """The text with full-width digits, letters and separators as ASCII; same length."""
    return text.translate(_FOLD)


def _word_char(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _glued(folded: str, start: int, end: int) -> bool:
    """True when the span continues a run of ASCII letters or digits of the text."""
    return (start > 0 and _word_char(folded[start - 1]) and _word_char(folded[start])) or (
        end < len(folded) and _word_char(folded[end]) and _word_char(folded[end - 1])
    )


def _loose_pattern(value: str, identifier: bool) -> re.Pattern[str] | None:
    folded = fold_width(value).strip()
    if identifier:
        chars = [c for c in folded if not c.isspace() and c != "-"]
        body = r"[\s\-]*".join(re.escape(c) for c in chars)
    else:
        body = r"\s+".join(re.escape(part) for part in folded.split())
    return re.compile(body, re.IGNORECASE) if body else None


def _verbatim(text: str, value: str) -> Iterator[Span]:
    at = text.find(value)
    while at >= 0:
        yield at, at + len(value)
        at = text.find(value, at + len(value))


def _tiers(text: str, value: str, identifier: bool, folded: str) -> Iterator[list[Span]]:
    """Candidate spans in order of preference: verbatim free-standing, verbatim glued, loose
    free-standing, loose glued. The loose search runs only when asked for."""
    exact = list(_verbatim(text, value))
    yield [s for s in exact if not _glued(folded, *s)]
    yield [s for s in exact if _glued(folded, *s)]
    pattern = _loose_pattern(value, identifier)
    loose = [m.span() for m in pattern.finditer(folded) if m.end() > m.start()] if pattern is not None else []
    known = set(exact)
    loose = [s for s in loose if s not in known]
    yield [s for s in loose if not _glued(folded, *s)]
    yield [s for s in loose if _glued(folded, *s)]


def occurrences(text: str, value: str, identifier: bool = False, folded: str | None = None) -> Iterator[Span]:
    """Every place ``value`` occurs in ``text``, best first (see the module rule); lazily, so the
    loose search costs nothing when a verbatim occurrence is taken. ``folded`` is
    ``fold_width(text)`` when the caller has it already."""
    if not value.strip():
        return
    for tier in _tiers(text, value, identifier, fold_width(text) if folded is None else folded):
        yield from tier


def mentions(text: str, value: str, identifier: bool = False) -> list[Span]:
    """Every place ``value`` stands as a mention of itself: the occurrences of the best kind that
    has any (verbatim free-standing ones if there are, and so on). For records that give a
    person's attributes rather than a list of mentions, where each occurrence is the attribute."""
    if not value.strip():
        return []
    return next((tier for tier in _tiers(text, value, identifier, fold_width(text)) if tier), [])


def holds(text: str, start: object, end: object, value: str, identifier: bool = False) -> bool:
    """True when ``start``/``end`` are integer offsets of a non-empty span of ``text`` whose
    characters match ``value`` (verbatim, or loosely as the module rule says)."""
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
        return False
    if not 0 <= start < end <= len(text):
        return False
    piece = text[start:end]
    if piece == value:
        return True
    pattern = _loose_pattern(value, identifier)
    return pattern is not None and pattern.fullmatch(fold_width(piece)) is not None


def place(text: str, entities: Sequence[Entity]) -> list[Span | None]:
    """The span of each entity in ``text`` (input order), or None where its value has no
    occurrence left. Entities whose given offsets hold their value keep them and are placed
    first, so a value without offsets never takes a span another mention was given."""
    spans: list[Span | None] = [None] * len(entities)
    taken: set[Span] = set()
    for i, ent in enumerate(entities):
        start, end = ent.start, ent.end
        if start is None or end is None:
            continue
        verbatim = (
            type(start) is int and type(end) is int and 0 <= start < end <= len(text) and text[start:end] == ent.value
        )
        if verbatim or holds(
            text, start, end, ent.value, ent.is_identifier
        ):  # the first test is the common case, cheaply
            spans[i] = (start, end)
            taken.add((start, end))
    folded: str | None = None
    for i, ent in enumerate(entities):
        if spans[i] is not None or not isinstance(ent.value, str):
            continue
        folded = fold_width(text) if folded is None else folded
        for span in occurrences(text, ent.value, ent.is_identifier, folded):
            if span not in taken:
                spans[i] = span
                taken.add(span)
                break
    return spans
