"""Structure-safe decoding: the answer can only be the pack's answer format, so it always parses.

An answer is :func:`piifactory.schema.target_text`'s JSON: a fixed frame with three kinds of
holes. Outside the values, everything the model may write is one of a few literal strings known
before decoding starts (taken from ``target_text`` itself, so the frame has one source)::

    {"entities": []}                                   the empty answer
    {"entities": [{"type": "T", "value": "             the first entity, T a schema type
    "}]}                                               after a value: close the list
    "}, {"type": "T", "value": "                       after a value: another entity of type T

The constraint follows the literal being written byte by byte and masks every token that leaves
all live literals; inside a value, :class:`eval.decoding.copy_constraint.CopyConstraint` keeps the value
text of the input and this module lets a value end only where the rest of the token continues the
frame. Stop tokens are allowed only once ``]}`` is written, and when the token budget runs low the
answer is steered to its shortest close, so an answer is complete JSON whatever the model wants.

The same walk is where the recall dial lives. Wherever the model chooses between another entity and
closing the list, the constraint knows which tokens commit to which, so it can

* score every entity it writes: ``p_open`` (given it commits now, the probability that it opens an
  entity rather than closes the list) x ``p_type`` (the probability of the type's tokens) x
  ``p_value`` (the probability of the value's first token among the tokens the copy constraint
  allows: where the value starts), all from the model's own masked, unbiased logits;
* bias the choice: ``recall_bias`` is subtracted from the logits of the tokens that close the list
  (the empty list included), so the model writes more entities; thresholds on the scores then trade
  the extra recall against precision (:mod:`eval.decoding.dial`).

Why not xgrammar / lm-format-enforcer / outlines: see docs/eval.md ("Structure-safe decoding").
"""

from __future__ import annotations

import json
import math
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Sequence

import torch
from transformers import LogitsProcessor

from eval.decoding.copy_constraint import CopyConstraint, escaped_source, token_bytes, unescaped_quote
from piifactory.answer import target_text
from piifactory.errors import UsageError
from piifactory.schema import PII_TYPES, Entity

START, AFTER, VALUE, DONE = "start", "after", "value", "done"
_VALUE_RESERVE = 4  # tokens a value's first character can take (byte tokens of a rare character)
_MARGIN = 2
_CACHED_MASKS = frozenset({"stops", "inside", "closing", "close", "open", "neutral"})


@dataclass(frozen=True, slots=True)
class Literal:
    """One way a stretch of the frame can read: ``type`` None closes the list; otherwise the
    literal opens an entity of that type and ends at its value's opening quote."""

    text: bytes
    type: str | None


@dataclass(frozen=True)
class AnswerFrame:
    """The literals of the answer format: at the start, and after a value (from its closing quote)."""

    start: tuple[Literal, ...]
    after: tuple[Literal, ...]

    def literals(self, segment: str) -> tuple[Literal, ...]:
        return self.start if segment == START else self.after

    @property
    def close_after_value(self) -> bytes:
        return next(lit.text for lit in self.after if lit.type is None)


@lru_cache(maxsize=1)
def answer_frame(types: tuple[str, ...] = tuple(PII_TYPES)) -> AnswerFrame:
    """The frame as :func:`target_text` writes it (separators, key order, spacing)."""
    mark_type, mark_value = "@TYPE@", "@VALUE@"
    one = target_text([Entity(mark_type, mark_value)]).encode()
    two = target_text([Entity(mark_type, mark_value), Entity(mark_type, mark_value)]).encode()
    first, closing = one.split(mark_value.encode())
    between = two.split(mark_value.encode())[1]

    def typed(template: bytes, name: str) -> bytes:
        return template.replace(mark_type.encode(), json.dumps(name, ensure_ascii=False)[1:-1].encode())

    start = (Literal(target_text([]).encode(), None), *(Literal(typed(first, t), t) for t in types))
    after = (Literal(closing, None), *(Literal(typed(between, t), t) for t in types))
    return AnswerFrame(start, after)


def _quote_at(data: bytes, escaped: bool) -> int | None:
    """Index of the '"' that ends a JSON string in ``data``, when ``data`` follows a string body
    that ends in an unfinished escape (``escaped``) or not."""
    if not escaped:
        return unescaped_quote(data)
    found = unescaped_quote(b"\\" + data)
    return None if found is None else found - 1


