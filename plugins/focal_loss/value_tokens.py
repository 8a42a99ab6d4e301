"""Which supervised tokens spell entity values, found in the target text itself.

The target is ``{"entities": [{"type": ..., "value": "..."}]}``. Each row's supervised tokens are
decoded prefix by prefix to get every token's character span, the JSON ``"value": "..."`` strings
are located with a regex, and a token whose span overlaps a value's characters is a value token.
Works for any tokenizer (byte-level pieces that split a character are handled); the O(n^2) decode
is cached per distinct target, so each target is decoded once per run.
"""

from __future__ import annotations

import re

import torch
from llamafactory.extras.constants import IGNORE_INDEX

from piifactory.answer import VALUE_OPEN

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

    def value_mask(self, ids: tuple[int, ...]) -> list[bool]:
        """For each token of a target, whether it overlaps an entity value's characters."""
        if ids not in self._cache:
            ends = [
                len(self.tokenizer.decode(ids[: i + 1], skip_special_tokens=False).rstrip("\ufffd"))
                for i in range(len(ids))
            ]
            text = self.tokenizer.decode(ids, skip_special_tokens=False)
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
