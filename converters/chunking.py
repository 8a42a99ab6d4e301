"""Split long texts into chunks of at most ``max_tokens`` tokens, overlapping by ``overlap``
tokens, never cutting an entity: a cut that would fall inside an entity moves to its start, and
an entity longer than the budget gets a chunk of its own that exceeds the budget."""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from converters.tokens import TokenSpans
from piifactory.schema import Entity, Sample


def chunk_sample(sample: Sample, max_tokens: int, overlap: int, spans: TokenSpans) -> list[Sample]:
    """The sample itself when it fits, else its chunks with entities re-based to each chunk."""
    text = sample.text
    bounds = sorted({start for start, _ in spans(text)} | {0, len(text)})
    if len(bounds) - 1 <= max_tokens:
        return [sample]
    ents = sorted(sample.entities, key=lambda e: e.start)
    starts = [e.start for e in ents]

    def covering(pos: int) -> Entity | None:
        idx = bisect_left(starts, pos) - 1
        return ents[idx] if idx >= 0 and ents[idx].end > pos else None

    def floor(pos: int) -> int:
        return bounds[bisect_right(bounds, pos) - 1]

    def ceil(pos: int) -> int:
        return bounds[bisect_left(bounds, pos)]

    chunks: list[Sample] = []
    begin = 0
    while True:
        first = bisect_left(bounds, begin)
        stop = bounds[min(first + max_tokens, len(bounds) - 1)]
        cut = stop
        while (ent := covering(cut)) is not None and cut > begin:
            cut = floor(ent.start)
        if cut <= begin:  # an entity longer than the budget: keep it whole
            cut = stop
            while (ent := covering(cut)) is not None:
                cut = ceil(ent.end)
        piece = text[begin:cut]
        if piece.strip():
            inside = [e for e in ents if begin <= e.start and e.end <= cut]
            chunks.append(Sample(piece, tuple(Entity(e.type, e.value, e.start - begin, e.end - begin) for e in inside)))
        if cut >= len(text):
            return chunks
        nxt = bounds[max(bisect_left(bounds, cut) - overlap, 0)]
        while (ent := covering(nxt)) is not None:
            nxt = floor(ent.start)
        begin = nxt if nxt > begin else cut