def _ends_escaped(body: bytes) -> bool:
    """A string body ending in an odd run of backslashes: the next byte is escaped."""
    return (len(body) - len(body.rstrip(b"\\"))) % 2 == 1


def _closable(body: bytes) -> bool:
    """A value may end here: a non-empty, valid JSON string body (whole characters and escapes)."""
    if not body:
        return False
    try:
        json.loads(b'"' + body + b'"')
    except ValueError:
        return False
    return True


def _starts_value(source: bytes, data: bytes) -> bool:
    """``data`` is a value's beginning copied from ``source``: it occurs there on a character start
    and holds no closing quote."""
    if unescaped_quote(data) is not None:
        return False
    start = source.find(data)
    while start != -1:
        if source[start] & 0xC0 != 0x80:
            return True
        start = source.find(data, start + 1)
    return False


@dataclass(frozen=True)
class _LiteralStep:
    """What may follow ``consumed`` in a literal stretch: tokens that stay inside a live literal,
    which of them commit to closing or to another entity, and tokens that run on into a value."""

    inside: tuple[int, ...]
    commit_close: frozenset[int]
    commit_open: frozenset[int]
    crossing: tuple[tuple[int, bytes], ...]  # (token, the value bytes it starts with)
    towards_close: frozenset[int]  # inside tokens consistent with closing the list
    longest_close: int | None  # the longest of those (forced when the budget runs out)
    longest: int | None  # the longest inside token


class FrameIndex:
    """The vocabulary seen from the frame: per-literal-state steps (cached) and, inside a value,
    which tokens stay in it, which end it and how they continue the frame."""

    def __init__(self, tokenizer, frame: AnswerFrame) -> None:
        self.frame = frame
        added = set(tokenizer.added_tokens_decoder)
        self.raw: dict[int, bytes] = token_bytes(tokenizer).raw
        self.by_bytes: dict[bytes, list[int]] = {}
        for token_id, data in self.raw.items():
            if token_id not in added and data:
                self.by_bytes.setdefault(data, []).append(token_id)
        self.keys = sorted(self.by_bytes)
        self._counts: dict[bytes, int] = {}
        self._steps: dict[tuple[str, bytes], _LiteralStep] = {}
        # Inside a value, per "the body so far ends escaped": tokens that stay inside, and tokens
        # that end it, keyed by what the rest of the token (from the quote) does to the frame.
        self.value_inside: dict[bool, list[int]] = {False: [], True: []}
        self.value_close: dict[bool, dict[str, list[int]]] = {
            e: {"neutral": [], "close": [], "open": []} for e in (False, True)
        }
        for escaped in (False, True):
            for data, ids in self.by_bytes.items():
                quote = _quote_at(data, escaped)
                if quote is None:
                    self.value_inside[escaped].extend(ids)
                    continue
                tail = data[quote:]
                live = [lit for lit in frame.after if lit.text.startswith(tail)]
                if not live:
                    continue  # the rest of the token breaks the frame (or runs into a new value)
                kinds = {lit.type is None for lit in live}
                kind = "neutral" if len(kinds) == 2 else ("close" if True in kinds else "open")
                self.value_close[escaped][kind].extend(ids)
        self.value_commit_open = {e: frozenset(self.value_close[e]["open"]) for e in (False, True)}
        self.longest_after_entity = max(self.tokens_for(lit.text) for lit in frame.after if lit.type is not None)
        self._masks: dict[tuple, torch.Tensor] = {}

    def step(self, segment: str, consumed: bytes) -> _LiteralStep:
        key = (segment, consumed)
        if key not in self._steps:
            self._steps[key] = self._literal_step(self.frame.literals(segment), consumed)
        return self._steps[key]

    def _literal_step(self, literals: tuple[Literal, ...], consumed: bytes) -> _LiteralStep:
        live = [lit for lit in literals if lit.text.startswith(consumed)]
        deciding = len({lit.type is None for lit in live}) == 2
        kinds: dict[int, set[bool]] = {}
        lengths: dict[int, int] = {}
        crossing: list[tuple[int, bytes]] = []
        for lit in live:
            rest = lit.text[len(consumed) :]
            for length in range(1, len(rest) + 1):
                for token_id in self.by_bytes.get(rest[:length], ()):
                    kinds.setdefault(token_id, set()).add(lit.type is None)
                    lengths[token_id] = length
            if lit.type is not None:  # a token may run on from the opening quote into the value
                at = bisect_left(self.keys, rest)
                while at < len(self.keys) and self.keys[at].startswith(rest):
                    if len(self.keys[at]) > len(rest):
                        crossing += [
                            (token_id, self.keys[at][len(rest) :]) for token_id in self.by_bytes[self.keys[at]]
                        ]
                    at += 1
        closes = [t for t, k in kinds.items() if k == {True}] if deciding else []
        opens = [t for t, k in kinds.items() if k == {False}] + [t for t, _ in crossing] if deciding else []
        towards_close = [t for t, k in kinds.items() if True in k]
        return _LiteralStep(
            inside=tuple(kinds),
            commit_close=frozenset(closes),
            commit_open=frozenset(opens),
            crossing=tuple(crossing),
            towards_close=frozenset(towards_close),
            longest_close=max(towards_close, key=lambda t: lengths[t], default=None),
            longest=max(kinds, key=lambda t: lengths[t], default=None),
        )

    def tokens_for(self, data: bytes) -> int:
        """Tokens of ``data`` split greedily into the longest tokens: how many steps writing it
        takes when the constraint forces it (the budget's yardstick)."""
        if data not in self._counts:
            count, at = 0, 0
            while at < len(data):
                at += next(n for n in range(len(data) - at, 0, -1) if data[at : at + n] in self.by_bytes)
                count += 1
            self._counts[data] = count
        return self._counts[data]

    def mask(self, name: tuple, ids: Sequence[int], width: int, device: torch.device) -> torch.Tensor:
        """A boolean vocabulary mask of ``ids``. The few masks of the value state are cached; the
        literal states' are built each time (hundreds of states, a few tokens each: a cached mask
        per state would hold a vocabulary-wide tensor for each)."""
        key = (name, width, str(device))
        if key in self._masks:
            return self._masks[key]
        mask = torch.zeros(width, dtype=torch.bool, device=device)
        if ids:
            mask[torch.as_tensor([i for i in ids if i < width], dtype=torch.long, device=device)] = True
        if name[0] in _CACHED_MASKS:
            self._masks[key] = mask
        return mask


