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
_QUOTE = ord('"')
_BACKSLASH = ord("\\")


class TokenBytes:
    """Each vocabulary token's bytes, indexed for "which tokens spell a prefix of this text"."""

    def __init__(self, tokenizer) -> None:
        from transformers.convert_slow_tokenizer import bytes_to_unicode

        byte_of = {char: byte for byte, char in bytes_to_unicode().items()}
        added = tokenizer.added_tokens_decoder
        self.raw: dict[int, bytes] = {}  # every token's bytes, to follow what the model wrote
        self.by_bytes: dict[bytes, list[int]] = {}  # tokens that stay inside the value
        self.by_head: dict[bytes, list[int]] = {}  # tokens that end the value: head bytes + '"' + anything
        self.closing: list[int] = []  # tokens that start with the closing quote
        for token_id in range(len(tokenizer)):
            if token_id in added:
                self.raw[token_id] = added[token_id].content.encode("utf-8")
                continue  # special and added tokens never belong inside a value
            piece = tokenizer.convert_ids_to_tokens(token_id)
            if piece is None:
                continue
            try:
                data = bytes(byte_of[char] for char in piece)
            except KeyError:
                raise ValueError(
                    "copy-constrained decoding needs a byte-level BPE tokenizer (Qwen, GPT-2 style); "
                    f"token {token_id} ({piece!r}) is not byte-level: use --values free"
                ) from None
            self.raw[token_id] = data
            end = _unescaped_quote(data)
            if end is None:
                self.by_bytes.setdefault(data, []).append(token_id)
            elif end == 0:
                self.closing.append(token_id)
            else:
                self.by_head.setdefault(data[:end], []).append(token_id)
        self.longest = max(map(len, self.by_bytes), default=1)
        self.longest_head = max(map(len, self.by_head), default=0)

    def allowed(self, source: bytes, prefix: bytes) -> list[int]:
        """Token ids that keep ``prefix`` a substring of ``source`` (starting on a character) or
        close it; closing needs a non-empty prefix that ends on a whole character."""
        allowed: set[int] = set(self.closing) if _can_close(prefix) else set()
        start = source.find(prefix)
        while start != -1:
            if start == len(source) or not _is_continuation(source[start]):
                rest = source[start + len(prefix) :]
                for length in range(1, min(len(rest), self.longest) + 1):
                    allowed.update(self.by_bytes.get(rest[:length], ()))
                for length in range(1, min(len(rest), self.longest_head) + 1):
                    if _can_close(prefix + rest[:length]):
                        allowed.update(self.by_head.get(rest[:length], ()))
            start = source.find(prefix, start + 1)
        return sorted(allowed)


@lru_cache(maxsize=4)
def token_bytes(tokenizer) -> TokenBytes:
    """One index per tokenizer (building it walks the whole vocabulary)."""
    return TokenBytes(tokenizer)


def _unescaped_quote(data: bytes) -> int | None:
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
    return None if _unescaped_quote(content) is not None else content


def escaped_source(text: str) -> bytes:
    """The input as it reads inside a JSON string (what a copied value looks like on the wire)."""
    return json.dumps(text, ensure_ascii=False)[1:-1].encode("utf-8")


class CopyConstraint(LogitsProcessor):
    """Masks, row by row, every token that would make an open value stop being input text.

    One instance per ``generate`` call; ``sources[i]`` is the input text of batch row ``i``.
    """

    def __init__(self, tokenizer, sources: Sequence[str]) -> None:
        self.tokens = token_bytes(tokenizer)
        self.sources = [escaped_source(text) for text in sources]
        self.generated = [bytearray() for _ in sources]
        self.prompt_width: int | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.prompt_width is None:
            self.prompt_width = input_ids.shape[1]
        elif input_ids.shape[1] > self.prompt_width:
            for row, token_id in enumerate(input_ids[:, -1].tolist()):
                self.generated[row] += self.tokens.raw.get(token_id, b"")
        for row, source in enumerate(self.sources):
            prefix = open_value(bytes(self.generated[row]))
            if prefix is None:
                continue
            allowed = self.tokens.allowed(source, prefix)
            if not allowed:
                continue  # nothing fits (the value was opened unconstrained): leave the model be
            keep = torch.as_tensor(allowed, device=scores.device)
            masked = torch.full_like(scores[row], float("-inf"))
            masked[keep] = scores[row, keep]
            scores[row] = masked
        return scores
