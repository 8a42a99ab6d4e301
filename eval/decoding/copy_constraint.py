"""Copy-constrained decoding: while the model writes a ``"value": "..."`` string, it may only
write text that occurs in the sample's input.

PII values are spans of the input, so a value that is not a substring of the text can never be
right (and cannot be masked). Small models know where a value starts but drift while copying it
(``武汉街`` comes out as the likelier ``武汉路``; ``mingcao`` as ``mingpeng``); restricting each
value token to continuations of the input turns those near-misses back into the exact span. The
model still decides which entities exist, their types and where each value ends.

Works on bytes of a byte-level BPE vocabulary (Qwen's), matched against the JSON-escaped input,
so multi-byte characters split across tokens and escaped quotes are handled exactly.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Sequence

import torch
from transformers import LogitsProcessor

from piifactory.answer import VALUE_OPEN

_VALUE_OPEN = re.compile(VALUE_OPEN.encode())
_VALUE_KEY = re.compile(VALUE_OPEN.removesuffix('"').encode() + rb"$")  # the next token opens the value's string
_OPENER = re.compile(rb'\s*"')
_QUOTE = ord('"')
_BACKSLASH = ord("\\")


class TokenBytes:
    """Each vocabulary token's bytes, indexed for "which tokens spell a prefix of this text".

    Built once per tokenizer (Qwen's 151k tokens: about a second). ``prefixes`` holds every prefix
    of every in-value token and closing head, so a walk along the input stops at the first byte no
    token continues with (a few bytes in Chinese text) instead of trying every length up to the
    longest token (128 bytes in Qwen's vocabulary).
    """

    def __init__(self, tokenizer) -> None:
        from transformers.convert_slow_tokenizer import bytes_to_unicode

        # byte-level piece -> latin-1 text of its bytes; a char outside the byte alphabet becomes
        # U+FFFF, which latin-1 cannot encode (the tokenizer is then not byte-level)
        table = {codepoint: 0xFFFF for codepoint in range(256)}
        table.update({ord(char): byte for byte, char in bytes_to_unicode().items()})
        added = tokenizer.added_tokens_decoder
        self.raw: dict[int, bytes] = {}  # every token's bytes, to follow what the model wrote
        self.by_bytes: dict[bytes, list[int]] = {}  # tokens that stay inside the value
        self.by_head: dict[bytes, list[int]] = {}  # tokens that end the value: head bytes + '"' + anything
        self.closing: list[int] = []  # tokens that start with the closing quote
        # tokens that open a value and already carry some of it (Qwen writes ` "(` or ` "\"` as one
        # token): text after the opening quote -> ids
        self.openers: dict[bytes, list[int]] = {}
        self.prefixes: set[bytes] = set()
        for token_id, content in added.items():
            self.raw[token_id] = content.content.encode("utf-8")  # special and added tokens never belong inside a value
        for piece, token_id in sorted(tokenizer.get_vocab().items(), key=lambda item: item[1]):
            if token_id in added:
                continue
            try:
                data = piece.translate(table).encode("latin-1")
            except UnicodeEncodeError:
                raise ValueError(
                    "copy-constrained decoding needs a byte-level BPE tokenizer (Qwen, GPT-2 style); "
                    f"token {token_id} ({piece!r}) is not byte-level: use --values free"
                ) from None
            self.raw[token_id] = data
            opener = _OPENER.match(data)
            if opener and opener.end() < len(data):
                self.openers.setdefault(data[opener.end() :], []).append(token_id)
            end = unescaped_quote(data)
            if end is None:
                self.by_bytes.setdefault(data, []).append(token_id)
                self._add_prefixes(data)
            elif end == 0:
                self.closing.append(token_id)
            else:
                self.by_head.setdefault(data[:end], []).append(token_id)
                self._add_prefixes(data[:end])
        self.longest = max(map(len, self.by_bytes), default=1)
        self.longest_head = max(map(len, self.by_head), default=0)

    def _add_prefixes(self, data: bytes) -> None:
        # the set stays prefix-closed, so the first prefix already there ends the walk
        for length in range(len(data), 0, -1):
            if data[:length] in self.prefixes:
                return
            self.prefixes.add(data[:length])

    def allowed(self, source: bytes, prefix: bytes) -> list[int]:
        """Token ids that keep ``prefix`` a substring of ``source`` (starting on a character) or
        close it; closing needs a non-empty prefix that ends on a whole character."""
        allowed: set[int] = set(self.closing) if _can_close(prefix) else set()
        start = source.find(prefix)
        while start != -1:
            if start == len(source) or not _is_continuation(source[start]):
                end = start + len(prefix)
                length = 1
                while end + length <= len(source) and source[end : end + length] in self.prefixes:
                    piece = source[end : end + length]
                    allowed.update(self.by_bytes.get(piece, ()))
                    if piece in self.by_head and _can_close(prefix + piece):
                        allowed.update(self.by_head[piece])
                    length += 1
            start = source.find(prefix, start + 1)
        return sorted(allowed)

    def blocked_openers(self, source: bytes) -> list[int]:
        """Tokens that would open a value with text the input does not have at a character start
        (or close it at once on a part of a character)."""
        blocked: list[int] = []
        for content, ids in self.openers.items():
            quote = unescaped_quote(content)
            value = content if quote is None else content[:quote]
            if not (_starts_in(source, value) and (quote is None or _can_close(value))):
                blocked += ids
        return blocked


@lru_cache(maxsize=4)
def token_bytes(tokenizer) -> TokenBytes:
    """One index per tokenizer (building it walks the whole vocabulary)."""
    return TokenBytes(tokenizer)


def unescaped_quote(data: bytes) -> int | None:
    """Index of the first '"' not escaped by a backslash, or None."""
    escaped = False
    for index, byte in enumerate(data):
        if escaped:
            escaped = False
        elif byte == _BACKSLASH:
            escaped = True
        elif byte == _QUOTE:
            return index
    return None


def _starts_in(source: bytes, value: bytes) -> bool:
    """``value`` is non-empty and occurs in ``source`` starting on a character."""
    start = source.find(value) if value else -1
    while start != -1:
        if not _is_continuation(source[start]):
            return True
        start = source.find(value, start + 1)
    return False


def _is_continuation(byte: int) -> bool:
    """A UTF-8 continuation byte: a value cannot start there."""
    return byte & 0xC0 == 0x80


def _can_close(value: bytes) -> bool:
    """A value may end here: non-empty, whole characters, and a '"' written next is not escaped."""
    if not value or (len(value) - len(value.rstrip(b"\\"))) % 2 == 1:
        return False
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def open_value(generated: bytes) -> bytes | None:
    """The content so far of a ``"value"`` string the answer is still writing, else None."""
    opening = None
    for opening in _VALUE_OPEN.finditer(generated):  # noqa: B007 (the last match is the one wanted)
        pass
    if opening is None:
        return None
    content = generated[opening.end() :]
    return None if unescaped_quote(content) is not None else content


def escaped_source(text: str) -> bytes:
    """The input as it reads inside a JSON string (what a copied value looks like on the wire)."""
    return json.dumps(text, ensure_ascii=False)[1:-1].encode("utf-8")


class CopyConstraint(LogitsProcessor):
    """Masks, in every row writing a value, each token that would make the value stop being input text.

    One instance per ``generate`` call; ``sources[i]`` is the input text of batch row ``i``.
    """

    def __init__(self, tokenizer, sources: Sequence[str]) -> None:
        self.tokens = token_bytes(tokenizer)
        self.sources = [escaped_source(text) for text in sources]
        self.generated = [bytearray() for _ in sources]
        self.prompt_width: int | None = None
        # (row, value so far) -> allowed ids: every value of a row starts from the same b"" prefix;
        # (row, None) -> the openers that row blocks
        self._allowed: dict[tuple[int, bytes | None], list[int]] = {}

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.prompt_width is None:
            self.prompt_width = input_ids.shape[1]
        elif input_ids.shape[1] > self.prompt_width:
            for row, token_id in enumerate(input_ids[:, -1].tolist()):
                self.generated[row] += self.tokens.raw.get(token_id, b"")
        rows: list[int] = []
        columns: list[int] = []
        blocked_rows: list[int] = []
        blocked_columns: list[int] = []
        for row, source in enumerate(self.sources):
            generated = bytes(self.generated[row])
            prefix = open_value(generated)
            if prefix is None:
                if _VALUE_KEY.search(generated):
                    if (row, None) not in self._allowed:
                        self._allowed[(row, None)] = self.tokens.blocked_openers(source)
                    blocked_rows += [row] * len(self._allowed[(row, None)])
                    blocked_columns += self._allowed[(row, None)]
                continue
            key = (row, prefix)
            if key not in self._allowed:
                self._allowed[key] = self.tokens.allowed(source, prefix)
            allowed = self._allowed[key]
            if not allowed:
                continue  # nothing fits (the value was opened unconstrained): leave the model be
            rows += [row] * len(allowed)
            columns += allowed
        if rows:
            # one gather, one fill, one scatter for the whole batch, in place: a 152k-wide row is
            # neither copied nor allocated per row and step
            index = (torch.as_tensor(rows, device=scores.device), torch.as_tensor(columns, device=scores.device))
            kept = scores[index]
            scores.index_fill_(0, torch.as_tensor(sorted(set(rows)), device=scores.device), float("-inf"))
            scores.index_put_(index, kept)
        if blocked_rows:
            blocked = (
                torch.as_tensor(blocked_rows, device=scores.device),
                torch.as_tensor(blocked_columns, device=scores.device),
            )
            scores.index_put_(blocked, torch.tensor(float("-inf"), device=scores.device))
        return scores