@lru_cache(maxsize=4)
def frame_index(tokenizer) -> FrameIndex:
    """One index per tokenizer (it walks the vocabulary)."""
    return FrameIndex(tokenizer, answer_frame())


@dataclass
class EntityScore:
    """The model's own confidence in one entity it wrote (see the module docstring)."""

    p_open: float
    log_type: float = 0.0
    p_value: float = 1.0

    @property
    def p_type(self) -> float:
        return math.exp(self.log_type)

    @property
    def score(self) -> float:
        return self.p_open * self.p_type * self.p_value

    def to_dict(self) -> dict[str, float]:
        return {
            "score": round(self.score, 6),
            "p_open": round(self.p_open, 6),
            "p_type": round(self.p_type, 6),
            "p_value": round(self.p_value, 6),
        }


@dataclass
class _Row:
    source: bytes
    segment: str = START
    consumed: bytes = b""  # the literal written so far, or the value's body so far
    closing: bool = False  # the budget is running out: steer to the shortest close
    finished: bool = False
    entities: list[EntityScore] = field(default_factory=list)
    stage: str | None = None  # "type" | "value": the next token's probability feeds the last entity
    p_open: float = 1.0  # at this step, p(open | commit now)
    commit_open: frozenset[int] = frozenset()
    logprobs: torch.Tensor | None = None


