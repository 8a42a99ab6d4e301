"""Build a tiny, randomly initialised Qwen3 causal LM with a locally trained tokenizer, or with
Qwen's real vocabulary.

``python -m piifactory.models.tiny_model --out .cache/tiny-qwen3``
``python -m piifactory.models.tiny_model --qwen-vocab qwen3 --out .cache/tiny-qwen3-vocab``

No hub: the byte-level BPE tokenizer is trained on the pack's own synthetic text and carries
Qwen's special tokens, so LLaMA-Factory's ``qwen3`` / ``qwen3_nothink`` templates work unchanged.
Digits and CJK characters are split one per token (Qwen splits digits the same way), which makes
copying a value from the input a per-token copy the tiny model can learn in minutes.

With ``--qwen-vocab`` the same tiny layers get Qwen's tokenizer (``piifactory.models.qwen_tokenizer``) and
its 151,936 embedding rows: it learns nothing useful, but everything whose cost or shape grows
with the vocabulary (logits, the loss, the copy constraint's index, token counts) runs at the
users' size on a CPU.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from piifactory.answer import target_text
from piifactory.command_line import command_parser
from piifactory.errors import PiiFactoryError
from piifactory.io import atomic_folder
from piifactory.schema import DEFAULT_INSTRUCTION
from piifactory.synth import generate

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
THINK_TOKENS = ("<think>", "</think>")

# Qwen2's pre-tokenizer pattern with one change: a letter run does not take the punctuation
# before it, so `hchang@x.org` is the same tokens after `"value": "` as in the input text (Qwen
# would make `"h` one token there, and the tiny model would have to learn two spellings to copy).
_QWEN_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


@dataclass(frozen=True)
class TinyConfig:
    """Model size: the defaults give about 0.8M parameters with a ~2-3k vocabulary. Two layers are
    enough for the copy circuit (an induction head) and twice as fast per step as four. Heads are
    64 wide, wider than hidden_size / heads: Qwen3 normalises queries and keys, which caps an
    attention logit near sqrt(head_dim), and copying a digit string needs sharp attention to one
    position. At 32 the copy circuit formed late and at a different step on every run (validation
    loss 0.4-1.2 at step 800 over four runs); at 64 it formed by step 800 (loss 0.11), for ~25%
    more time per step."""

    hidden_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: int = 64
    intermediate_size: int = 384
    vocab_size: int = 3000
    max_position_embeddings: int = 2048
    seed: int = 0


# Faker zh_CN providers whose word lists the synthetic generator draws values from.
_FAKER_PROVIDERS = ("person", "address", "company", "automotive")


def faker_inventory() -> Iterable[str]:
    """Every word list of the zh_CN providers the generator uses, one line each.

    A character the tokenizer never saw becomes two or three byte tokens, which the tiny model
    copies far worse than one token (a rare surname like 谌 came out as a likelier one); the
    samples alone miss many of Faker's ~400 surnames, so the lists go in whole.
    """
    from faker import Faker

    for provider in Faker("zh_CN").get_providers():
        module = type(provider).__module__
        if "zh_CN" not in module or module.split(".")[-2] not in _FAKER_PROVIDERS:
            continue
        for name in sorted(dir(type(provider))):
            words = getattr(type(provider), name)
            if name.startswith("_") or not isinstance(words, (tuple, list, dict)):
                continue
            items = [str(item) for item in words]
            if any("\u4e00" <= char <= "\u9fff" for item in items for char in item):
                yield " ".join(items)


def corpus(n_samples: int = 3000, seed: int = 12345) -> Iterable[str]:
    """Text the tokenizer learns from: synthetic inputs, their targets, the prompt, templates,
    and the generator's word lists."""
    yield DEFAULT_INSTRUCTION
    yield "system\nuser\nassistant\n<think>\n\n</think>\n\n You are a helpful assistant."
    yield from faker_inventory()
    for sample in generate(n_samples, seed):
        yield sample.text
        yield target_text(sample.entities, sample.text)


def train_tokenizer(texts: Iterable[str], vocab_size: int):
    """A byte-level BPE with Han characters and digits isolated before merging."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r"\p{Han}"), behavior="isolated"),
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.Split(Regex(_QWEN_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
        clean_up_tokenization_spaces=False,
        model_max_length=2048,
    )
    fast.add_tokens(list(THINK_TOKENS))  # added, not special: Qwen3 keeps them in decoded text
    return fast


def build(
    out_dir: str | Path,
    config: TinyConfig = TinyConfig(),
    qwen_vocab: str | None = None,
    cache_dir: str | Path = ".cache",
) -> Path:
    """Write tokenizer, config and random weights to ``out_dir`` (atomically, as a folder).

    ``qwen_vocab`` ("qwen3" or "qwen2.5") takes Qwen's real tokenizer (built under ``cache_dir``)
    and the real models' embedding rows instead of training a small vocabulary."""
    import torch
    from transformers import AutoTokenizer, GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    out = Path(out_dir)
    if qwen_vocab is None:
        tokenizer = train_tokenizer(corpus(), config.vocab_size)
        rows = len(tokenizer)
    else:
        from piifactory.models.qwen_tokenizer import MODEL_VOCAB_SIZE
        from piifactory.models.qwen_tokenizer import build as build_tokenizer

        tokenizer = AutoTokenizer.from_pretrained(build_tokenizer(qwen_vocab, cache_dir))
        rows = MODEL_VOCAB_SIZE
    torch.manual_seed(config.seed)
    model_config = Qwen3Config(
        vocab_size=rows,
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        num_key_value_heads=config.num_key_value_heads,
        head_dim=config.head_dim,
        max_position_embeddings=config.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
        torch_dtype="float32",
    )
    model = Qwen3ForCausalLM(model_config)
    model.generation_config = GenerationConfig(
        eos_token_id=[model_config.eos_token_id, tokenizer.convert_tokens_to_ids("<|endoftext|>")],
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
    )
    with atomic_folder(out) as staging:
        tokenizer.save_pretrained(staging)
        model.save_pretrained(staging)
        facts = {**config.__dict__, "embedding_rows": rows, "tokenizer": qwen_vocab or "trained"}
        (staging / "pii_factory_tiny.json").write_text(json.dumps(facts, indent=2), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = command_parser(__name__, __doc__, "--out .cache/tiny-qwen3")
    parser.add_argument("--out", type=Path, default=Path(".cache/tiny-qwen3"), help="model folder to write")
    parser.add_argument("--hidden-size", type=int, default=TinyConfig.hidden_size, help="hidden size of each layer")
    parser.add_argument("--layers", type=int, default=TinyConfig.num_hidden_layers, help="decoder layers")
    parser.add_argument(
        "--vocab-size", type=int, default=TinyConfig.vocab_size, help="size of the trained tokenizer's vocabulary"
    )
    parser.add_argument(
        "--seed", type=int, default=TinyConfig.seed, help="seed of the weights and the tokenizer's text"
    )
    parser.add_argument(
        "--qwen-vocab",
        choices=("qwen3", "qwen2.5"),
        help="Qwen's real tokenizer and vocabulary instead of a trained one",
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(".cache"), help="where --qwen-vocab's tokenizer is built"
    )
    args = parser.parse_args(argv)
    config = TinyConfig(
        hidden_size=args.hidden_size, num_hidden_layers=args.layers, vocab_size=args.vocab_size, seed=args.seed
    )
    try:
        path = build(args.out, config, args.qwen_vocab, args.cache_dir)
    except (PiiFactoryError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"tiny Qwen3 written to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
