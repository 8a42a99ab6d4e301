"""The exported folder's README.md: what was exported, with which template, and how well it answers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from piifactory.models.llamacpp import VERSION
from workflows.export.verify import Measured


@dataclass(frozen=True)
class CardInfo:
    name: str
    source: str  # the HF model folder the GGUFs were converted from
    template: str
    thinking: str
    files: dict[str, Path]  # quantisation -> GGUF file
    modelfile_quant: str
    trained_metrics: dict | None = None  # micro P/R/F1 the model was exported with (eval.score --json)
    measured: list[Measured] | None = None
    pre_tokenizer: str | None = None


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def render_card(info: CardInfo) -> str:
    lines = [
        f"# {info.name} (GGUF)",
        "",
        f"Converted from `{info.source}` by llama.cpp's `convert_hf_to_gguf.py` and quantised by its `llama_model_quantize`, "
        f"both from the llama.cpp tree of llama-cpp-python {VERSION} (`python -m workflows.export gguf`).",
        "",
        f"- chat template: LLaMA-Factory `{info.template}`, thinking {info.thinking}; the Modelfile's TEMPLATE renders "
        "the training prompt exactly (tests/test_export_modelfile.py)",
        "- decoding: greedy (`PARAMETER temperature 0`), as the model was scored",
    ]
    if info.pre_tokenizer:
        lines.append(
            f"- **tokenizer**: its pre-tokenizer is unknown to llama.cpp; the GGUF says `{info.pre_tokenizer}`, so "
            "text can tokenize differently than in training (a test model, not for serving)"
        )
    lines += ["", "| quantisation | file | size | sha256 |", "| --- | --- | ---: | --- |"]
    for quant, path in info.files.items():
        lines.append(f"| {quant} | `{path.name}` | {_mib(path.stat().st_size)} | `{sha256(path)[:16]}…` |")
    if info.trained_metrics:
        m = info.trained_metrics
        lines += [
            "",
            f"Exported with these test metrics (HF, `eval.score`): precision {m['precision']:.3f}, recall "
            f"{m['recall']:.3f}, F1 {m['f1']:.3f}.",
        ]
    if info.measured:
        samples = info.measured[0].samples
        lines += [
            "",
            f"Verified on {samples} evaluation samples with `eval.predict` (same prompts, greedy, same scorer), "
            "HF then llama.cpp on CPU in one run:",
            "",
            "| model | size | precision | recall | F1 | answers equal to HF | tokens/s |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for row in info.measured:
            scores = " | ".join("–" if v is None else f"{v:.3f}" for v in (row.precision, row.recall, row.f1))
            lines.append(
                f"| {row.label} | {_mib(row.size_bytes)} | {scores} "
                f"| {row.same_as_hf}/{row.samples} | {row.tokens_per_second:.0f} |"
            )
        notes = {row.tokenizer_note for row in info.measured if row.tokenizer_note}
        lines += [""] + [f"- {note}" for note in sorted(notes)]
    lines += [
        "",
        "## Run it with ollama",
        "",
        "```bash",
        f"ollama create {info.name} -f Modelfile   # FROM ./{info.files[info.modelfile_quant].name}",
        f'ollama run {info.name} "<instruction>\\n<text>"',
        "```",
        "",
        "Send the same user message as training (the dataset's instruction, a newline, the text). Another file: "
        "edit the Modelfile's `FROM` line.",
        "",
    ]
    return "\n".join(lines)