class StructureConstraint(LogitsProcessor):
    """The answer frame, the copy constraint, entity scores and the end-of-list bias in one logits
    processor. One instance per ``generate`` call; ``sources[i]`` is the input text of row ``i``.

    ``max_new_tokens`` is the budget of the call: an answer always closes within it (if it is at
    least the few tokens of ``{"entities": []}``).
    """

    def __init__(
        self,
        tokenizer,
        sources: Sequence[str],
        *,
        stop_token_ids: Sequence[int],
        max_new_tokens: int,
        recall_bias: float = 0.0,
    ) -> None:
        self.index = frame_index(tokenizer)
        empty = next(lit.text for lit in self.index.frame.start if lit.type is None)
        if max_new_tokens < self.index.tokens_for(empty):
            raise UsageError(
                f"max_new_tokens={max_new_tokens} cannot hold even the empty answer {empty.decode()} "
                f"({self.index.tokens_for(empty)} tokens)"
            )
        self.copy = CopyConstraint(tokenizer, sources)
        self.rows = [_Row(escaped_source(text)) for text in sources]
        self.stops = list(stop_token_ids)
        self.max_new_tokens = max_new_tokens
        self.recall_bias = recall_bias
        self.prompt_width: int | None = None

    def entity_scores(self, row: int) -> list[EntityScore]:
        """Scores of the entities row ``row`` wrote, in the order written."""
        return self.rows[row].entities

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        model_scores = scores.clone()
        scores = self.copy(input_ids, scores)
        if self.prompt_width is None:
            self.prompt_width = input_ids.shape[1]
        elif input_ids.shape[1] > self.prompt_width:
            for row, token_id in enumerate(input_ids[:, -1].tolist()):
                self._advance(self.rows[row], token_id)
        remaining = self.max_new_tokens - (input_ids.shape[1] - self.prompt_width)
        for row, state in enumerate(self.rows):
            if not state.finished:
                scores[row] = self._constrain(state, scores[row], model_scores[row], remaining)
        return scores

    # -- following what was written ---------------------------------------------------------
    def _advance(self, row: _Row, token_id: int) -> None:
        if row.finished:
            return
        if row.segment == DONE or token_id in self.stops:
            row.finished = True
            return
        logprob = float(row.logprobs[token_id]) if row.logprobs is not None else 0.0
        if token_id in row.commit_open:
            row.entities.append(EntityScore(row.p_open))
            row.stage = "type"
        elif row.stage == "type":
            row.entities[-1].log_type += logprob
        elif row.stage == "value":
            row.entities[-1].p_value = math.exp(logprob)
            row.stage = None
        self._feed(row, self.index.raw.get(token_id, b""))
        if row.stage == "type" and row.segment == VALUE:
            row.stage = "value" if not row.consumed else None

    def _feed(self, row: _Row, data: bytes) -> None:
        """Move the row's place in the frame over ``data`` (which the mask allowed)."""
        while data:
            if row.segment == VALUE:
                quote = _quote_at(data, _ends_escaped(row.consumed))
                if quote is None:
                    row.consumed += data
                    return
                row.segment, row.consumed, data = AFTER, b"", data[quote:]
                continue
            if row.segment == DONE:
                return
            written = row.consumed + data
            literals = self.index.frame.literals(row.segment)
            if any(lit.text.startswith(written) for lit in literals):
                row.consumed, data = written, b""
            else:  # past the end of an entity literal: the rest is the value's beginning
                lit = next(lit for lit in literals if lit.type is not None and written.startswith(lit.text))
                row.consumed, data = lit.text, written[len(lit.text) :]
            ended = next((lit for lit in literals if lit.text == row.consumed), None)
            if ended is not None:
                row.segment, row.consumed = (DONE, b"") if ended.type is None else (VALUE, b"")

    # -- the mask for the next token ---------------------------------------------------------
    def _constrain(self, row: _Row, scores: torch.Tensor, model_scores: torch.Tensor, remaining: int) -> torch.Tensor:
        width, device = scores.shape[-1], scores.device
        mask = self.index.mask
        row.closing = row.closing or remaining <= self._need(row) + _MARGIN
        if row.segment == DONE:
            return _masked(scores, mask(("stops",), self.stops, width, device), model_scores)
        if row.segment == VALUE:
            escaped = _ends_escaped(row.consumed)
            groups = self.index.value_close[escaped]
            keep = mask(("inside", escaped), self.index.value_inside[escaped], width, device)
            if not _closable(row.consumed):
                row.commit_open = frozenset()
                return self._finish(row, _masked(scores, keep, model_scores), None)
            keep = keep | mask(
                ("closing", escaped), [*groups["neutral"], *groups["close"], *groups["open"]], width, device
            )
            masked = _masked(scores, keep, model_scores)
            close_mask = mask(("close", escaped), groups["close"], width, device)
            self._decision(
                row,
                masked,
                close_mask,
                mask(("open", escaped), groups["open"], width, device),
                self.index.value_commit_open[escaped],
            )
            if row.closing:  # no other entity; the value ends now if the last tokens are near
                ending = close_mask | mask(("neutral", escaped), groups["neutral"], width, device)
                last = remaining <= _VALUE_RESERVE + self._close_value() + _MARGIN
                allowed = (
                    ending
                    if last
                    else ending | mask(("inside", escaped), self.index.value_inside[escaped], width, device)
                )
                if torch.isfinite(masked[allowed]).any():
                    masked = masked.masked_fill(~allowed, float("-inf"))
            return self._finish(row, masked, close_mask)
        step = self.index.step(row.segment, row.consumed)
        if row.closing:
            forced = step.longest_close if step.longest_close is not None else step.longest
            keep = mask(("forced", forced), [forced], width, device)
        elif not row.source:  # an empty input has no value to copy: only the empty list
            keep = mask(("towards-close", row.segment, row.consumed), sorted(step.towards_close), width, device)
        else:
            keep = mask(("literal", row.segment, row.consumed), step.inside, width, device)
            crossing = [t for t, value in step.crossing if t < width and _starts_value(row.source, value)]
            if crossing:  # the literal states' masks are fresh (see FrameIndex.mask)
                keep[torch.as_tensor(crossing, dtype=torch.long, device=device)] = True
        masked = _masked(scores, keep, model_scores)
        if not (step.commit_close or step.commit_open):
            row.commit_open = frozenset()
            return self._finish(row, masked, None)
        close_mask = mask(("literal-close", row.segment, row.consumed), sorted(step.commit_close), width, device)
        open_mask = mask(("literal-open", row.segment, row.consumed), sorted(step.commit_open), width, device)
        self._decision(row, masked, close_mask, open_mask, step.commit_open)
        return self._finish(row, masked, close_mask)

    def _decision(
        self, row: _Row, masked: torch.Tensor, close_mask: torch.Tensor, open_mask: torch.Tensor, opens: frozenset[int]
    ) -> None:
        """p(open | the model commits at this step), from the masked logits before any bias."""
        closing, opening = masked[close_mask], masked[open_mask]
        row.commit_open = opens
        if torch.isfinite(closing).any() and torch.isfinite(opening).any():
            row.p_open = float(torch.sigmoid(torch.logsumexp(opening, 0) - torch.logsumexp(closing, 0)))
        else:
            row.p_open = 1.0

    def _finish(self, row: _Row, masked: torch.Tensor, close_mask: torch.Tensor | None) -> torch.Tensor:
        """Keep this step's log-probabilities when the next token's probability is wanted, then
        bias the list-closing tokens."""
        row.logprobs = torch.log_softmax(masked, dim=-1) if row.stage is not None else None
        if close_mask is not None and self.recall_bias:
            masked = torch.where(close_mask, masked - self.recall_bias, masked)
        return masked

    def _need(self, row: _Row) -> int:
        """Tokens it takes, in the worst case, to close the answer from here if the model opens
        one more entity where it still may (then forced: see FrameIndex.tokens_for)."""
        if row.segment == DONE:
            return 0
        index = self.index
        close_value = self._close_value()
        entity = _VALUE_RESERVE + close_value  # a value's first character, then its close
        if row.segment == VALUE:
            return _VALUE_RESERVE + max(close_value, index.longest_after_entity + entity)
        live = [lit for lit in index.frame.literals(row.segment) if lit.text.startswith(row.consumed)]
        return max(
            index.tokens_for(lit.text[len(row.consumed) :]) + (0 if lit.type is None else entity) for lit in live
        )

    def _close_value(self) -> int:
        """Tokens that end a value and the answer when forced: `"` alone, then the rest."""
        return self.index.tokens_for(self.index.frame.close_after_value) + 1


def budget_reserve(tokenizer) -> int:
    """The most tokens an answer may need to close from inside a value: a budget
    (``max_new_tokens``) this much above the longest expected answer never cuts one short."""
    index = frame_index(tokenizer)
    close_value = index.tokens_for(index.frame.close_after_value) + 1
    return 2 * _VALUE_RESERVE + index.longest_after_entity + 2 * close_value + _MARGIN


def _masked(scores: torch.Tensor, keep: torch.Tensor, model_scores: torch.Tensor) -> torch.Tensor:
    """``scores`` (already copy-constrained) outside ``keep`` set to -inf; if nothing is left,
    the frame alone decides (the copy constraint had nothing to offer)."""
    masked = scores.masked_fill(~keep, float("-inf"))
    if not torch.isfinite(masked).any():
        masked = model_scores.masked_fill(~keep, float("-inf"))
    return masked
