"""``eval.predict --backend llamacpp --gguf MODEL.gguf``: the exported GGUF answers the training prompts.

llama.cpp (the bindings built by :mod:`piifactory.models.llamacpp`, CPU) decodes greedily from the prompt
token ids the training template rendered, so the answers and their score measure the conversion
and quantisation, nothing else. Before decoding, every prompt is also rendered to text and
tokenized by the GGUF's own tokenizer (what ollama does with the Modelfile's TEMPLATE): prompts
whose ids differ from the training ids are counted and reported. Copy-constrained values and
structure-safe decoding go in through llama.cpp's logits-processor hook: the HF backend's own
processors (:class:`eval.decoding.copy_constraint.CopyConstraint`, :class:`eval.decoding.structure.StructureConstraint`)
on a batch of one, so both backends constrain with one implementation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from eval.decoding.copy_constraint import CopyConstraint
from eval.decoding.generation import Answer
from eval.decoding.structure import StructureConstraint


@dataclass
class TokenizerCheck:
    """Prompts whose text the GGUF tokenizes to other ids than training did."""

    checked: int = 0
    differing: list[int] = field(default_factory=list)  # positions among the prompts checked

    def message(self) -> str:
        if not self.differing:
            return f"GGUF tokenizer: all {self.checked} prompts tokenize to the training ids"
        return (
            f"GGUF tokenizer: {len(self.differing)} of {self.checked} prompts tokenize to other ids than "
            "training (the converter's pre-tokenizer differs from the training tokenizer): llama.cpp was "
            "fed the training ids here, ollama would feed those prompts differently"
        )


def load(gguf: Path, n_ctx: int):
    """A ``llama_cpp.Llama`` on as many threads as torch uses (``OMP_NUM_THREADS`` or the cores), quiet.

    Not always every core: llama.cpp's threads meet at a barrier on every layer, so on a shared
    machine one descheduled thread stalls the rest. With two training processes on the 2-core
    machine, 2 threads decoded the tiny model 4-10x slower than 1 (a whole --verify took 402 s for
    f16 where q4_k_m took 1 s); and HF and llama.cpp are compared on equal threads."""
    from piifactory.models.llamacpp import bindings

    if not Path(gguf).is_file():
        raise FileNotFoundError(f"{gguf}: no such GGUF file")
    llama_cpp = bindings()
    return llama_cpp.Llama(
        model_path=str(gguf),
        n_ctx=n_ctx,
        n_batch=min(n_ctx, 512),
        n_threads=torch.get_num_threads(),
        seed=0,
        verbose=False,
    )


def gguf_token_ids(llm, tokenizer, ids: Sequence[int]) -> list[int]:
    """The GGUF tokenizer's ids for the text of ``ids`` (special tokens parsed, no BOS added)."""
    text = tokenizer.decode(list(ids), skip_special_tokens=False)
    return llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)


class _NumpyProcessor:
    """A transformers logits processor over a batch of one, called the way llama.cpp calls one
    (all token ids so far, the next token's logits, as numpy arrays)."""

    def __init__(self, constraint) -> None:
        self.constraint = constraint

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        ids = torch.from_numpy(np.asarray(input_ids, dtype=np.int64)[None, :])
        logits = torch.from_numpy(np.array(scores, dtype=np.float32)[None, :])
        return self.constraint(ids, logits)[0].numpy()


def greedy(llm, prompt: Sequence[int], max_new_tokens: int, stops: set[int], processor=None) -> list[int]:
    """Greedy continuation of ``prompt`` until a stop token (not included) or ``max_new_tokens``."""
    from llama_cpp import LogitsProcessorList

    out: list[int] = []
    processors = LogitsProcessorList([processor]) if processor is not None else None
    for token in llm.generate(list(prompt), temp=0.0, repeat_penalty=1.0, logits_processor=processors):
        if token in stops:
            break
        out.append(token)
        if len(out) >= max_new_tokens:
            break
    return out


class LlamaCppGenerate:
    """eval.predict's ``Generate`` for a GGUF file; ``check`` accumulates the tokenizer comparison."""

    def __init__(
        self, gguf: Path, tokenizer, template, n_ctx: int, *, structure: bool = False, recall_bias: float = 0.0
    ) -> None:
        self.llm = load(gguf, n_ctx)
        self.tokenizer = tokenizer
        self.stop_ids = template.get_stop_token_ids(tokenizer)
        self.stops = set(self.stop_ids) | {self.llm.token_eos()}
        self.structure, self.recall_bias = structure, recall_bias
        self.check = TokenizerCheck()

    def _constraint(self, source: str | None, max_new_tokens: int):
        """The same processor the HF backend would use for this prompt (eval.decoding.generation)."""
        if source is None:
            return None
        if self.structure:
            return StructureConstraint(
                self.tokenizer,
                [source],
                stop_token_ids=self.stop_ids,
                max_new_tokens=max_new_tokens,
                recall_bias=self.recall_bias,
            )
        return CopyConstraint(self.tokenizer, [source])

    def __call__(
        self, ids: list[list[int]], max_new_tokens: int, batch_size: int, sources: list[str] | None
    ) -> list[Answer]:
        answers = []
        for index, prompt in enumerate(ids):
            if gguf_token_ids(self.llm, self.tokenizer, prompt) != list(prompt):
                self.check.differing.append(self.check.checked)
            self.check.checked += 1
            constraint = self._constraint(sources[index] if sources is not None else None, max_new_tokens)
            processor = _NumpyProcessor(constraint) if constraint is not None else None
            tokens = greedy(self.llm, prompt, max_new_tokens, self.stops, processor)
            scores = tuple(constraint.entity_scores(0)) if isinstance(constraint, StructureConstraint) else None
            answers.append(Answer(self.tokenizer.decode(tokens, skip_special_tokens=True), scores))
        return answers
