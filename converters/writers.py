"""LLaMA-Factory rows (alpaca or sharegpt/OpenAI messages) and their streaming, atomic files.

A ``.json`` output is a JSON array written one row per line, so it streams like JSONL and is
still read by LLaMA-Factory's ``json`` loader.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from typing import IO, Any, Iterable, Iterator, Literal

from converters.records import Chat
from piifactory.answer import target_text
from piifactory.io import atomic_open
from piifactory.schema import DEFAULT_INSTRUCTION, Sample

Style = Literal["alpaca", "sharegpt"]
FileKind = Literal["json", "jsonl"]


@dataclass(frozen=True)
class Prompting:
    """The instruction and optional system prompt every PII row gets (see DEFAULT_INSTRUCTION)."""

    instruction: str = DEFAULT_INSTRUCTION
    system: str | None = None


def to_chat(sample: Sample, prompting: Prompting) -> Chat:
    """A PII sample as one instruction turn whose answer is the schema's target text."""
    return Chat(prompting.instruction, target_text(sample.entities, sample.text), sample.text, prompting.system)


def to_row(chat: Chat, style: Style) -> dict[str, Any]:
    """One dataset row. Alpaca keeps instruction and input apart (LLaMA-Factory joins them with a
    newline); sharegpt puts the joined text in the user message. A system prompt is written only
    when the turn has one."""
    if style == "alpaca":
        row: dict[str, Any] = {"instruction": chat.instruction, "input": chat.input, "output": chat.output}
        if chat.system is not None:
            row["system"] = chat.system
        return row
    user = f"{chat.instruction}\n{chat.input}" if chat.input else chat.instruction
    messages = [{"role": "system", "content": chat.system}] if chat.system is not None else []
    messages += [{"role": "user", "content": user}, {"role": "assistant", "content": chat.output}]
    return {"messages": messages}


class RowWriter:
    """Append rows to a JSON array or JSONL file; the file appears only when closed cleanly."""

    def __init__(self, handle: IO[str], kind: FileKind) -> None:
        self.handle, self.kind, self.count = handle, kind, 0
        if kind == "json":
            handle.write("[")

    def write(self, row: dict[str, Any]) -> None:
        self.write_raw(json.dumps(row, ensure_ascii=False))

    def write_raw(self, line: str) -> None:
        """Append a row already serialised as one line of JSON."""
        if self.kind == "json":
            self.handle.write(",\n" if self.count else "\n")
            self.handle.write(line)
        else:
            self.handle.write(line + "\n")
        self.count += 1

    def finish(self) -> None:
        if self.kind == "json":
            self.handle.write("\n]\n")


@contextlib.contextmanager
def row_writer(path: str | os.PathLike[str], kind: FileKind) -> Iterator[RowWriter]:
    with atomic_open(path) as handle:
        writer = RowWriter(handle, kind)
        yield writer
        writer.finish()


def write_rows(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]], kind: FileKind = "json") -> int:
    """Write ``rows`` atomically; returns how many."""
    with row_writer(path, kind) as writer:
        for row in rows:
            writer.write(row)
    return writer.count


def iter_rows(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Rows of a dataset file written by :class:`RowWriter` (streamed) or any JSON/JSONL file."""
    with open(path, encoding="utf-8-sig") as handle:
        first = handle.readline()
        if first.strip() != "[":
            handle.seek(0)
            if first.lstrip().startswith("["):
                yield from json.load(handle)
                return
            for line in handle:
                if line.strip():
                    yield json.loads(line)
            return
        for line in handle:
            line = line.strip().rstrip(",")
            if line and line != "]":
                yield json.loads(line)


def dataset_entry(file_name: str, style: Style, with_system: bool) -> dict[str, Any]:
    """The dataset_info.json entry for one file (``formatting``, never ``format``)."""
    entry: dict[str, Any] = {"file_name": file_name}
    if style == "alpaca":
        if with_system:
            entry["columns"] = {"prompt": "instruction", "query": "input", "response": "output", "system": "system"}
        return entry
    entry["formatting"] = "sharegpt"
    entry["columns"] = {"messages": "messages"}
    entry["tags"] = {
        "role_tag": "role",
        "content_tag": "content",
        "user_tag": "user",
        "assistant_tag": "assistant",
        "system_tag": "system",
    }
    return entry
