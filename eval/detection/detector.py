"""The detector object: built once from a recipe and options (or rules alone), it decodes prompts
with the pack's constraints, applies the operating point and the rules policy, and returns spans.

``eval.predict`` writes its :class:`Decision` records, ``eval.calibrate`` predicts through it, and
``scan`` / ``serve`` call :meth:`Detector.analyze`: one implementation of the decoding and the merge.
The model loads on first use, so building a detector (and a rerun with nothing left to do) is cheap.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from eval.decoding.dial import OperatingPoint, apply_point, scored_entities
from eval.detection.prompts import Prompt, Renderer, check_answer_comes_first, render_dataset, renderer
from eval.detection.spans import Span, spans_of
from piifactory.answer import extract
from piifactory.errors import UsageError
from piifactory.rules.hybrid import canonical_policy, merge, to_prediction
from piifactory.rules.recognizers import Detection
from piifactory.schema import Entity

if TYPE_CHECKING:
    from eval.decoding.generation import Answer
    from eval.detection.backends import Generate

BACKENDS = ("hf", "vllm", "llamacpp")
WINDOW_MARGIN = 8
"""Tokens kept free in a window's prompt: a text and its window boundary may tokenize differently."""


@dataclass(frozen=True)
class Options:
    """How the detector decodes and what it serves (``eval.predict``'s flags, one place)."""

    backend: str = "hf"
    gguf: Path | None = None
    values: str = "copy"  # copy: copy-constrained values; free: plain greedy decoding
    structure: bool = True
    point: OperatingPoint = OperatingPoint()
    rules: str = "off"
    second_look: bool = False
    batch_size: int = 8
    max_new_tokens: int = 512

    @property
    def structured(self) -> bool:
        return self.values == "copy" and self.structure

    def checked(self) -> Options:
        """These options with the rules policy's canonical name; a UsageError for what cannot go together."""
        if self.backend not in BACKENDS:
            raise UsageError(f"unknown backend {self.backend!r}; choose from {', '.join(BACKENDS)}")
        if self.backend == "vllm":
            from eval.decoding.vllm_backend import require_vllm

            if self.values == "copy":
                raise UsageError(
                    "copy-constrained values need --backend hf or llamacpp; with --backend vllm pass --values free"
                )
            require_vllm()
        if (self.backend == "llamacpp") != (self.gguf is not None):
            raise UsageError("--backend llamacpp needs --gguf MODEL.gguf (and --gguf needs --backend llamacpp)")
        if (self.point.recall_bias or self.point.filters or self.second_look) and not self.structured:
            raise UsageError(
                "--recall-bias, --min-score and --second-look need structure-safe decoding "
                "(--values copy without --no-structure)"
            )
        return replace(self, rules=canonical_policy(self.rules))


@dataclass(frozen=True)
class Decision:
    """One prompt's outcome: the model's own answer, the served answer string (after the operating
    point, and with rules the merged entities written back as an answer), each model entity's score, the served entities with offsets and sources,
    and how many entities a second look added."""

    prompt: Prompt
    answer: Answer
    served: str
    scores: list[dict] | None
    merged: list[Detection]
    second_look: int | None = None

    @property
    def spans(self) -> list[Span]:
        return spans_of(self.merged)


