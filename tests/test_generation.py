import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from eval.decoding.generation import generate_answers


def greedy_generate(*args, **kwargs) -> list[str]:
    """The answers' texts, without the structure constraint (what these tests look at)."""
    return [answer.text for answer in generate_answers(*args, structure=False, **kwargs)]


@pytest.mark.slow
def test_batched_left_padded_equals_one_by_one(tiny_model) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    model.train()
    prompts = [tok.encode(t, add_special_tokens=False) for t in ("张三的电话", "请找出：李四，手机号13800138000", "a")]
    stops = [tok.convert_tokens_to_ids("<|im_end|>")]
    batched = greedy_generate(model, tok, prompts, max_new_tokens=12, stop_token_ids=stops, batch_size=3)
    single = [
        greedy_generate(model, tok, [p], max_new_tokens=12, stop_token_ids=stops, batch_size=1)[0] for p in prompts
    ]
    assert batched == single
    assert all(isinstance(text, str) and text for text in batched)
    assert model.training  # mode restored


@pytest.mark.slow
def test_stops_at_stop_token(tiny_model) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    prompt = tok.encode("张三", add_special_tokens=False)
    with torch.no_grad():  # the greedy first token, by id (decoding may not round-trip a byte token)
        first_id = int(model(torch.tensor([prompt])).logits[0, -1].argmax())
    # Declaring the first generated token a stop token leaves an empty completion.
    assert greedy_generate(model, tok, [prompt], max_new_tokens=5, stop_token_ids=[first_id], batch_size=1) == [""]
    assert greedy_generate(model, tok, [], max_new_tokens=5, stop_token_ids=[0]) == []
