"""Model + rules at prediction time: merge policies over the model's entities and the rule hits.

* ``off``: the model's entities, aligned to the text.
* ``union``: plus every rule hit that no model entity overlaps (recall).
* ``verify``: minus model entities of a checksum type (ID_CARD, BANK_CARD, USCC) that the type's
  recognizer refuses: the same ``validate`` the rules apply, so both agree on what is valid.
* ``union+verify`` (alias ``both``): verify first, then union.

Every merged entity carries offsets into the text where its value can be found there, and says
which source found it: ``model``, ``rules`` or ``both``.
"""

from __future__ import annotations

from typing import Callable, Sequence

from piifactory.answer import extract, target_text
from piifactory.errors import UsageError
from piifactory.offsets import place
from piifactory.recognizers import Detection, analyze, passes_checksum
from piifactory.schema import Entity, match_key

POLICIES = ("off", "union", "verify", "union+verify")
_POLICY_ALIASES = {"both": "union+verify", "verify+union": "union+verify"}


def canonical_policy(policy: str) -> str:
    name = _POLICY_ALIASES.get(policy, policy)
    if name not in POLICIES:
        raise UsageError(f"unknown rules policy {policy!r}; choose from {', '.join(POLICIES)} or both")
    return name


def align(text: str, entities: Sequence[Entity]) -> list[Detection]:
    """The model's entities with offsets, placed by :func:`piifactory.offsets.place` (given
    offsets kept when they hold the value; repeats take the next occurrences; width, case and
    identifier separators may differ). A value absent from the text is kept without offsets."""
    aligned: list[Detection] = []
    for entity, span in zip(entities, place(text, entities)):
        if span is None:
            aligned.append(Detection(Entity(entity.type, entity.value), "model"))
        else:
            aligned.append(Detection(Entity(entity.type, text[span[0] : span[1]], *span), "model"))
    return aligned


def merge(text: str, model_entities: Sequence[Entity], policy: str) -> list[Detection]:
    """The merged entities of one text in order of position (entities without offsets last).

    Under ``union`` a rule hit that overlaps a model entity of the same type (or has its value)
    marks it ``both`` and keeps the model's span; one that overlaps a model entity of another
    type is dropped: the model saw the context, the rule only the shape.
    """
    policy = canonical_policy(policy)
    merged = align(text, model_entities)
    if "verify" in policy:
        merged = [d for d in merged if passes_checksum(d.entity)]
    if "union" in policy:
        for hit in analyze(text):
            key = match_key(hit.type, hit.value)
            same = [
                i
                for i, d in enumerate(merged)
                if d.type == hit.type and (d.overlaps(hit) or (not d.entity.has_span and match_key(d.type, d.value) == key))
            ]
            for i in same:
                merged[i] = Detection(merged[i].entity, "both", hit.score, hit.recognizer)
            if not same and not any(d.overlaps(hit) for d in merged):
                merged.append(hit)
    placed = sorted((d for d in merged if d.entity.has_span), key=lambda d: d.start)  # type: ignore[arg-type, return-value]
    return placed + [d for d in merged if not d.entity.has_span]


def to_prediction(text: str, merged: Sequence[Detection]) -> str:
    """The ``{"entities": [...]}`` answer string of merged entities (schema.target_text)."""
    return target_text([d.entity for d in merged], text)


def postprocessor(policy: str) -> Callable[[str, list[Entity]], list[Entity]] | None:
    """``eval.predict``'s ``postprocess`` seam for ``--rules POLICY``; None for ``off``."""
    policy = canonical_policy(policy)
    if policy == "off":
        return None
    return lambda text, entities: [d.entity for d in merge(text, entities, policy)]


def apply(text: str, generation: str, policy: str) -> str:
    """A raw model answer after the policy, as ``eval.predict --rules`` writes it: ``off`` leaves
    the answer untouched; otherwise the answer's schema entities (read by the scorer's parser)
    are merged and written back as a target string."""
    process = postprocessor(policy)
    if process is None:
        return generation
    return target_text(process(text, list(extract(generation, text).entities)), text)
