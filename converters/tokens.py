"""Token counting for chunking and stats: the target model's tokenizer, or one token per character."""

from __future__ import annotations

import os
from typing import Callable

TokenSpans = Callable[[str], list[tuple[int, int]]]


def char_spans(text: str) -> list[tuple[int, int]]:
    """One token per character: the fallback when no tokenizer is given (an upper bound for Qwen
    on Chinese text, where most characters are one token)."""
    return [(i, i + 1) for i in range(len(text))]


def load_tokenizer(path: str | os.PathLike[str]):
    """A local Hugging Face tokenizer (fast, for character offsets); never the hub."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)


def tokenizer_spans(tokenizer) -> TokenSpans:
    """Character spans of the tokens of a text under ``tokenizer``."""

    def spans(text: str) -> list[tuple[int, int]]:
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return [tuple(pair) for pair in encoded["offset_mapping"]]

    return spans
