"""The locally built Qwen tokenizer against encodings published by others (tests/fixtures/qwen)."""

import json
from pathlib import Path

import pytest
from transformers import AutoTokenizer

import piifactory.models.qwen_tokenizer
from piifactory.child import python_m
from piifactory.models import qwen_tokenizer
from piifactory.synth import generate
from tests.conftest import run_cli

REFERENCES = json.loads(
    (Path(__file__).parent / "fixtures" / "qwen" / "reference_encodings.json").read_text(encoding="utf-8")
)


@pytest.fixture(scope="module")
def tok(qwen_tokenizer_dir: Path):
    return AutoTokenizer.from_pretrained(qwen_tokenizer_dir)


@pytest.mark.parametrize("case", REFERENCES["plain"]["cases"], ids=lambda case: repr(case["text"][:24]))
def test_encodes_like_llamacpp_reference(tok, case: dict) -> None:
    ids = tok.encode(case["text"], add_special_tokens=False)
    assert ids == case["ids"]
    assert tok.decode(ids) == case["text"]


def test_added_tokens_at_official_ids_with_official_flags(tok, tmp_path: Path) -> None:
    expected = {
        151643: ("<|endoftext|>", True),
        151644: ("<|im_start|>", True),
        151645: ("<|im_end|>", True),
        151656: ("<|video_pad|>", True),
        151657: ("<tool_call>", False),
        151664: ("<|file_sep|>", False),
        151665: ("<tool_response>", False),
        151667: ("<think>", False),
        151668: ("</think>", False),
    }
    added = tok.added_tokens_decoder
    for token_id, (content, special) in expected.items():
        assert (added[token_id].content, added[token_id].special, added[token_id].normalized) == (
            content,
            special,
            False,
        )
        assert tok.encode(f"a{content}b", add_special_tokens=False)[1] == token_id
    assert len(tok) == 151_669 and max(added) == 151_668
    assert (tok.eos_token_id, tok.pad_token_id, tok.bos_token) == (151645, 151643, None)
    ids = tok.encode("<|im_start|>x<think>y</think><|im_end|>", add_special_tokens=False)
    assert tok.decode(ids, skip_special_tokens=True) == "x<think>y</think>"  # Qwen3 keeps think tags in decoded text

    qwen25 = AutoTokenizer.from_pretrained(qwen_tokenizer.build("qwen2.5", tmp_path))
    assert len(qwen25) == 151_665 and qwen25.convert_ids_to_tokens(151664) == "<|file_sep|>"
    assert qwen25.encode("<think>", add_special_tokens=False) != [151667]  # not a Qwen2.5 token


def test_round_trips_chinese_fullwidth_emoji_and_agrees_with_tiktoken(tok) -> None:
    """tiktoken on the same ranks is Qwen's original (Qwen-1) encoder; the fast tokenizer must agree
    with it on NFC text, and decode back to the text."""
    import tiktoken

    ranks = qwen_tokenizer.read_ranks(qwen_tokenizer.tiktoken_path())
    reference = tiktoken.Encoding("qwen", pat_str=qwen_tokenizer.PATTERN, mergeable_ranks=ranks, special_tokens={})
    texts = [
        "张三的手机号是13800138000，住在北京市朝阳区。",
        "ＡＢＣ１２３，全角：（括号）「引号」",
        '客户😀👍🏽🇨🇳说："地址\\n在\\"上海\\""',
        "身份证号：11010519491231002X；邮箱：zhang.san@example.com",
        *(sample.text for sample in generate(200, seed=7)),
    ]
    for text in texts:
        ids = tok.encode(text, add_special_tokens=False)
        assert ids == reference.encode_ordinary(text), text
        assert tok.decode(ids) == text


def test_llamafactory_templates_render_like_the_hub_tokenizer(tok, tmp_path: Path) -> None:
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments

    chat = REFERENCES["chat"]
    qwen = get_template_and_fix_tokenizer(
        AutoTokenizer.from_pretrained(qwen_tokenizer.build("qwen2.5", tmp_path)), DataArguments(template="qwen")
    )
    pairs = qwen.encode_multiturn(tok, chat["messages"], chat["qwen"]["system"])
    assert [i for prompt, answer in pairs for i in prompt + answer] == chat["qwen"]["ids"]

    # Qwen3 with thinking off, one turn (the pack's samples are single-turn): LLaMA-Factory's
    # template equals the hub's rendering of the last turn. (In history turns LLaMA-Factory also
    # writes the empty think block, the hub's template does not; the pack never has history.)
    qwen3 = get_template_and_fix_tokenizer(tok, DataArguments(template="qwen3", enable_thinking=False))
    prompt, answer = qwen3.encode_oneturn(tok, chat["messages"][2:], None)
    reference = chat["qwen3"]["ids"]
    assert prompt + answer == reference[reference.index(151644, 20) :]


def test_cli_builds_once_then_reuses(tmp_path: Path) -> None:
    first = run_cli([*python_m(piifactory.models.qwen_tokenizer), "--flavor", "qwen3", "--cache-dir", str(tmp_path)])
    assert first.returncode == 0, first.stderr
    out = Path(first.stdout.strip())
    assert out == tmp_path / "qwen3-tokenizer" and {p.name for p in tmp_path.iterdir()} == {"qwen3-tokenizer"}
    stamp = (out / "tokenizer.json").stat().st_mtime_ns
    assert qwen_tokenizer.build("qwen3", tmp_path) == out and (out / "tokenizer.json").stat().st_mtime_ns == stamp
    config = json.loads((out / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["tokenizer_class"] == "Qwen2Tokenizer" and config["eos_token"] == "<|im_end|>"


def test_missing_dashscope_is_a_one_line_error(monkeypatch, capsys, tmp_path: Path) -> None:
    monkeypatch.setattr(
        qwen_tokenizer, "_vocab_and_merges", qwen_tokenizer._vocab_and_merges.__wrapped__
    )  # no cached ranks
    monkeypatch.setattr(qwen_tokenizer.importlib.util, "find_spec", lambda name: None)
    assert qwen_tokenizer.main(["--cache-dir", str(tmp_path)]) == 2
    assert "dashscope" in capsys.readouterr().err and not list(tmp_path.iterdir())
