"""The generated ollama Modelfile renders a conversation exactly as LLaMA-Factory's template does.

The TEMPLATE is executed by Go's text/template (the engine ollama uses) through
tests/tools/ollama_render.go, with ollama's chat-request data (System, Messages). What this proves:
for the tiny Qwen3 with the ``qwen3`` template and ``enable_thinking: false``, ollama's prompt text is
LLaMA-Factory's training prompt text, for a one-turn generation prompt (what eval.predict and
ollama run send) and a two-turn conversation with a system message (what training encodes). It also
shows that LLaMA-Factory's stock Modelfile template differs (no empty thought block), so the check
catches the thinking bug.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from workflows.export.modelfile import ModelfileSpec, ollama_template, render_modelfile

RENDERER = Path(__file__).parent / "tools" / "ollama_render.go"
SYSTEM = "你是个人信息识别助手。"
TURNS = [
    {"role": "user", "content": "找出文本中的个人敏感信息：张三的电话是13800138000。"},
    {"role": "assistant", "content": '{"entities": [{"type": "PERSON", "value": "张三"}]}'},
    {"role": "user", "content": "再找一次：李四住在北京市海淀区。"},
    {"role": "assistant", "content": '{"entities": [{"type": "PERSON", "value": "李四"}]}'},
]


def go_render(template: str, messages: list[dict[str, str]]) -> str:
    go = shutil.which("go")
    assert go, "Go is needed to run ollama's template engine (make test installs Debian's golang-go)"
    result = subprocess.run(
        [go, "run", str(RENDERER)],
        input=json.dumps({"template": template, "messages": messages}),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return result.stdout


@pytest.fixture(scope="module")
def qwen3_nothink(tiny_model: Path):
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    template = get_template_and_fix_tokenizer(tokenizer, DataArguments(template="qwen3", enable_thinking=False))
    return template, tokenizer


def test_one_turn_prompt_is_the_training_prompt(qwen3_nothink) -> None:
    template, tokenizer = qwen3_nothink
    prompt_ids, _ = template.encode_oneturn(tokenizer, TURNS[:2])
    expected = tokenizer.decode(prompt_ids, skip_special_tokens=False)
    rendered = go_render(ollama_template(template, tokenizer), TURNS[:1])
    assert rendered == expected
    assert rendered.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_conversation_with_system_is_the_training_conversation(qwen3_nothink) -> None:
    template, tokenizer = qwen3_nothink
    pairs = template.encode_multiturn(tokenizer, TURNS, system=SYSTEM)
    expected = tokenizer.decode([i for prompt, answer in pairs for i in prompt + answer], skip_special_tokens=False)
    rendered = go_render(ollama_template(template, tokenizer), [{"role": "system", "content": SYSTEM}, *TURNS])
    assert rendered == expected
    assert rendered.startswith(f"<|im_start|>system\n{SYSTEM}<|im_end|>\n")


def test_llamafactory_stock_modelfile_lacks_the_thought(qwen3_nothink) -> None:
    template, tokenizer = qwen3_nothink
    stock = template.get_ollama_modelfile(tokenizer).split('TEMPLATE """')[1].split('"""')[0]
    prompt_ids, _ = template.encode_oneturn(tokenizer, TURNS[:2])
    rendered = go_render(stock, TURNS[:1])
    assert rendered != tokenizer.decode(prompt_ids, skip_special_tokens=False)
    assert "<think>" not in rendered


def test_modelfile_has_stops_greedy_decoding_and_the_gguf(qwen3_nothink) -> None:
    template, tokenizer = qwen3_nothink
    text = render_modelfile(ModelfileSpec("model-q8_0.gguf", "qwen3"), template, tokenizer)
    assert "FROM ./model-q8_0.gguf\n" in text
    assert 'PARAMETER stop "<|im_end|>"' in text
    assert "PARAMETER temperature 0" in text
    assert f'TEMPLATE """{ollama_template(template, tokenizer)}"""' in text
    assert "SYSTEM" not in text  # qwen3 has no default system prompt
