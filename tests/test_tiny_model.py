import json

from transformers import AutoModelForCausalLM, AutoTokenizer

from piifactory.models.tiny_model import SPECIAL_TOKENS, THINK_TOKENS


def test_tokenizer_carries_qwen_special_tokens(tiny_model) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_model)
    for token in (*SPECIAL_TOKENS, *THINK_TOKENS):
        ids = tok.encode(token, add_special_tokens=False)
        assert len(ids) == 1 and tok.convert_ids_to_tokens(ids) == [token]
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"


def test_digits_and_han_characters_one_per_token(tiny_model) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_model)
    text = "张三的手机号13800138000"
    ids = tok.encode(text, add_special_tokens=False)
    pieces = [tok.decode([i]) for i in ids]
    assert pieces[-11:] == list("13800138000")
    assert tok.decode(ids) == text
    assert all(len(p) == 1 for p in pieces[:6]), pieces  # each Han character its own token


def test_model_is_small_random_qwen3(tiny_model) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert model.config.model_type == "qwen3"
    n_params = sum(p.numel() for p in model.parameters())
    assert 500_000 < n_params < 10_000_000
    assert json.loads((tiny_model / "pii_factory_tiny.json").read_text())["hidden_size"] == model.config.hidden_size
    assert not list(tiny_model.glob(".*"))  # nothing left from the atomic build


def test_values_tokenise_the_same_inside_the_answer(tiny_model) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_model)
    for value in ("hchang@example.org", "91350100M000100Y43", "192.168.10.7", "京A12345"):
        alone = tok.encode(value, add_special_tokens=False)
        quoted = tok.encode(f'"value": "{value}"', add_special_tokens=False)
        in_text = tok.encode(f"邮箱{value}，", add_special_tokens=False)
        assert any(quoted[i : i + len(alone)] == alone for i in range(len(quoted))), value
        assert any(in_text[i : i + len(alone)] == alone for i in range(len(in_text))), value


def test_qwen_vocab_model_has_the_real_vocabulary(qwen_vocab_model) -> None:
    import torch

    tok = AutoTokenizer.from_pretrained(qwen_vocab_model)
    model = AutoModelForCausalLM.from_pretrained(qwen_vocab_model)
    assert len(tok) == 151_669 and model.config.vocab_size == 151_936
    assert model.get_input_embeddings().weight.shape == (151_936, model.config.hidden_size)
    assert tok.encode("Hello world", add_special_tokens=False) == [9707, 1879]
    assert json.loads((qwen_vocab_model / "pii_factory_tiny.json").read_text())["tokenizer"] == "qwen3"
    with torch.no_grad():
        logits = model(torch.tensor([tok.encode("张三13800138000")])).logits
    assert logits.shape[-1] == 151_936
    assert model.generation_config.eos_token_id == [151645, 151643]
