"""``eval.predict --backend vllm``: vLLM's engine on the prompts LLaMA-Factory's template rendered.

vLLM lives in its own environment (``make vllm-env`` builds ``.venv-vllm`` from
``requirements-vllm.txt``): LLaMA-Factory 0.9.5 accepts vllm up to 0.11.0, which pins torch 2.8
and transformers < 5, while the training venv has torch 2.11 and transformers 5.6. The prompts are
token ids, so the rendering is LLaMA-Factory's in both environments.

Copy-constrained values and structure-safe decoding stay with the HF backend. vLLM 0.11's V1 engine
dropped per-request logits processors (``SamplingParams.logits_processors``); what replaces them
is a batch-level ``vllm.v1.sample.logits_processor.LogitsProcessor`` registered per engine, fed each
request's settings through ``SamplingParams.extra_args`` and told of rows added, removed and moved
in its persistent batch. The pack's constraints (:mod:`eval.decoding.copy_constraint`, :mod:`eval.decoding.structure`)
keep per-row decoding state over a fixed HF batch; moving them means keying that state by request
and following vLLM's row moves, in a process that must load the tokenizer itself. That port is
possible but cannot be tested without vLLM, which installs only with CUDA (none here), so it is
not offered: ``--backend vllm`` takes ``--values free``.
"""

from __future__ import annotations

from typing import Callable

from eval.decoding.generation import Answer
from piifactory.errors import UsageError

# LLaMA-Factory 0.9.5's bounds (llamafactory/hparams/parser.py: check_version("vllm>=0.4.3,<=0.11.0"))
VLLM_MIN, VLLM_MAX = "0.4.3", "0.11.0"
ENV_HINT = "build the serving environment with `make vllm-env` and run `.venv-vllm/bin/python -m eval.predict ...`"


class VllmEnvironmentError(UsageError):
    """vLLM is missing here, or installed at a version or beside a transformers it cannot use."""


def require_vllm() -> str:
    """The installed vLLM's version, or a message saying which environment to use instead."""
    from packaging.version import Version

    try:
        import vllm
    except ImportError:
        raise VllmEnvironmentError(
            f"--backend vllm needs vLLM, which is not installed in this environment: {ENV_HINT}"
        ) from None
    version = str(getattr(vllm, "__version__", "0"))
    if not Version(VLLM_MIN) <= Version(version.split("+")[0]) <= Version(VLLM_MAX):
        raise VllmEnvironmentError(
            f"vLLM {version} is installed; LLaMA-Factory 0.9.5 accepts {VLLM_MIN} to {VLLM_MAX}: {ENV_HINT}"
        )
    import transformers

    if Version(transformers.__version__).major >= 5:
        raise VllmEnvironmentError(
            f"vLLM {version} beside transformers {transformers.__version__}: vLLM <= "
            f"{VLLM_MAX} needs transformers 4.x: {ENV_HINT}"
        )
    return version


def vllm_generator(
    args, tokenizer, template
) -> Callable[[list[list[int]], int, int, "list[str] | None"], list[Answer]]:
    """Greedy completions of token-id prompts; the recipe's adapter as a LoRA request; the
    template's stop tokens end each answer, as with the HF backend."""
    from vllm import LLM, SamplingParams
    from vllm.lora.request import LoRARequest

    adapters = args.model.adapter_name_or_path or []
    llm = LLM(
        model=args.model.model_name_or_path, enable_lora=bool(adapters), max_model_len=args.data.cutoff_len + 1024
    )
    lora = LoRARequest("adapter", 1, adapters[0]) if adapters else None
    stops = template.get_stop_token_ids(tokenizer)

    def generate(ids: list[list[int]], max_new_tokens: int, batch_size: int, sources: list[str] | None) -> list[Answer]:
        if sources is not None:
            raise UsageError("copy-constrained values need --backend hf")
        params = SamplingParams(
            temperature=0.0, max_tokens=max_new_tokens, stop_token_ids=stops, skip_special_tokens=True
        )
        results = llm.generate([{"prompt_token_ids": p} for p in ids], params, lora_request=lora, use_tqdm=False)
        return [Answer(r.outputs[0].text) for r in results]

    return generate
