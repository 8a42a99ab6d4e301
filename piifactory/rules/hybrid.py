"""Model + rules at prediction time: merge policies over the model's entities and the rule hits.

* ``off``: the model's entities, aligned to the text.
* ``union``: plus every rule hit (recall). A rule hit and the model entities of rule types that
  overlap it resolve to one entity: ``both`` when the model wrote the same value with the same
  type, else the rule's span and type (``rules-over-model``). A model value of a rule type that
  differs from the hit is not a valid one: the recognizers validate each value as at most one type
  (docs/rules.md), so the model's is broken, partial or mistyped. A broken model answer therefore
  never hides a rule hit: on the rule types the union holds every rule hit. A model value of a
  rule type that overlaps no hit is kept only when its type's recognizers accept it where it
  stands, below their score threshold (a bare landline with no context word: the model's word
  stands in for it); on text unlike the training data the others are mostly wrong (hotlines,
  order numbers, fragments) and kept they put model + rules below rules alone (docs/detector.md).
  A model value of a rule type that is not in the text at all (a copy run on or mistyped: it
  cannot be right, and copy-constrained decoding never writes one) is dropped. Model entities of free-text types (PERSON, ADDRESS, ORG) that overlap a hit
  stay beside it.
* ``verify``: minus model entities of a checksum type (ID_CARD, BANK_CARD, USCC) that the type's
  recognizer refuses: the same ``validate`` the rules apply, so both agree on what is valid.
* ``union+verify`` (alias ``both``): verify first, then union.

Every merged entity carries offsets into the text where its value can be found there, and says
which source won: ``model``, ``rules``, ``both`` or ``rules-over-model``.
"""

from __future__ import annotations

from typing import Sequence

from piifactory.answer import extract, target_text
from piifactory.errors import UsageError
from piifactory.offsets import place
from piifactory.rules.recognizers import Detection, analyze, default_registry, passes_checksum, shapes
from piifactory.schema import Entity, match_key

POLICIES = ("off", "union", "verify", "union+verify")
RULE_TYPES = frozenset(default_registry().entity_types)
"""Types the rules recognise by pattern and validation (the rest are free text for the model)."""
_POLICY_ALIASES = {"both": "union+verify", "verify+union": "union+verify"}


def canonical_policy(policy: str) -> str:
    name = _POLICY_ALIASES.get(policy, policy)
    if name not in POLICIES:
        raise UsageError(f"unknown rules policy {policy!r}; choose from {', '.join(POLICIES)} or both")
    return name


def align(text: str, entities: Sequence[Entity], scores: Sequence[float] | None = None) -> list[Detection]:
    """The model's entities with offsets, placed by :func:`piifactory.offsets.place` (given
    offsets kept when they hold the value; repeats take the next occurrences; width, case and
    identifier separators may differ), each with its model score (1.0 when decoding gave none).
    A value absent from the text is kept without offsets."""
    aligned: list[Detection] = []
    scores = [1.0] * len(entities) if scores is None else scores
    for entity, span, score in zip(entities, place(text, entities), scores, strict=True):
        if span is None:
            aligned.append(Detection(Entity(entity.type, entity.value), "model", score))
        else:
            aligned.append(Detection(Entity(entity.type, text[span[0] : span[1]], *span), "model", score))
    return aligned


def merge(
    text: str, model_entities: Sequence[Entity], policy: str, scores: Sequence[float] | None = None
) -> list[Detection]:
    """The merged entities of one text in order of position (entities without offsets last);
    see the module docstring for how a rule hit and overlapping model entities resolve.
    ``scores``: the model's score of each entity (a merged ``both`` takes the higher of its two)."""
    policy = canonical_policy(policy)
    merged = align(text, model_entities, scores)
    if "verify" in policy:
        merged = [d for d in merged if passes_checksum(d.entity)]
    if "union" in policy:
        merged = [d for d in merged if d.entity.has_span or d.type not in RULE_TYPES]
        hits = analyze(text)
        for hit in hits:
            merged = _resolve(merged, hit)
        merged = [d for d in merged if d.source != "model" or d.type not in RULE_TYPES or _validated(text, d)]
    placed = sorted((d for d in merged if d.entity.has_span), key=lambda d: d.start)  # type: ignore[arg-type, return-value]
    return placed + [d for d in merged if not d.entity.has_span]


def _resolve(merged: list[Detection], hit: Detection) -> list[Detection]:
    """``merged`` with one rule hit resolved against the model entities of rule types it overlaps."""
    rivals = [d for d in merged if d.type in RULE_TYPES and d.overlaps(hit)]
    rest = [d for d in merged if not (d.type in RULE_TYPES and d.overlaps(hit))]
    key = match_key(hit.type, hit.value)
    agreeing = [d.score for d in rivals if d.type == hit.type and match_key(d.type, d.value) == key]
    if agreeing:
        return [*rest, Detection(hit.entity, "both", max(hit.score, *agreeing), hit.recognizer)]
    return [*rest, Detection(hit.entity, "rules-over-model" if rivals else "rules", hit.score, hit.recognizer)]


def _validated(text: str, model: Detection) -> bool:
    """Whether a model value of a rule type that no rule hit overlaps is one its type's
    recognizers accept where it stands (:func:`~piifactory.rules.recognizers.shapes`): the same
    pattern and validation, without the score threshold, the model's word standing in for the
    missing context word."""
    return (model.start, model.end) in shapes(text, model.type)


def to_prediction(text: str, merged: Sequence[Detection]) -> str:
    """The ``{"entities": [...]}`` answer string of merged entities (schema.target_text)."""
    return target_text([d.entity for d in merged], text)


def merge_answer(text: str, generation: str, policy: str) -> list[Detection]:
    """A raw model answer's schema entities (read by the scorer's parser) merged by the policy."""
    return merge(text, list(extract(generation, text).entities), policy)


def apply(text: str, generation: str, policy: str) -> str:
    """A raw model answer after the policy, as ``eval.predict --rules`` writes it: ``off`` leaves
    the answer untouched; otherwise the merged entities are written back as a target string."""
    if canonical_policy(policy) == "off":
        return generation
    return to_prediction(text, merge_answer(text, generation, policy))
