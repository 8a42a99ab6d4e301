"""An ollama ``Modelfile`` whose prompt is the training prompt, byte for byte.

LLaMA-Factory's own ``get_ollama_modelfile`` leaves out the empty thought block that a reasoning
template (``qwen3``) appends to every user turn when ``enable_thinking: false``: a model trained
with ``<think>\\n\\n</think>\\n\\n`` already in its prompt then meets a prompt without it in
ollama and starts its answer with a think block of its own. Here the TEMPLATE is built from the
template's formatters (the same slots LLaMA-Factory encodes) plus that thought, rendered the way
``encode_multiturn`` renders training conversations: every user turn ends with the assistant
header and, without thinking, the empty thought.
"""

from __future__ import annotations

from dataclasses import dataclass

from piifactory.errors import PiiFactoryError

DEFAULT_NUM_CTX = 4096


class TemplateNotSupported(PiiFactoryError):
    """The LLaMA-Factory template has slots an ollama TEMPLATE cannot express."""


def _go_text(slots: list, tokenizer) -> str:
    """Formatter slots as Go template text (placeholders already substituted by ``apply``)."""
    parts = []
    for slot in slots:
        if isinstance(slot, str):
            parts.append(slot)
        elif isinstance(slot, set):
            if "bos_token" in slot and tokenizer.bos_token_id is not None:
                parts.append(tokenizer.bos_token)
            elif "eos_token" in slot and tokenizer.eos_token_id is not None:
                parts.append(tokenizer.eos_token)
        elif isinstance(slot, dict) and "token" in slot:
            parts.append(slot["token"])
        else:
            raise TemplateNotSupported(f"template slot {slot!r} has no ollama equivalent")
    return "".join(parts)


def adds_empty_thought(template) -> bool:
    """True when LLaMA-Factory puts an empty thought block into every prompt (no-think training)."""
    from llamafactory.data.template import ReasoningTemplate

    return isinstance(template, ReasoningTemplate) and template.enable_thinking is False


def ollama_template(template, tokenizer) -> str:
    """The Go TEMPLATE: prefix, optional system turn, then user/assistant turns in order."""
    prefix = _go_text(template.format_prefix.apply(), tokenizer)
    system = _go_text(template.format_system.apply(content="{{ .System }}"), tokenizer)
    user = _go_text(template.format_user.apply(content="{{ .Content }}", idx="0"), tokenizer)
    assistant = _go_text(template.format_assistant.apply(content="{{ .Content }}"), tokenizer)
    if adds_empty_thought(template):
        user += template.add_thought("")
    return (
        f"{prefix}{{{{ if .System }}}}{system}{{{{ end }}}}"
        f'{{{{ range .Messages }}}}{{{{ if eq .Role "user" }}}}{user}'
        f'{{{{ else if eq .Role "assistant" }}}}{assistant}{{{{ end }}}}{{{{ end }}}}'
    )


@dataclass(frozen=True)
class ModelfileSpec:
    gguf_file: str  # relative to the Modelfile's folder
    template_name: str
    num_ctx: int = DEFAULT_NUM_CTX


def stop_words(template, tokenizer) -> list[str]:
    """The template's stop tokens as text (the ids LLaMA-Factory stops generation on)."""
    return sorted({tokenizer.convert_ids_to_tokens(i) for i in template.get_stop_token_ids(tokenizer)})


def render_modelfile(spec: ModelfileSpec, template, tokenizer) -> str:
    """The Modelfile text: FROM, TEMPLATE, SYSTEM (if the template has one), stops, greedy decoding."""
    body = ollama_template(template, tokenizer)
    if '"""' in body or (template.default_system and '"""' in template.default_system):
        raise TemplateNotSupported('the template contains """, which a Modelfile cannot quote')
    thinking = "off: the empty thought block is part of every prompt" if adds_empty_thought(template) else "as trained"
    lines = [
        f"# ollama Modelfile written by workflows.export for LLaMA-Factory template {spec.template_name!r}",
        f"# thinking: {thinking}; decoding: greedy (temperature 0), as eval.predict scored it",
        f"FROM ./{spec.gguf_file}",
        "",
        f'TEMPLATE """{body}"""',
        "",
    ]
    if template.default_system:
        lines += [f'SYSTEM """{template.default_system}"""', ""]
    lines += [f'PARAMETER stop "{word}"' for word in stop_words(template, tokenizer)]
    lines += ["PARAMETER temperature 0", f"PARAMETER num_ctx {spec.num_ctx}", ""]
    return "\n".join(lines)
