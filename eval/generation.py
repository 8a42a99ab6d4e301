"""Batched greedy decoding shared by `python -m eval.predict` and the training-time entity metric.

One implementation: left padding (so every row's last prompt token sits at the same position),
KV cache on, the template's stop tokens as EOS, prompts sorted by length so batches pad little.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import torch
from tqdm.auto import tqdm
from transformers import LogitsProcessorList

from eval.copy_constraint import CopyConstraint


def _batches(order: list[int], size: int) -> Iterator[list[int]]:
    for begin in range(0, len(order), size):
        yield order[begin : begin + size]


@torch.inference_mode()
def greedy_generate(
    model: torch.nn.Module,
    tokenizer,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    stop_token_ids: Sequence[int],
    batch_size: int = 8,
    sources: Sequence[str] | None = None,
    progress: bool = False,
) -> list[str]:
    """Greedy completions of already-tokenised prompts, decoded without special tokens.

    ``prompts`` are token ids exactly as the template rendered them; results come back in the
    order given. With ``sources`` (each prompt's input text), values are copy-constrained
    (:mod:`eval.copy_constraint`). The model's training/eval mode is restored afterwards.
    """
    if not prompts:
        return []
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop_token_ids[0]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]), reverse=True)
    outputs: list[str] = [""] * len(prompts)
    bar = tqdm(total=len(prompts), desc="generate", unit="sample", disable=not progress, leave=False)
    try:
        for batch in _batches(order, batch_size):
            width = max(len(prompts[i]) for i in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, index in enumerate(batch):
                prompt = prompts[index]
                ids[row, width - len(prompt) :] = torch.as_tensor(prompt, dtype=torch.long)
                mask[row, width - len(prompt) :] = 1
            constraint = [CopyConstraint(tokenizer, [sources[i] for i in batch])] if sources is not None else []
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
                logits_processor=LogitsProcessorList(constraint),
            )
            new_tokens = generated[:, width:].tolist()
            for row, index in enumerate(batch):
                outputs[index] = tokenizer.decode(_until_stop(new_tokens[row], stop_token_ids), skip_special_tokens=True)
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
