"""Qwen's real tokenizer, built offline from the BPE ranks the ``dashscope`` package ships.

``python -m piifactory.models.qwen_tokenizer --flavor qwen3`` writes ``tokenizer.json`` and
``tokenizer_config.json`` under ``.cache/qwen3-tokenizer`` (``qwen2.5`` likewise).

There is no model hub here, yet the costs and facts that depend on the vocabulary (the copy
constraint's byte index, full-vocabulary logits, token counts for ``cutoff_len``) must be tested on
Qwen's 151,643 tokens, not on the tiny model's few thousand. Qwen2, Qwen2.5 and Qwen3 share those
ranks (``dashscope/resources/qwen.tiktoken``, Apache-2.0) and differ only in the added tokens.
Users with the hub keep loading the real ``Qwen/...`` tokenizer; this one is for tests, benchmarks
and exports that must work without it.

What is reproduced, from Qwen's published ``tokenizer.json`` / ``tokenizer_config.json``
(Qwen/Qwen3-4B's files as quoted in github.com/akougkas/warpio-cli,
warpio-docs/ai-docs/model_cards/qwen3:4b.md; the Qwen2.5 ids as listed in github.com/pytorch/torchtune,
torchtune/models/qwen2_5/_tokenizer.py, which cites Qwen/Qwen2.5-7B-Instruct's tokenizer_config.json):
NFC normalisation, the split pattern below, byte-level BPE with one merge per token (151,387 merges,
``ignore_merges`` false), the added tokens at their ids with their ``special`` flags, eos
``<|im_end|>``, pad ``<|endoftext|>``, no bos. Not reproduced: the hub's chat template. LLaMA-Factory's
``qwen`` / ``qwen3`` templates render prompts from their own formatters and write their own chat
template into a tokenizer that has none, so training and ``eval.predict`` encode the same tokens
as with the hub's files.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from functools import lru_cache
from pathlib import Path

from piifactory.command_line import command_parser
from piifactory.errors import PiiFactoryError, UsageError
from piifactory.io import atomic_folder

# Qwen2's pre-tokenizer split (the official tokenizer.json's Split regex): unlike GPT-4's pattern,
# digits are split one per token.
PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

BPE_SIZE = 151_643  # ranks in qwen.tiktoken; the added tokens follow from this id on

# (content, special) in id order from 151643; sources in the module docstring. "special" tokens
# are dropped by decode(skip_special_tokens=True); the others (tool calls, FIM, think) are kept.
_QWEN25_ADDED: tuple[tuple[str, bool], ...] = (
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
)
_QWEN3_ADDED = _QWEN25_ADDED + (
    ("<tool_response>", False),
    ("</tool_response>", False),
    ("<think>", False),
    ("</think>", False),
)
ADDED_TOKENS: dict[str, tuple[tuple[str, bool], ...]] = {"qwen3": _QWEN3_ADDED, "qwen2.5": _QWEN25_ADDED}
FLAVORS = tuple(ADDED_TOKENS)
# The models' embedding rows (config.json vocab_size of Qwen3-0.6B/4B and Qwen2.5-3B): the ids past
# the added tokens are padding rows no text encodes to.
MODEL_VOCAB_SIZE = 151_936
_MODEL_MAX_LENGTH = 131_072


class TokenizerSourceError(PiiFactoryError):
    """The ``dashscope`` package (which ships Qwen's BPE ranks) is missing or incomplete."""


def tiktoken_path() -> Path:
    """``qwen.tiktoken`` inside the installed ``dashscope`` package (found without importing it:
    dashscope's ``__init__`` pulls in its whole API client)."""
    spec = importlib.util.find_spec("dashscope")
    if spec is None or not spec.submodule_search_locations:
        raise TokenizerSourceError("the dashscope package is not installed: pip install -c constraints.txt dashscope")
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "qwen.tiktoken"
    if not path.is_file():
        raise TokenizerSourceError(f"{path}: missing; dashscope 2.0.2 ships Qwen's BPE ranks there")
    return path


def read_ranks(path: Path) -> dict[bytes, int]:
    """``base64(token) rank`` lines, checked to be Qwen's 151,643 ranks 0..151642."""
    from tiktoken.load import load_tiktoken_bpe

    ranks = load_tiktoken_bpe(str(path))
    if sorted(ranks.values()) != list(range(BPE_SIZE)):
        raise TokenizerSourceError(f"{path}: expected ranks 0..{BPE_SIZE - 1}, got {len(ranks)} tokens")
    return ranks


def merges_of(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """The one merge that makes each multi-byte token, in rank order.

    Replaying BPE on a token's own bytes with only the lower ranks ends in two parts: the merge
    that builds it. This gives Qwen's published 151,387 merges; transformers' TikTokenConverter
    instead lists every split whose halves are tokens (294k merges) and sets ``ignore_merges``,
    which differs from Qwen's tokenizer.json.
    """
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) == 1:
            continue
        parts = [bytes([byte]) for byte in token]
        while len(parts) > 2:
            best: tuple[int, int] | None = None
            for index in range(len(parts) - 1):
                merged = ranks.get(parts[index] + parts[index + 1])
                if merged is not None and merged < rank and (best is None or merged < best[0]):
                    best = (merged, index)
            if best is None:
                break
            index = best[1]
            parts[index : index + 2] = [parts[index] + parts[index + 1]]
        if len(parts) != 2:
            raise TokenizerSourceError(f"token of rank {rank} ({token!r}) is not reachable by merging lower ranks")
        merges.append((parts[0], parts[1]))
    return merges


@lru_cache(maxsize=1)
def _vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Byte-level vocabulary and merges of the installed ranks (~10 s: computed once per process)."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    ranks = read_ranks(tiktoken_path())
    char_of = bytes_to_unicode()

    def piece(data: bytes) -> str:
        return "".join(char_of[byte] for byte in data)

    vocab = {piece(token): rank for token, rank in ranks.items()}
    return vocab, [(piece(left), piece(right)) for left, right in merges_of(ranks)]


def backend(flavor: str = "qwen3"):
    """The ``tokenizers.Tokenizer`` with Qwen's pipeline and the flavor's added tokens."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    if flavor not in ADDED_TOKENS:
        raise UsageError(f"unknown flavor {flavor!r}; choose from {', '.join(FLAVORS)}")
    vocab, merges = _vocab_and_merges()
    tok = Tokenizer(models.BPE(vocab, merges, fuse_unk=False, byte_fallback=False, ignore_merges=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ]
    )
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    for content, special in ADDED_TOKENS[flavor]:
        token = AddedToken(content, single_word=False, lstrip=False, rstrip=False, normalized=False, special=special)
        # one at a time: a token's id is its position, so the order above fixes 151643, 151644, ...
        tok.add_tokens([token])
    return tok


def _check_ids(tok, flavor: str) -> None:
    for offset, (content, _) in enumerate(ADDED_TOKENS[flavor]):
        if tok.token_to_id(content) != BPE_SIZE + offset:
            raise TokenizerSourceError(f"{content} landed at id {tok.token_to_id(content)}, not {BPE_SIZE + offset}")


def default_dir(flavor: str, cache_dir: str | Path = ".cache") -> Path:
    return Path(cache_dir) / f"{flavor}-tokenizer"


def build(flavor: str = "qwen3", cache_dir: str | Path = ".cache", force: bool = False) -> Path:
    """Write ``tokenizer.json`` + ``tokenizer_config.json`` to ``<cache_dir>/<flavor>-tokenizer`` and
    return that folder; an existing complete build is reused unless ``force``. Atomic: the folder
    appears whole or not at all."""
    from transformers import PreTrainedTokenizerFast

    out = default_dir(flavor, cache_dir)
    if not force and (out / "tokenizer.json").is_file() and (out / "tokenizer_config.json").is_file():
        return out
    tok = backend(flavor)
    _check_ids(tok, flavor)
    specials = [content for content, special in ADDED_TOKENS[flavor] if special]
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        additional_special_tokens=[t for t in specials if t != "<|endoftext|>"],
        clean_up_tokenization_spaces=False,
        split_special_tokens=False,
        model_max_length=_MODEL_MAX_LENGTH,
    )
    with atomic_folder(out) as staging:
        fast.save_pretrained(staging)
        config_path = staging / "tokenizer_config.json"
        config = json.loads(config_path.read_text(encoding="utf-8"))
        # Qwen's class name, so AutoTokenizer builds the same Qwen2Tokenizer as from the hub's files
        config.update(tokenizer_class="Qwen2Tokenizer", errors="replace", add_prefix_space=False, add_bos_token=False)
        config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def load(flavor: str = "qwen3", cache_dir: str | Path = ".cache"):
    """The built tokenizer through ``AutoTokenizer``, as LLaMA-Factory loads it."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(build(flavor, cache_dir))


def main(argv: list[str] | None = None) -> int:
    parser = command_parser(__name__, __doc__, "--flavor qwen3")
    parser.add_argument("--flavor", choices=FLAVORS, default="qwen3", help="which model family's tokenizer")
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(".cache"), help="the tokenizer goes to <cache-dir>/<flavor>-tokenizer"
    )
    parser.add_argument("--force", action="store_true", help="rebuild even when a build is there")
    args = parser.parse_args(argv)
    try:
        path = build(args.flavor, args.cache_dir, force=args.force)
    except (PiiFactoryError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
