"""Which supervised tokens spell entity values, found in the target text itself.

The target is ``{"entities": [{"type": ..., "value": "..."}]}``. Each row's supervised tokens are
decoded to get every token's character span, the JSON ``"value": "..."`` strings are located with a
regex, and a token whose span overlaps a value's characters is a value token. Byte-level pieces that
split a character are handled. Tokens are decoded a group at a time (a group ends where a character
completes), which is linear in the target's length; where a tokenizer's decode is not the
concatenation of its groups' decodes, the prefix-by-prefix decode (quadratic) is used.
"""

from __future__ import annotations

import re

import torch
from llamafactory.extras.constants import IGNORE_INDEX

from piifactory.answer import VALUE_OPEN

PARTIAL = "\ufffd"  # what decode shows for the bytes of a character not yet complete
_VALUE = re.compile(VALUE_OPEN + r'((?:[^"\\]|\\.)*)"')


def value_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the JSON string contents of every ``"value"`` key."""
    return [match.span(1) for match in _VALUE.finditer(text)]


class ValueTokenWeigher:
    """``labels -> weights``: ``weight`` on entity-value tokens, 1 elsewhere (0 where ignored)."""

    def __init__(self, tokenizer, weight: float) -> None:
        self.tokenizer = tokenizer
        self.weight = weight
        self._cache: dict[tuple[int, ...], list[bool]] = {}
        self._pieces: dict[int, str] = {}

    def _piece(self, group: list[int]) -> str:
        """Decoded text of a token group; single tokens (most groups) are cached by id."""
        if len(group) > 1:
            return self.tokenizer.decode(group, skip_special_tokens=False)
        if group[0] not in self._pieces:
            self._pieces[group[0]] = self.tokenizer.decode(group, skip_special_tokens=False)
        return self._pieces[group[0]]

    def token_ends(self, ids: tuple[int, ...]) -> tuple[list[int], str]:
        """Each token's end in the decoded target (``len(decode(ids[:i + 1]))`` less a trailing
        partial character) and the decoded target. One decode per group, not per prefix: the
        prefix-by-prefix decode took 1 ms a row at the demo's 59 target tokens, this 0.1 ms."""
        ends, pieces, group, done = [], [], [], 0
        for token in ids:
            group.append(token)
            piece = self._piece(group)
            if piece.endswith(PARTIAL):
                ends.append(done + len(piece.rstrip(PARTIAL)))
                continue
            pieces.append(piece)
            done += len(piece)
            ends.append(done)
            group = []
        if group:
            pieces.append(self._piece(group))
        text = self.tokenizer.decode(ids, skip_special_tokens=False)
        if "".join(pieces) == text:
            return ends, text
        prefixes = [self.tokenizer.decode(ids[: i + 1], skip_special_tokens=False) for i in range(len(ids))]
        return [len(prefix.rstrip(PARTIAL)) for prefix in prefixes], text

    def value_mask(self, ids: tuple[int, ...]) -> list[bool]:
        """For each token of a target, whether it overlaps an entity value's characters."""
        if ids not in self._cache:
            ends, text = self.token_ends(ids)
            spans = value_spans(text)
            mask, start = [], 0
            for end in ends:
                stop = max(end, start + 1)  # a token that completes no character sits at `start`
                mask.append(any(start < v_end and stop > v_start for v_start, v_end in spans))
                start = max(start, end)
            self._cache[ids] = mask
        return self._cache[ids]

    def __call__(self, labels: torch.Tensor) -> torch.Tensor:
        weights = (labels != IGNORE_INDEX).float()
        for row in range(labels.size(0)):
            positions = (labels[row] != IGNORE_INDEX).nonzero().flatten()
            ids = tuple(labels[row, positions].tolist())
            marked = [p for p, hit in zip(positions.tolist(), self.value_mask(ids)) if hit]
            weights[row, marked] = self.weight
        return weights
