"""The detector's generators: one ``Generate`` per backend (HF with the copy and structure
constraints, llama.cpp with the same processors, vLLM without them), loaded when first needed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from eval.decoding.generation import Answer
    from eval.detection.prompts import Renderer

Generate = Callable[[list[list[int]], int, int, "list[str] | None"], "list[Answer]"]
"""(prompt ids, max new tokens, batch size, input texts for copy-constrained values or None) -> answers."""


def hf_generator(args, tokenizer, template, *, structure: bool = False, recall_bias: float = 0.0) -> Generate:
    """The recipe's model (and adapter) through LLaMA-Factory's loader, decoding with
    :func:`eval.decoding.generation.generate_answers`."""
    from llamafactory.model import load_model

    from eval.decoding.generation import generate_answers

    model = load_model(tokenizer, args.model, args.finetuning, is_trainable=False)
    stops = template.get_stop_token_ids(tokenizer)

    def generate(ids: list[list[int]], max_new_tokens: int, batch_size: int, sources: list[str] | None) -> list[Answer]:
        return generate_answers(
            model,
            tokenizer,
            ids,
            max_new_tokens=max_new_tokens,
            stop_token_ids=stops,
            batch_size=batch_size,
            sources=sources,
            structure=structure,
            recall_bias=recall_bias,
        )

    return generate


def load_generator(
    backend: str,
    render: Renderer,
    *,
    gguf: Path | None,
    structure: bool,
    recall_bias: float,
    max_new_tokens: int,
) -> Generate:
    """The generator of ``backend`` (``hf``, ``llamacpp`` with ``gguf``, ``vllm``)."""
    if backend == "llamacpp":
        from eval.decoding.llamacpp_backend import LlamaCppGenerate

        return LlamaCppGenerate(
            gguf,  # type: ignore[arg-type]
            render.tokenizer,
            render.template,
            n_ctx=render.args.data.cutoff_len + max_new_tokens,
            structure=structure,
            recall_bias=recall_bias,
        )
    if backend == "vllm":
        from eval.decoding.vllm_backend import vllm_generator

        return vllm_generator(render.args, render.tokenizer, render.template)
    return hf_generator(render.args, render.tokenizer, render.template, structure=structure, recall_bias=recall_bias)
