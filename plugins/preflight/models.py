"""Model shapes and chat-template families, without loading a model.

A small built-in table covers the Qwen models the pack targets (hub names cannot be read offline);
a local model folder is read from its ``config.json``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelSpec:
    """The shape numbers the memory estimate needs (all from a Hugging Face ``config.json``)."""

    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    vocab: int
    head_dim: int = 128
    tied_embeddings: bool = True
    model_type: str = "qwen3"

    @property
    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each linear layer of one decoder block: the LoRA targets of ``all``."""
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        h, i = self.hidden, self.intermediate
        return {
            "q_proj": (h, q),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (q, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    @property
    def linear_params(self) -> int:
        """Parameters in the decoder blocks' linear layers (what bitsandbytes quantises)."""
        return self.layers * sum(a * b for a, b in self.linear_shapes.values())

    @property
    def embedding_params(self) -> int:
        """Embedding plus LM head (one matrix when tied); kept in 16-bit under quantisation."""
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)

    @property
    def total_params(self) -> int:
        return self.linear_params + self.embedding_params

    def lora_params(self, rank: int, targets: list[str]) -> int:
        """LoRA A and B matrices: rank x (in + out) per targeted linear layer."""
        names = self.linear_shapes if "all" in targets else [t for t in targets if t in self.linear_shapes]
        return self.layers * sum(rank * sum(self.linear_shapes[n]) for n in names)


# Numbers from each model's config.json on the hub.
QWEN_SPECS: dict[str, ModelSpec] = {
    "qwen3-0.6b": ModelSpec(layers=28, hidden=1024, intermediate=3072, heads=16, kv_heads=8, vocab=151936),
    "qwen3-1.7b": ModelSpec(layers=28, hidden=2048, intermediate=6144, heads=16, kv_heads=8, vocab=151936),
    "qwen3-4b": ModelSpec(layers=36, hidden=2560, intermediate=9728, heads=32, kv_heads=8, vocab=151936),
    "qwen3-8b": ModelSpec(
        layers=36, hidden=4096, intermediate=12288, heads=32, kv_heads=8, vocab=151936, tied_embeddings=False
    ),
    "qwen2.5-0.5b": ModelSpec(
        layers=24, hidden=896, intermediate=4864, heads=14, kv_heads=2, vocab=151936, head_dim=64, model_type="qwen2"
    ),
    "qwen2.5-1.5b": ModelSpec(
        layers=28, hidden=1536, intermediate=8960, heads=12, kv_heads=2, vocab=151936, model_type="qwen2"
    ),
    "qwen2.5-3b": ModelSpec(
        layers=36, hidden=2048, intermediate=11008, heads=16, kv_heads=2, vocab=151936, model_type="qwen2"
    ),
    "qwen2.5-7b": ModelSpec(
        layers=28,
        hidden=3584,
        intermediate=18944,
        heads=28,
        kv_heads=4,
        vocab=152064,
        tied_embeddings=False,
        model_type="qwen2",
    ),
}

# What config.json holds beyond the shape, per family (Qwen/Qwen3-*-Base, Qwen/Qwen2.5-*-Instruct on
# the hub): enough for transformers to build the architecture with random weights.
_FAMILY_CONFIG: dict[str, dict] = {
    "qwen3": {
        "architectures": ["Qwen3ForCausalLM"],
        "max_position_embeddings": 40960,
        "rope_theta": 1_000_000.0,
        "rms_norm_eps": 1e-6,
        "attention_bias": False,
        "hidden_act": "silu",
        "bos_token_id": 151643,
        "eos_token_id": 151645,
    },
    "qwen2": {
        "architectures": ["Qwen2ForCausalLM"],
        "max_position_embeddings": 32768,
        "rope_theta": 1_000_000.0,
        "rms_norm_eps": 1e-6,
        "hidden_act": "silu",
        "use_sliding_window": False,
        "sliding_window": 32768,
        "bos_token_id": 151643,
        "eos_token_id": 151645,
    },
}


def config_json(spec: ModelSpec) -> dict:
    """A ``config.json`` mapping with the model's real shape, for building it with random weights
    where no hub is reachable (``bench.gpu`` measures memory and speed, which weights do not change)."""
    return {
        **_FAMILY_CONFIG[spec.model_type],
        "model_type": spec.model_type,
        "hidden_size": spec.hidden,
        "intermediate_size": spec.intermediate,
        "num_hidden_layers": spec.layers,
        "num_attention_heads": spec.heads,
        "num_key_value_heads": spec.kv_heads,
        "head_dim": spec.head_dim,
        "vocab_size": spec.vocab,
        "tie_word_embeddings": spec.tied_embeddings,
        "torch_dtype": "bfloat16",
    }


_VARIANT = re.compile(r"-(instruct-2507|thinking-2507|instruct|base|chat)$")


def model_key(name_or_path: str) -> str:
    """``Qwen/Qwen3-4B-Instruct-2507`` -> ``qwen3-4b-instruct-2507`` (the last path part, lower case)."""
    return name_or_path.rstrip("/").split("/")[-1].lower()


def spec_from_config(config: dict) -> ModelSpec:
    """A spec from a ``config.json`` mapping (any decoder with the usual Hugging Face key names)."""
    heads = config["num_attention_heads"]
    return ModelSpec(
        layers=config["num_hidden_layers"],
        hidden=config["hidden_size"],
        intermediate=config["intermediate_size"],
        heads=heads,
        kv_heads=config.get("num_key_value_heads") or heads,
        vocab=config["vocab_size"],
        head_dim=config.get("head_dim") or config["hidden_size"] // heads,
        tied_embeddings=bool(config.get("tie_word_embeddings", False)),
        model_type=config.get("model_type", "unknown"),
    )


def resolve_spec(name_or_path: str) -> tuple[ModelSpec | None, str]:
    """``(spec, source)``: a local folder's config.json first, then the built-in Qwen table."""
    config_file = Path(name_or_path) / "config.json"
    if config_file.is_file():
        return spec_from_config(json.loads(config_file.read_text(encoding="utf-8"))), str(config_file)
    key = _VARIANT.sub("", model_key(name_or_path))
    if key in QWEN_SPECS:
        return QWEN_SPECS[key], "built-in table"
    return None, "unknown"


@dataclass(frozen=True)
class TemplateRule:
    """What LLaMA-Factory expects for a model family (extras/constants.py), and why."""

    family: str
    templates: tuple[str, ...]
    thinking: bool | None  # required enable_thinking; None: the template ignores it


def template_rule(name_or_path: str) -> TemplateRule | None:
    """The template rule for a Qwen model name; None for names the pack does not know."""
    key = model_key(name_or_path)
    if key.startswith("qwen3-") and key.endswith("-instruct-2507"):
        return TemplateRule("Qwen3 Instruct-2507 (non-thinking only)", ("qwen3_nothink",), None)
    if key.startswith("qwen3-") and key.endswith("-thinking-2507"):
        return TemplateRule("Qwen3 Thinking-2507 (thinking only)", ("qwen3",), True)
    if key.startswith("qwen3-") and key.endswith("-base"):
        return TemplateRule("Qwen3 base", ("qwen3", "qwen3_nothink", "qwen"), None)
    if re.fullmatch(r"qwen3-\d+(\.\d+)?b", key):
        return TemplateRule("Qwen3 hybrid (thinking switch)", ("qwen3",), False)
    if key.startswith("qwen2.5-"):
        return TemplateRule("Qwen2.5", ("qwen",), None)
    return None
