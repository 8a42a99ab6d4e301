"""The seeded sample generator: picks a genre, a template, fills its slots with exact offsets.

Weights steer it at what a model misses: ``genres={"ocr": 2, "cs_chat": 1}`` draws OCR text
twice as often as chats, ``types={"PERSON": 3}`` draws positive templates holding a name three
times as often as the others. With the defaults (the ``templates`` genre, no type weights) the
draws are the original generator's, so a seed gives the same samples as before genres existed.
"""

from __future__ import annotations

import re
from typing import Iterator, Mapping

from piifactory.errors import UsageError
from piifactory.schema import PII_TYPES, Entity, Sample
from piifactory.synth.genres import DEFAULT_GENRES, GENRES, Genre
from piifactory.synth.values import Values

_SLOT = re.compile(r"\{([A-Z_]+)(?::(\d))?\}")


def slot_type(slot: str) -> str | None:
    """The PII type a slot fills, or None for hard-negative filler."""
    entity_type = "PHONE" if slot == "LANDLINE" else slot
    return entity_type if entity_type in PII_TYPES else None


def template_types(template: str) -> set[str]:
    """The PII types a template's slots produce."""
    return {t for t in (slot_type(m.group(1)) for m in _SLOT.finditer(template)) if t}


class SyntheticPII(Values):
    """Seeded generator: the same seed and weights give the same samples, byte for byte."""

    def __init__(
        self,
        seed: int = 0,
        negative_ratio: float = 1 / 3,
        genres: Mapping[str, float] | None = None,
        types: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(seed)
        self.negative_ratio = negative_ratio
        genres = dict(genres) if genres else dict.fromkeys(DEFAULT_GENRES, 1.0)
        unknown = sorted(set(genres) - set(GENRES))
        if unknown:
            raise UsageError(f"unknown genre {', '.join(unknown)}; choose from {', '.join(GENRES)}")
        unknown = sorted(set(types or ()) - set(PII_TYPES))
        if unknown:
            raise UsageError(f"unknown type {', '.join(unknown)}; choose from {', '.join(PII_TYPES)}")
        if any(w < 0 for w in (*genres.values(), *(types or {}).values())) or not any(genres.values()):
            raise UsageError("weights must be >= 0, and some genre must weigh more than 0")
        self.genres = [GENRES[name] for name in genres]
        self.genre_weights = list(genres.values())
        self.type_weights = dict(types or {})
        self._fillers = {varied: self.fillers(varied) for varied in (False, True)}

    def _genre(self) -> Genre:
        if len(self.genres) == 1:
            return self.genres[0]  # no draw: the single-genre stream is the original one
        return self.rng.choices(self.genres, self.genre_weights)[0]

    def _template(self, pool: tuple[str, ...], positive: bool) -> str:
        if not (positive and self.type_weights):
            return self.rng.choice(pool)
        weights = [max((self.type_weights.get(t, 1.0) for t in template_types(tpl)), default=1.0) for tpl in pool]
        return self.rng.choices(pool, weights)[0]

    def render(self, template: str, genre: Genre = GENRES[DEFAULT_GENRES[0]]) -> Sample:
        """Fill a template; every PII slot becomes an entity with exact offsets."""
        self.odd = genre.odd
        fillers = self._fillers[genre.varied]
        parts: list[str] = []
        entities: list[Entity] = []
        pinned: dict[tuple[str, str], str] = {}
        cursor = length = 0
        for match in _SLOT.finditer(template):
            literal = template[cursor : match.start()]
            parts.append(literal)
            length += len(literal)
            slot, pin = match.group(1), match.group(2)
            if pin is not None and (slot, pin) in pinned:
                value = pinned[(slot, pin)]
            else:
                value = fillers[slot]()
                if pin is not None:
                    pinned[(slot, pin)] = value
            entity_type = slot_type(slot)
            if entity_type:
                entities.append(Entity(entity_type, value, length, length + len(value)))
            parts.append(value)
            length += len(value)
            cursor = match.end()
        parts.append(template[cursor:])
        return Sample("".join(parts), tuple(entities))

    def labelled_sample(self) -> tuple[str, Sample]:
        """A sample and the name of its genre."""
        genre = self._genre()
        negative = self.rng.random() < self.negative_ratio
        template = self._template(genre.negatives if negative else genre.positives, not negative)
        return genre.name, self.render(template, genre)

    def sample(self) -> Sample:
        return self.labelled_sample()[1]

    def samples(self, n: int) -> Iterator[Sample]:
        for _ in range(n):
            yield self.sample()


def generate(
    n: int, seed: int = 0, genres: Mapping[str, float] | None = None, types: Mapping[str, float] | None = None
) -> list[Sample]:
    """``n`` samples from a fresh generator seeded with ``seed`` (default: the ``templates`` genre)."""
    return list(SyntheticPII(seed, genres=genres, types=types).samples(n))
