"""Copy-constrained decoding: values can only be input text; nothing else about the answer changes."""

import json

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from transformers import AutoModelForCausalLM, AutoTokenizer

from eval.decoding.copy_constraint import CopyConstraint, escaped_source, open_value, token_bytes, unescaped_quote
from eval.decoding.generation import generate_answers


def greedy_generate(*args, **kwargs) -> list[str]:
    """The answers' texts, without the structure constraint (what these tests look at)."""
    return [answer.text for answer in generate_answers(*args, structure=False, **kwargs)]


@pytest.fixture(scope="module")
def tok(tiny_model):
    return AutoTokenizer.from_pretrained(tiny_model)


def test_open_value_tracks_the_string_being_written() -> None:
    assert open_value(b'{"entities": [{"type": "ADDRESS", "value": "') == b""
    assert open_value('{"entities": [{"type": "ADDRESS", "value": "武汉'.encode()) == "武汉".encode()
    assert open_value(b'{"entities": [{"type": "EMAIL", "value": "a\\"b') == b'a\\"b'  # escaped quote stays inside
    assert open_value(b'{"entities": [{"type": "EMAIL", "value": "ab"') is None  # closed
    assert open_value(b'{"entities": [{"type": "EMAIL", "value": "ab"}, {"type": "') is None  # type is not a value
    assert open_value(b'{"entities": []}') is None


def _step(tok, source: str, answer_so_far: str, scores: torch.Tensor) -> torch.Tensor:
    """Run the processor as generate would: the prompt, then the answer's tokens one by one."""
    constraint = CopyConstraint(tok, [source])
    prompt = torch.tensor([tok.encode("prompt", add_special_tokens=False)])
    constraint(prompt, scores.clone())
    ids = prompt
    for token in tok.encode(answer_so_far, add_special_tokens=False):
        ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
        out = constraint(ids, scores.clone())
    return out


def test_drifting_copy_is_pulled_back_to_the_input(tok) -> None:
    source = "寄到江西省兵县房山武汉街K座，收件人林红"
    scores = torch.zeros(1, len(tok))
    road, street = tok.convert_tokens_to_ids(tok.tokenize("路")[0]), tok.convert_tokens_to_ids(tok.tokenize("街")[0])
    scores[0, road] = 5.0  # the model's prior prefers 路
    scores[0, street] = 4.0
    out = _step(tok, source, '{"entities": [{"type": "ADDRESS", "value": "江西省兵县房山武汉', scores)
    assert out[0].argmax().item() == street
    assert out[0, road].item() == float("-inf")


def test_first_value_token_must_occur_in_the_input_and_an_empty_value_cannot_close(tok) -> None:
    source = "祝琴的电话"
    scores = torch.zeros(1, len(tok))
    out = _step(tok, source, '{"entities": [{"type": "PERSON", "value": "', scores)
    allowed = {tok.decode([i]) for i in torch.nonzero(out[0] > float("-inf")).flatten().tolist()}
    assert {"祝", "琴", "的", "电", "话"} <= allowed
    assert "芦" not in allowed
    assert not any(piece.startswith('"') for piece in allowed)


def test_outside_values_nothing_is_masked(tok) -> None:
    scores = torch.randn(1, len(tok))
    out = _step(tok, "张三", '{"entities": [{"type": "', scores)
    assert torch.equal(out, scores)


def _every_allowed_token_keeps_the_value_inside(index, text: str, data) -> None:
    source = escaped_source(text)
    begin = data.draw(st.integers(0, len(source)))
    end = data.draw(st.integers(begin, len(source)))
    prefix = source[begin:end]
    assume(unescaped_quote(prefix) is None)  # open_value never yields a closed string
    for token_id in index.allowed(source, prefix):
        piece = index.raw[token_id]
        quote = unescaped_quote(prefix + piece)
        written = (prefix + piece)[:quote] if quote is not None else prefix + piece
        assert written and written in source, (prefix, piece)
        if quote is not None:  # the value ends here: on a whole character
            written.decode("utf-8")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.text(alphabet='张三李四武汉街路号0123456789abc@.:-"\\ ，', min_size=1, max_size=30),
    data=st.data(),
)
def test_every_allowed_token_keeps_the_value_inside_the_input(tok, text: str, data) -> None:
    _every_allowed_token_keeps_the_value_inside(token_bytes(tok), text, data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.text(
        alphabet='张三北京市朝阳区0123456789０１２ＡＢ@.:-()（）"\\ ，😀👍🏽\u200dabc', min_size=1, max_size=30
    ),
    data=st.data(),
)
def test_every_allowed_qwen_token_keeps_the_value_inside_the_input(qwen_tok, text: str, data) -> None:
    _every_allowed_token_keeps_the_value_inside(token_bytes(qwen_tok), text, data)


def test_escaped_source_is_the_json_string_body() -> None:
    assert escaped_source('他说"你好"\\') == json.dumps('他说"你好"\\', ensure_ascii=False)[1:-1].encode()