class Detector:
    """Finds PII in texts. ``Detector.from_recipe(recipe, options)`` decodes with the recipe's
    model; ``Detector.rules_only()`` needs no model (the recognizers alone, CPU)."""

    def __init__(
        self,
        options: Options = Options(),
        recipe: dict | None = None,
        render: Renderer | None = None,
        generate: Generate | None = None,
    ) -> None:
        """``generate``: a generator already loaded (one model shared by several detectors)."""
        self.options = options.checked()
        self.recipe, self.render = recipe, render
        self._reference: Prompt | None = None
        self._generate = generate
        if render is not None and self.options.structured:
            check_answer_comes_first(render.template, render.tokenizer)

    @classmethod
    def from_recipe(cls, recipe: dict, options: Options = Options()) -> Detector:
        options = options.checked()  # before the tokenizer loads: a bad combination fails at once
        return cls(options, recipe, renderer(recipe))

    @classmethod
    def build(cls, recipe: dict | None, options: Options = Options()) -> Detector:
        """From the recipe, or the rules alone when there is none (what a Ray actor rebuilds)."""
        return cls.from_recipe(recipe, options) if recipe is not None else cls.rules_only(options.rules)

    @classmethod
    def rules_only(cls, policy: str = "union") -> Detector:
        """The recognizers alone: every rule hit (``verify`` has no model value to check)."""
        if "union" not in canonical_policy(policy):
            raise UsageError("a rules-only detector needs a rules policy that adds rule hits (union or both)")
        return cls(Options(rules=policy))

    @property
    def uses_model(self) -> bool:
        return self.render is not None

    # -- the model path ------------------------------------------------------------------------

    @property
    def generate(self) -> Generate:
        """The backend's generator, loaded on first use."""
        if self._generate is None:
            from eval.detection.backends import load_generator

            o = self.options
            self._generate = load_generator(
                o.backend,
                self.render,  # type: ignore[arg-type]
                gguf=o.gguf,
                structure=o.structured,
                recall_bias=o.point.recall_bias,
                max_new_tokens=o.max_new_tokens,
            )
        return self._generate

    def dataset_prompts(self, dataset: str | None = None, limit: int | None = None) -> list[Prompt]:
        """The prompts of the recipe's eval dataset (or ``dataset``), as training rendered them."""
        prompts = render_dataset(self.recipe, self.render, dataset)  # type: ignore[arg-type]
        return prompts[:limit] if limit is not None else prompts

    def prompts(self, texts: Sequence[str]) -> list[Prompt]:
        """Prompts for any texts: a training row of the recipe's dataset with each text as its input,
        so instruction, system prompt and template are the ones the model was trained with."""
        if self._reference is None:
            first = render_dataset(self.recipe, self.render, None, limit=1)  # type: ignore[arg-type]
            if not first:
                raise UsageError("the recipe's dataset is empty: the detector renders texts like its first row")
            self._reference = first[0]
        return [self.render.like(self._reference, text, str(i)) for i, text in enumerate(texts)]  # type: ignore[union-attr]

    def decide(self, prompts: Sequence[Prompt], policy: str | None = None) -> list[Decision]:
        """Decode ``prompts`` (a second look when asked) and serve each answer (with the options'
        rules policy, or ``policy``)."""
        if not prompts:
            return []
        o = self.options
        sources = [p.text for p in prompts] if o.values == "copy" else None
        answers = self.generate([p.input_ids for p in prompts], o.max_new_tokens, o.batch_size, sources)
        added: list[int | None] = [None] * len(prompts)
        if o.second_look:
            answers, counts = self.second_look(prompts, answers)
            added = list(counts)
        return [self.serve(p, a, n, policy) for p, a, n in zip(prompts, answers, added)]

    def second_look(self, prompts: Sequence[Prompt], answers: list[Answer]) -> tuple[list[Answer], list[int]]:
        """Each answer plus what a second pass finds with the first pass's kept values masked
        (:mod:`eval.decoding.second_look`), and how many entities that added per prompt."""
        from eval.decoding.second_look import masked_text, union

        point, o = self.options.point, self.options
        masked = []
        for prompt, answer in zip(prompts, answers):
            kept = [
                e.value
                for e, score in scored_entities(answer.text, [s.to_dict() for s in answer.scores or ()])
                if point.keep(e.type, score)
            ]
            masked.append(masked_text(prompt.text, kept))
        ids = [self.render.like(p, text).input_ids for p, text in zip(prompts, masked)]  # type: ignore[union-attr]
        merged = [
            union(first, again)
            for first, again in zip(answers, self.generate(ids, o.max_new_tokens, o.batch_size, masked))
        ]
        return [answer for answer, _ in merged], [count for _, count in merged]

    def serve(self, prompt: Prompt, answer: Answer, added: int | None = None, policy: str | None = None) -> Decision:
        """The decision on one answer: the operating point, then the rules policy."""
        point, text = self.options.point, prompt.text
        policy = self.options.rules if policy is None else canonical_policy(policy)
        served, scores = answer.text, None
        if answer.scores is not None:
            items = json.loads(answer.text)["entities"]
            scores = [
                {"type": item["type"], "value": item["value"], **score.to_dict()}
                for item, score in zip(items, answer.scores, strict=True)
            ]
            served = apply_point(answer.text, scores, point, text)
        entities = list(extract(served, text).entities)
        merged = merge(text, entities, policy, scores=_scores_for(entities, scores))
        if policy != "off":
            served = to_prediction(text, merged)
        return Decision(prompt, answer, served, scores, merged, added)

    # -- any texts -----------------------------------------------------------------------------

    def analyze(self, texts: Sequence[str]) -> list[list[Span]]:
        """Per text, the spans found (offsets into that text), in order of position.

        A text longer than the model's prompt allows is decoded in windows of whole sentences (or
        lines); the model's values come back with offsets into the whole text, and the rules
        policy merges them with the rule hits of the whole text."""
        if not self.uses_model:
            return [spans_of(merge(text, [], self.options.rules)) for text in texts]
        windows = [(index, start, piece) for index, text in enumerate(texts) for start, piece in self.windows(text)]
        decisions = self.decide(self.prompts([piece for _, _, piece in windows]), policy="off")
        found: list[list[Detection]] = [[] for _ in texts]
        for (index, start, _), decision in zip(windows, decisions):
            found[index] += [
                Detection(Entity(d.type, d.value, d.start + start, d.end + start), d.source, d.score)  # type: ignore[operator]
                for d in decision.merged
                if d.entity.has_span
            ]
        return [
            spans_of(merge(text, [d.entity for d in model], self.options.rules, [d.score for d in model]))
            for text, model in zip(texts, found)
        ]

    def windows(self, text: str) -> list[tuple[int, str]]:
        """``text`` as (start, piece) windows whose prompts fit the recipe's ``cutoff_len``: whole
        sentences or lines packed together, a sentence too long on its own cut by characters."""
        tokenizer, budget = self.render.tokenizer, self._input_budget()  # type: ignore[union-attr]

        def size(piece: str) -> int:
            return len(tokenizer.encode(piece, add_special_tokens=False))

        if size(text) <= budget:
            return [(0, text)]
        sentences = [
            m.span() for m in re.finditer(r"[^。！？!?；;\n]*(?:[。！？!?；;\n]+|$)", text) if m.end() > m.start()
        ]
        pieces: list[tuple[int, int]] = []
        for start, end in sentences:
            if size(text[start:end]) > budget:  # a token spans at least one character (at most 4 bytes)
                step = max(1, budget // 4)
                pieces += [(i, min(i + step, end)) for i in range(start, end, step)]
            elif pieces and size(text[pieces[-1][0] : end]) <= budget:
                pieces[-1] = (pieces[-1][0], end)
            else:
                pieces.append((start, end))
        return [(start, text[start:end]) for start, end in pieces]

    def _input_budget(self) -> int:
        """Tokens the input text may take: the cutoff less the prompt around the input."""
        reference = self.prompts([""])[0]
        around = len(reference.input_ids)
        return max(16, int(self.render.args.data.cutoff_len) - around - WINDOW_MARGIN)  # type: ignore[union-attr]

    def report(self, say: Callable[[str], None] | None = None) -> None:
        """What the backend noticed while decoding (llama.cpp: prompts its GGUF tokenizer renders otherwise)."""
        check = getattr(self._generate, "check", None)
        if check is not None:
            (say or (lambda message: print(message, file=sys.stderr)))(check.message())


def _scores_for(entities: Sequence, scores: list[dict] | None) -> list[float] | None:
    """Each served entity's model score, matched by (type, value) in the order written."""
    if scores is None:
        return None
    pool: dict[tuple[str, str], list[float]] = defaultdict(list)
    for item in scores:
        pool[(item["type"], item["value"])].append(float(item["score"]))
    return [pool[(e.type, e.value)].pop(0) if pool[(e.type, e.value)] else 1.0 for e in entities]
