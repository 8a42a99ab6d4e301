"""What readers hand to the pipeline: one validated record, or one rejected record with its reason.

A record is either a PII sample (text + entities) or a plain chat turn (domain SFT); both carry
the file and line they came from so every later message can say ``file:line``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from piifactory.errors import PiiFactoryError
from piifactory.schema import Sample


class RecordError(PiiFactoryError, ValueError):
    """One record is wrong (the reader adds file:line); the message says what."""


@dataclass(frozen=True, slots=True)
class RawEntity:
    """An entity as the source wrote it: label not yet mapped, offsets not yet checked.
    ``every``: the value is an attribute of the record (MultiPriv), so each of its occurrences
    in the text is a mention, rather than one mention placed at its next free occurrence."""

    label: Any
    value: Any = None
    start: Any = None
    end: Any = None
    every: bool = False


@dataclass(frozen=True, slots=True)
class Chat:
    """A plain instruction/output pair (non-PII domain SFT), passed through unchanged."""

    instruction: str
    output: str
    input: str = ""
    system: str | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """A valid record: exactly one of ``sample`` and ``chat`` is set."""

    path: str
    line: int
    sample: Sample | None = None
    chat: Chat | None = None
    dropped: tuple[str, ...] = ()
    """Labels of the spans the label map dropped on purpose (not PII), for the summary."""
    dropped_spans: tuple[tuple[str, int, int], ...] = ()
    """``(label, start, end)`` of those dropped spans the source gave offsets for: the label audit
    counts an occurrence inside one as labelled (the annotator decided), not as a gap."""

    @property
    def text(self) -> str:
        """The text the split hashes: the sample text, or the chat's instruction and input."""
        if self.sample is not None:
            return self.sample.text
        assert self.chat is not None
        return f"{self.chat.instruction}\n{self.chat.input}"


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that failed a check, kept for the rejects file."""

    path: str
    line: int
    reason: str
    raw: Any

    def to_json(self) -> dict[str, Any]:
        return {"file": self.path, "line": self.line, "reason": self.reason, "record": self.raw}