@pytest.mark.slow
def test_generation_with_sources_changes_only_values(tiny_model, tok) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    texts = ["张三的电话13800138000", "地址：武汉街K座", "无"]
    prompts = [tok.encode(t, add_special_tokens=False) for t in texts]
    stops = [tok.convert_tokens_to_ids("<|im_end|>")]
    free = greedy_generate(model, tok, prompts, max_new_tokens=24, stop_token_ids=stops, batch_size=2)
    copy = greedy_generate(model, tok, prompts, max_new_tokens=24, stop_token_ids=stops, batch_size=2, sources=texts)
    assert len(copy) == len(texts)
    for free_text, copy_text in zip(free, copy):
        # An untrained model rarely opens a value; where it did not, the answers are identical.
        assert copy_text == free_text or '"value"' in free_text


def test_a_value_never_starts_or_ends_inside_a_character(tok) -> None:
    index = token_bytes(tok)
    rare = "龘"  # not in the tiny tokenizer's corpus: two or three byte tokens
    pieces = tok.tokenize(rare)
    assert len(pieces) > 1
    source = escaped_source(f"{rare}的电话")
    first = index.raw[tok.convert_tokens_to_ids(pieces[0])]
    assert not set(index.closing) & set(index.allowed(source, first))  # mid-character: cannot close
    starts = [index.raw[i] for i in index.allowed(source, b"")]
    assert all(piece[0] & 0xC0 != 0x80 for piece in starts)  # no value begins with a continuation byte


# Qwen's real vocabulary (151,669 tokens): multi-character tokens, tokens that open a value and carry
# its first characters (` "(`, ` "\"`), byte tokens of emoji.
QWEN_CASES = [
    ("张三的手机号13800138000，住在北京市朝阳区", "PERSON", "张三"),
    ("张三的手机号13800138000，住在北京市朝阳区", "PHONE", "13800138000"),
    ("张三的手机号13800138000，住在北京市朝阳区", "ADDRESS", "北京市朝阳区"),
    ("ＡＢＣ公司电话：０２１－１２３４５６７８", "PHONE", "０２１－１２３４５６７８"),
    ("客户😀👍🏽说地址是上海", "OTHER", "😀👍🏽"),
    ('他说"张三"是同事，邮箱zhang.san@example.com', "PERSON", '"张三"'),
    ('他说"张三"是同事，邮箱zhang.san@example.com', "EMAIL", "zhang.san@example.com"),
    ("电话(021)1234-5678", "PHONE", "(021)1234-5678"),
]


@pytest.fixture(scope="module")
def qwen_tok(qwen_tokenizer_dir):
    return AutoTokenizer.from_pretrained(qwen_tokenizer_dir)


@pytest.mark.parametrize(("text", "kind", "value"), QWEN_CASES)
def test_qwen_vocabulary_never_blocks_the_gold_answer(qwen_tok, text: str, kind: str, value: str) -> None:
    answer = json.dumps({"entities": [{"type": kind, "value": value}]}, ensure_ascii=False)
    constraint = CopyConstraint(qwen_tok, [text])
    ids = torch.tensor([qwen_tok.encode("prompt", add_special_tokens=False)])
    masked_somewhere = False
    for token in qwen_tok.encode(answer, add_special_tokens=False):
        scores = constraint(ids, torch.zeros(1, 151_936))
        assert scores[0, token].item() == 0.0, qwen_tok.decode([token])
        masked_somewhere |= bool(torch.isinf(scores).any())
        ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
    assert masked_somewhere


@pytest.mark.parametrize(("text", "kind", "value"), QWEN_CASES)
def test_qwen_vocabulary_drift_stays_inside_the_input(qwen_tok, text: str, kind: str, value: str) -> None:
    """A model with random preferences writes only input text once a value is open, and the token
    that opens the value may carry only input text."""
    generator = torch.Generator().manual_seed(len(text) + len(value))
    source = escaped_source(text)
    constraint = CopyConstraint(qwen_tok, [text])
    ids = torch.tensor([qwen_tok.encode("prompt", add_special_tokens=False)])
    constraint(ids, torch.zeros(1, 151_936))
    head = qwen_tok.encode(f'{{"entities": [{{"type": "{kind}", "value": "', add_special_tokens=False)
    for position, token in enumerate(head):  # one processor call per new token, as generate makes them
        ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
        scores = constraint(ids, torch.zeros(1, 151_936))
        if position == len(head) - 2:  # `"value":` written: these scores pick the opening token
            kept = torch.nonzero(scores[0] == 0).flatten().tolist()
            for content, opener_ids in constraint.tokens.openers.items():
                if set(opener_ids) & set(kept):
                    quote = unescaped_quote(content)
                    assert (content if quote is None else content[:quote]) in source, content
        last_scores = scores
    written, scores = b"", last_scores
    for _ in range(24):
        token = int((scores[0] + torch.randn(151_936, generator=generator)).argmax())
        written += constraint.tokens.raw[token]
        ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
        if unescaped_quote(written) is not None:
            break
        scores = constraint(ids, torch.zeros(1, 151_936))
    end = unescaped_quote(written)
    content = written if end is None else written[:end]
    assert content and content in source, (written, text)
    if end is not None:
        content.decode("utf-8")  # closed on a whole character
