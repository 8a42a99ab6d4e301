"""Batched greedy decoding shared by `python -m eval.predict` and the training-time entity metric.

One implementation: left padding (so every row's last prompt token sits at the same position),
KV cache on, the template's stop tokens as EOS, prompts sorted by length so batches pad little.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from tqdm.auto import tqdm
from transformers import LogitsProcessor, LogitsProcessorList

from eval.decoding.copy_constraint import CopyConstraint
from eval.decoding.structure import EntityScore, StructureConstraint
from piifactory.iterate import batched


@dataclass(frozen=True, slots=True)
class Answer:
    """One completion; with structure-safe decoding, the model's score of each entity it wrote
    (in the order written, so the i-th score belongs to the answer's i-th entity)."""

    text: str
    scores: tuple[EntityScore, ...] | None = None


@torch.inference_mode()
def generate_answers(
    model: torch.nn.Module,
    tokenizer,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    stop_token_ids: Sequence[int],
    batch_size: int = 8,
    sources: Sequence[str] | None = None,
    structure: bool = True,
    recall_bias: float = 0.0,
    synced_gpus: bool = False,
    progress: bool = False,
) -> list[Answer]:
    """Greedy completions of already-tokenised prompts, decoded without special tokens.

    ``prompts`` are token ids exactly as the template rendered them; results come back in the
    order given. With ``sources`` (each prompt's input text), values are copy-constrained
    (:mod:`eval.decoding.copy_constraint`) and, with ``structure``, the whole answer is held to the answer
    format and every entity gets the model's score; ``recall_bias`` then makes the model write
    more entities (:mod:`eval.decoding.structure`). The model's training/eval mode is restored afterwards.
    ``synced_gpus``: the parameters are sharded across ranks (DeepSpeed ZeRO-3, FSDP), so every
    forward is a collective; each rank keeps stepping until all have finished, and every rank must
    call this with the same number of prompts (the same number of batches).
    """
    if recall_bias and (sources is None or not structure):
        raise ValueError("a recall bias needs structure-safe decoding (copy-constrained values with structure on)")
    if not prompts:
        return []
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop_token_ids[0]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]), reverse=True)
    outputs: list[Answer] = [Answer("")] * len(prompts)
    bar = tqdm(total=len(prompts), desc="generate", unit="sample", disable=not progress, leave=False)
    try:
        for batch in batched(order, batch_size):
            width = max(len(prompts[i]) for i in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, index in enumerate(batch):
                prompt = prompts[index]
                ids[row, width - len(prompt) :] = torch.as_tensor(prompt, dtype=torch.long)
                mask[row, width - len(prompt) :] = 1
            constraint: LogitsProcessor | None = None
            if sources is not None and structure:
                constraint = StructureConstraint(
                    tokenizer,
                    [sources[i] for i in batch],
                    stop_token_ids=stop_token_ids,
                    max_new_tokens=max_new_tokens,
                    recall_bias=recall_bias,
                )
            elif sources is not None:
                constraint = CopyConstraint(tokenizer, [sources[i] for i in batch])
            generated = model.generate(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
                use_cache=True,
                eos_token_id=list(stop_token_ids),
                pad_token_id=pad_id,
                temperature=None,
                top_p=None,
                top_k=None,
                logits_processor=LogitsProcessorList([constraint] if constraint is not None else []),
                synced_gpus=synced_gpus,
            )
            new_tokens = generated[:, width:].tolist()
            for row, index in enumerate(batch):
                text = tokenizer.decode(_until_stop(new_tokens[row], stop_token_ids), skip_special_tokens=True)
                scores = tuple(constraint.entity_scores(row)) if isinstance(constraint, StructureConstraint) else None
                outputs[index] = Answer(text, scores)
            bar.update(len(batch))
    finally:
        bar.close()
        model.train(was_training)
    return outputs


def _until_stop(tokens: list[int], stop_token_ids: Sequence[int]) -> list[int]:
    """Tokens before the first stop token (rows that stopped early are padded after it)."""
    stops = set(stop_token_ids)
    for position, token in enumerate(tokens):
        if token in stops:
            return tokens[:position]
    return tokens
