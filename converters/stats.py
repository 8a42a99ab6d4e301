"""``stats``: type counts, positive ratio and token-length percentiles of a dataset, with the
target model's tokenizer and LLaMA-Factory's own chat template, and the smallest ``cutoff_len``
(rounded up to a multiple of 8) that truncates no prompt and no answer.

Works on any input format and on converted alpaca/sharegpt files. Lengths are kept as a
histogram, so memory stays flat in the number of records.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tqdm import tqdm

from converters.conll import TokenForm
from converters.label_presets import label_map_of
from converters.readers import read_records
from converters.records import Chat, Record, Rejected
from converters.tokens import load_tokenizer
from converters.writers import Prompting, to_chat

Measure = Callable[[Chat], tuple[int, int]]


def percentile(hist: Counter[int], q: float) -> int:
    """The q-th percentile (nearest rank) of a length histogram."""
    total = sum(hist.values())
    rank, seen = max(1, -(-q * total // 100)), 0
    for length in sorted(hist):
        seen += hist[length]
        if seen >= rank:
            return length
    return 0


@dataclass
class Stats:
    records: int = 0
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)
    pii: int = 0
    positive: int = 0
    types: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    prompt: Counter[int] = field(default_factory=Counter)
    answer: Counter[int] = field(default_factory=Counter)
    total: Counter[int] = field(default_factory=Counter)
    unit: str = "characters"

    @property
    def cutoff_len(self) -> int | None:
        """Smallest multiple of 8 holding the longest prompt + answer (tokens only)."""
        if self.unit != "tokens" or not self.total:
            return None
        return -(-max(self.total) // 8) * 8

    def to_json(self) -> dict[str, Any]:
        qs = (50, 90, 95, 99, 100)
        return {
            "records": self.records,
            "rejected": self.rejected,
            "pii_records": self.pii,
            "positive": self.positive,
            "positive_ratio": self.positive / self.pii if self.pii else None,
            "types": dict(self.types.most_common()),
            "dropped_labels": dict(self.dropped.most_common()),
            "unit": self.unit,
            **{
                part: {f"p{q}": percentile(getattr(self, part), q) for q in qs}
                for part in ("prompt", "answer", "total")
            },
            "cutoff_len": self.cutoff_len,
        }

    def lines(self) -> list[str]:
        data = self.to_json()
        out = [f"records {self.records} (rejected {self.rejected})"]
        out += [f"  rejected: {r}" for r in self.reasons]
        if self.pii:
            out.append(f"PII-positive {self.positive} / {self.pii} = {self.positive / self.pii:.1%}")
        out.append("types: " + (", ".join(f"{t} {n}" for t, n in self.types.most_common()) or "none"))
        if self.dropped:
            out.append(
                "dropped on purpose by the label map: " + ", ".join(f"{t} {n}" for t, n in self.dropped.most_common())
            )
        for part in ("prompt", "answer", "total"):
            out.append(f"{part} {self.unit}: " + "  ".join(f"{k} {v}" for k, v in data[part].items()))
        if self.cutoff_len is None:
            out.append("cutoff_len: give --tokenizer to get a recommendation in tokens")
        else:
            out.append(
                f"recommended cutoff_len: {self.cutoff_len} (longest prompt + answer is {max(self.total)} tokens; nothing is truncated)"
            )
        return out


def _answer_types(chat: Chat) -> list[str] | None:
    """Entity types of a converted row's answer, or None when the answer is not PII JSON."""
    try:
        answer = json.loads(chat.output)
    except json.JSONDecodeError:
        return None
    if not isinstance(answer, dict) or not isinstance(answer.get("entities"), list):
        return None
    return [e.get("type") for e in answer["entities"] if isinstance(e, dict)]


def template_measure(
    tokenizer_path: str | os.PathLike[str], template: str = "qwen3", enable_thinking: bool = False
) -> Measure:
    """Prompt and answer lengths exactly as LLaMA-Factory encodes one turn."""
    tokenizer = load_tokenizer(tokenizer_path)
    with contextlib.redirect_stdout(sys.stderr):  # LLaMA-Factory's log handler binds stdout when first imported
        from llamafactory.data import get_template_and_fix_tokenizer
        from llamafactory.hparams import DataArguments

        tmpl = get_template_and_fix_tokenizer(
            tokenizer, DataArguments(template=template, enable_thinking=enable_thinking)
        )

    def measure(chat: Chat) -> tuple[int, int]:
        user = f"{chat.instruction}\n{chat.input}" if chat.input else chat.instruction
        messages = [{"role": "user", "content": user}, {"role": "assistant", "content": chat.output}]
        prompt, answer = tmpl.encode_oneturn(tokenizer, messages, chat.system)
        return len(prompt), len(answer)

    return measure


def char_measure(chat: Chat) -> tuple[int, int]:
    return len(chat.instruction) + 1 + len(chat.input), len(chat.output)


def compute_stats(
    paths: list[Path],
    fmt: str | None = None,
    label_map: Any = None,
    prompting: Prompting = Prompting(),
    measure: Measure | None = None,
    progress: bool = True,
    conll_tokens: TokenForm = "auto",
) -> Stats:
    """Stats over every record of ``paths``; bad records are counted, not fatal."""
    stats = Stats(unit="characters" if measure is None else "tokens")
    measure = measure or char_measure
    for path in paths:
        for item in tqdm(
            read_records(path, fmt, label_map_of(label_map), conll_tokens=conll_tokens),
            desc=f"stats {path.name}",
            unit=" rec",
            disable=not progress,
            leave=False,
        ):
            if isinstance(item, Rejected):
                stats.rejected += 1
                if len(stats.reasons) < 3:
                    stats.reasons.append(f"{item.path}:{item.line}: {item.reason}")
                continue
            stats.records += 1
            if item.dropped:
                stats.dropped.update(item.dropped)
            chat = _chat_of(item, prompting)
            types = [e.type for e in item.sample.entities] if item.sample is not None else _answer_types(chat)
            if types is not None:
                stats.pii += 1
                stats.positive += bool(types)
                stats.types.update(types)
            prompt, answer = measure(chat)
            stats.prompt[prompt] += 1
            stats.answer[answer] += 1
            stats.total[prompt + answer] += 1
    return stats


def _chat_of(record: Record, prompting: Prompting) -> Chat:
    return record.chat if record.chat is not None else to_chat(record.sample, prompting)
