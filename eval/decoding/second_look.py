"""A second look: predict again on the text with the values already found masked, and take the
union. A model that stops listing entities early often finds the rest once the first ones are out
of the way; what it costs is a second generation for every sample (measured in ``make bench``).
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Sequence

from piifactory.answer import target_text
from piifactory.schema import Entity

if TYPE_CHECKING:
    from eval.decoding.generation import Answer

MASK = "＊"
"""Stands in for each character of a found value: the text keeps its length and layout, and a
value written over it is recognisably not from the text (it is dropped)."""


def masked_text(text: str, values: Sequence[str]) -> str:
    """``text`` with every occurrence of each value masked, longest values first."""
    for value in sorted({v for v in values if v.strip()}, key=len, reverse=True):
        text = text.replace(value, MASK * len(value))
    return text


def masked_row(row: dict, text: str, masked: str) -> dict:
    """A LLaMA-Factory dataset row whose user turn ends with ``masked`` instead of ``text`` (the
    sample's input is the end of the turn: :func:`piifactory.schema.input_text`)."""
    out = copy.deepcopy(row)
    content = out["_prompt"][-1]["content"]
    out["_prompt"][-1]["content"] = content[: len(content) - len(text)] + masked
    return out


def union(first: Answer, second: Answer) -> tuple[Answer, int]:
    """(the first answer plus the second's entities that are new and hold no mask, how many were
    added); entities keep the order written, scores follow them."""
    from eval.decoding.generation import Answer  # torch: only where answers exist already

    entities = [Entity(e["type"], e["value"]) for e in json.loads(first.text)["entities"]]
    scores = list(first.scores or ())
    seen = {(e.type, e.value) for e in entities}
    added = 0
    for item, score in zip(json.loads(second.text)["entities"], second.scores or (), strict=True):
        key = (item["type"], item["value"])
        if MASK in item["value"] or key in seen:
            continue
        seen.add(key)
        entities.append(Entity(*key))
        scores.append(score)
        added += 1
    return Answer(target_text(entities), tuple(scores)), added
