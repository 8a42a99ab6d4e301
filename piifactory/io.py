"""File helpers shared by every command: atomic writes and JSONL reading with file:line errors.

Nothing the pack writes is ever half-written: output goes to a temporary file in the same folder
and is renamed into place only when complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from piifactory.errors import PiiFactoryError


class InputError(PiiFactoryError, ValueError):
    """Bad input, reported as ``file:line: what is wrong`` (never a bare traceback)."""

    def __init__(self, path: str | os.PathLike[str], line: int | None, message: str) -> None:
        self.path, self.line, self.message = str(path), line, message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path``; rename it over ``path`` only on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the output should look like any other file
    binary = "b" in mode
    try:
        with os.fdopen(fd, mode, **({} if binary else {"encoding": "utf-8", "newline": "\n"})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary sibling folder of ``path``, put in its place only when the block succeeds.

    For outputs made of several files (a tokenizer, a model): a reader sees the old folder or the
    whole new one, never half of it; on failure the staging folder is removed.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    staging.chmod(0o755)
    try:
        yield staging
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_open(path) as handle:
        handle.write(text)


def atomic_write_lines(path: str | os.PathLike[str], lines: Iterable[str]) -> int:
    """Write one line per item (a newline is added); returns the number of lines."""
    count = 0
    with atomic_open(path) as handle:
        for line in lines:
            handle.write(line)
            handle.write("\n")
            count += 1
    return count


def parse_json(text: str) -> Any:
    """``json.loads``, failing with :class:`json.JSONDecodeError` also on what JSON allows but no
    text file can hold: nesting deeper than Python's recursion limit (a RecursionError
    otherwise) and lone UTF-16 surrogate escapes such as ``"\\ud800"`` (which no UTF-8 output
    can write, so they would fail far from the input line)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text, 0) from None
    if "\\u" in text:
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise json.JSONDecodeError("lone surrogate escape, not text", text, text.find("\\u")) from None
    return value


_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def decode_utf8(raw: bytes) -> str:
    """UTF-8 bytes as text, with CESU-8 repaired: emoji that Java, MySQL's old ``utf8`` or a
    UTF-16 program wrote as two surrogate halves of three bytes each become the character again.
    A half without its partner stays in the string as a lone surrogate, for the caller to pair (a
    CoNLL file may put the halves on two token lines) or reject (:func:`lone_surrogate`). Any
    other bad byte raises :class:`UnicodeDecodeError`."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "surrogatepass")
    return join_surrogates(text)


def join_surrogates(text: str) -> str:
    """Each high surrogate followed by a low one, as the character the pair encodes."""
    return _SURROGATE_PAIR.sub(lambda m: m.group().encode("utf-16-le", "surrogatepass").decode("utf-16-le"), text)


def lone_surrogate(text: str) -> int:
    """Index of the first unpaired surrogate in ``text``, or -1 (no UTF-8 output can write it)."""
    found = _LONE_SURROGATE.search(text)
    return found.start() if found else -1


def read_text(path: str | os.PathLike[str]) -> str:
    """A whole UTF-8 file (BOM dropped, CESU-8 repaired); a byte that is neither, or a lone
    surrogate half, raises :class:`UnicodeDecodeError`."""
    raw = Path(path).read_bytes().removeprefix(b"\xef\xbb\xbf")
    text = decode_utf8(raw)
    if (at := lone_surrogate(text)) >= 0:
        byte = len(text[:at].encode("utf-8", "surrogatepass"))
        raise UnicodeDecodeError("utf-8", raw, byte, byte + 3, "a lone UTF-16 surrogate half (CESU-8)")
    return text


def iter_json_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, Any, str | None]]:
    """``(line_number, object, None)`` per non-blank line, or ``(line_number, raw_text, error)``
    for a line that is not UTF-8 JSON; streams. A UTF-8 BOM and CRLF line ends are accepted.
    Strict readers raise on the error (:func:`iter_jsonl`); lenient ones reject the line."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                line = decode_utf8(raw)
            except UnicodeDecodeError as exc:
                yield number, raw.decode("utf-8", "replace"), f"not UTF-8 text ({exc.reason} at byte {exc.start})"
                continue
            if (at := lone_surrogate(line)) >= 0:
                yield (
                    number,
                    raw.decode("utf-8", "replace"),
                    f"not UTF-8 text (a lone UTF-16 surrogate half at character {at})",
                )
                continue
            if not line.strip():
                continue
            try:
                yield number, parse_json(line), None
            except json.JSONDecodeError as exc:
                yield number, line.rstrip("\r\n"), f"invalid JSON: {exc.msg} (column {exc.colno})"


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, object)`` for each non-blank line; streams, never loads the file.
    Anything that is not UTF-8 JSON raises :class:`InputError` naming the file and line."""
    for number, value, error in iter_json_lines(path):
        if error is not None:
            raise InputError(path, number, error)
        yield number, value
