"""Recipe (or merged model) -> GGUF files, an ollama Modelfile and a model card.

Steps, each with llama.cpp's or LLaMA-Factory's own tool:

1. merge: a LoRA/QLoRA recipe with an adapter goes through ``llamafactory-cli export`` into the
   unquantised base (``hf/``); a full fine-tune is used as it is;
2. convert: ``convert_hf_to_gguf.py`` (converter venv) writes ``model-f16.gguf``;
3. quantize: llama.cpp's ``llama_model_quantize`` (what the ``llama-quantize`` tool calls, here
   through the bindings) writes ``model-q8_0.gguf``, ``model-q4_k_m.gguf`` from the f16 file;
4. ``Modelfile`` (:mod:`workflows.export.modelfile`) and ``README.md`` (:mod:`workflows.export.card`).
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from piifactory.errors import PiiFactoryError
from piifactory.io import atomic_write_text
from piifactory.models.llamacpp import Toolchain, bindings

QUANTS = ("f16", "q8_0", "q4_k_m")
"""Supported outputs: f16 straight from the converter, the others quantised from f16."""
FTYPES = {"q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0", "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M"}

CONVERTER = Path(__file__).with_name("_convert_in_venv.py")
BIN = Path(sys.executable).parent


class ExportError(PiiFactoryError):
    """A step of the export failed; the message names the step and its log."""


@dataclass
class ExportPlan:
    recipe: dict
    out: Path
    quants: tuple[str, ...] = QUANTS
    pre_tokenizer: str | None = None
    modelfile_quant: str = "q8_0"
    logs: list[Path] = field(default_factory=list)

    def gguf(self, quant: str) -> Path:
        return self.out / f"model-{quant}.gguf"


def _step(name: str, args: list[str], log: Path) -> None:
    """Run one tool with its output in ``log``; a failure is an ExportError with the log's tail."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as handle:
        result = subprocess.run(args, stdout=handle, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-12:])
        raise ExportError(f"{log}: {name} failed (exit {result.returncode}):\n{tail}")


def has_adapter(recipe: dict) -> bool:
    return bool(recipe.get("adapter_name_or_path")) and recipe.get("finetuning_type", "lora") in ("lora", "oft")


def merge_config(recipe: dict, export_dir: Path) -> dict:
    """``llamafactory-cli export`` arguments: the recipe's model, adapter, template and thinking,
    merged into the unquantised base (no ``quantization_bit``: a QLoRA adapter too)."""
    keep = (
        "model_name_or_path",
        "adapter_name_or_path",
        "template",
        "enable_thinking",
        "finetuning_type",
        "trust_remote_code",
        "default_system",
    )
    config = {key: recipe[key] for key in keep if key in recipe}
    return {
        **config,
        "export_dir": str(export_dir),
        "export_size": 5,
        "export_device": "cpu",
        "export_legacy_format": False,
    }


def hf_model(plan: ExportPlan) -> Path:
    """The merged (or full fine-tuned) Hugging Face model folder the GGUF is converted from."""
    if not has_adapter(plan.recipe):
        return Path(plan.recipe["model_name_or_path"])
    merged = plan.out / "hf"
    config = plan.out / "logs" / "merge.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(config, yaml.safe_dump(merge_config(plan.recipe, merged), allow_unicode=True))
    _step(
        "merge (llamafactory-cli export)",
        [str(BIN / "llamafactory-cli"), "export", str(config)],
        plan.out / "logs" / "merge.log",
    )
    return merged


def converter_input(model: Path, staging: Path) -> Path:
    """``model`` as the converter's transformers 4.57 can read it: a folder of links to its files
    with a 4.x ``tokenizer_config.json``. transformers 5 (the training venv) saves
    ``tokenizer_class: TokenizersBackend`` and ``extra_special_tokens`` as a list; 4.57 knows neither."""
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for item in model.iterdir():
        if item.is_file() and item.name != "tokenizer_config.json":
            (staging / item.name).symlink_to(item.resolve())
    config_path = model / "tokenizer_config.json"
    if config_path.exists():
        config = json.loads(config_path.read_text(encoding="utf-8"))
        if config.get("tokenizer_class") == "TokenizersBackend":
            config["tokenizer_class"] = "PreTrainedTokenizerFast"
        extra = config.get("extra_special_tokens")
        if isinstance(extra, list):
            config.pop("extra_special_tokens")
            config["additional_special_tokens"] = [*config.get("additional_special_tokens", []), *extra]
        (staging / "tokenizer_config.json").write_text(
            json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8"
        )
    return staging


def convert(tools: Toolchain, model: Path, target: Path, pre_tokenizer: str | None, log: Path) -> None:
    """f16 GGUF by llama.cpp's converter, in its own venv; written beside ``target`` then renamed."""
    partial = target.with_name(target.name + ".partial")
    staging = converter_input(model, target.parent / ".convert-input")
    try:
        _step(
            "convert_hf_to_gguf.py",
            [
                str(tools.convert_python),
                str(CONVERTER),
                str(tools.tree),
                pre_tokenizer or "-",
                "--",
                str(staging),
                "--outtype",
                "f16",
                "--outfile",
                str(partial),
            ],
            log,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    partial.replace(target)


def quantize(source: Path, target: Path, quant: str) -> None:
    """llama.cpp's quantizer on all cores; written beside ``target`` then renamed."""
    llama_cpp = bindings()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, FTYPES[quant])
    params.nthread = os.cpu_count() or 1
    partial = target.with_name(target.name + ".partial")
    if llama_cpp.llama_model_quantize(str(source).encode(), str(partial).encode(), ctypes.byref(params)) != 0:
        partial.unlink(missing_ok=True)
        raise ExportError(f"{source}: llama_model_quantize to {quant} failed (its messages are above)")
    partial.replace(target)


def export_ggufs(plan: ExportPlan, tools: Toolchain) -> Path:
    """Merge if needed, convert, quantize; returns the HF model folder the files came from."""
    unknown = sorted(set(plan.quants) - set(QUANTS))
    if unknown:
        raise ExportError(f"unknown quantisation {', '.join(unknown)}: choose from {', '.join(QUANTS)}")
    plan.out.mkdir(parents=True, exist_ok=True)
    model = hf_model(plan)
    logs = plan.out / "logs"
    f16 = plan.gguf("f16")
    convert(tools, model, f16, plan.pre_tokenizer, logs / "convert.log")
    for quant in plan.quants:
        if quant != "f16":
            quantize(f16, plan.gguf(quant), quant)
    if "f16" not in plan.quants:
        f16.unlink()
    return model
