"""With Qwen's real vocabulary, the GGUF's own tokenizer turns the rendered prompts into the
training token ids: what ollama feeds the model is what LLaMA-Factory trained it on.

The model is a one-layer Qwen3 with random weights and Qwen3's full 151,669-token tokenizer (built
offline by piifactory.models.qwen_tokenizer): weights do not matter for tokenization, the vocabulary and
pre-tokenizer do. It is exported WITHOUT ``--pre-tokenizer``: the converter recognises Qwen's
pre-tokenizer by its hash (the known trap is that it refuses unknown ones). Then, for synthetic PII
prompts rendered by LLaMA-Factory's template, (1) llama.cpp tokenizing the decoded prompt text and
(2) llama.cpp tokenizing the Modelfile's TEMPLATE rendered by Go's text/template both give exactly
the ids LLaMA-Factory encoded.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import workflows.export
from bench.fixtures import write_alpaca_splits
from piifactory.child import python_m
from tests.conftest import REPO, run_cli
from tests.test_export_modelfile import go_render

pytestmark = pytest.mark.slow
SAMPLES = 40


@pytest.fixture(scope="module")
def qwen_vocab_export(qwen_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    import torch
    from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

    root = tmp_path_factory.mktemp("qwen-vocab")
    tokenizer = AutoTokenizer.from_pretrained(qwen_tokenizer_dir)
    torch.manual_seed(0)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
    )
    model_dir = root / "model"
    Qwen3ForCausalLM(config).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    data = write_alpaca_splits(root, {"test": SAMPLES})
    recipe = {
        "model_name_or_path": str(model_dir),
        "template": "qwen3",
        "enable_thinking": False,
        "cutoff_len": 1024,
        "dataset_dir": str(data),
        "eval_dataset": "pii_synth_test",
    }
    out = root / "gguf"
    result = run_cli(
        [
            *python_m(workflows.export),
            "gguf",
            str(REPO / "llamafactory_configs/qwen3_0.6b_lora.yaml"),
            *(f"{k}={v}" for k, v in recipe.items() if k != "eval_dataset"),
            "--out",
            str(out),
            "--quant",
            "f16",
            "--modelfile-quant",
            "f16",
        ],
        timeout=3600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert "BPE pre-tokenizer was not recognized" not in (out / "logs/convert.log").read_text(encoding="utf-8")
    return recipe, out


def test_gguf_tokenizer_reproduces_the_training_ids(qwen_vocab_export) -> None:
    from eval.decoding.llamacpp_backend import gguf_token_ids, load
    from eval.predict import render_prompts

    recipe, out = qwen_vocab_export
    prompts, tokenizer, _, _ = render_prompts(recipe)
    llm = load(out / "model-f16.gguf", n_ctx=2048)
    assert len(prompts) == SAMPLES
    differing = [p.id for p in prompts if gguf_token_ids(llm, tokenizer, p.input_ids) != p.input_ids]
    assert not differing, differing


def test_modelfile_prompt_tokenizes_to_the_training_ids(qwen_vocab_export) -> None:
    """The whole ollama path: Go renders the TEMPLATE for the user message, llama.cpp tokenizes it."""
    from eval.decoding.llamacpp_backend import load
    from eval.predict import render_prompts
    from workflows.export.modelfile import ollama_template

    recipe, out = qwen_vocab_export
    prompts, tokenizer, template, _ = render_prompts(recipe)
    llm = load(out / "model-f16.gguf", n_ctx=2048)
    go_template = ollama_template(template, tokenizer)
    assert go_template in (out / "Modelfile").read_text(encoding="utf-8")
    for prompt in prompts[:8]:  # Go starts per call: a few are enough, the text path above covers all
        user = tokenizer.decode(prompt.input_ids, skip_special_tokens=False).split("<|im_start|>user\n", 1)[1]
        user = user.split("<|im_end|>", 1)[0]
        rendered = go_render(go_template, [{"role": "user", "content": user}])
        assert llm.tokenize(rendered.encode("utf-8"), add_bos=False, special=True) == prompt.input_ids, prompt.id
