"""Export a trained model to GGUF (f16, q8_0, q4_k_m) with an ollama Modelfile and a model card,
verified by llama.cpp (gguf), or build llama.cpp's tools (build).

gguf: the recipe's model (merged first when it has a LoRA/QLoRA adapter) as GGUF files (f16, q8_0,
q4_k_m), an ollama Modelfile reproducing the training template, and a model card; ``--verify N``
scores HF and every GGUF on N evaluation samples with llama.cpp itself and puts the table in the card.
build: only the llama.cpp toolchain (``make llamacpp``; the first export builds it otherwise).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from eval.inference_args import infer_args, load_recipe
from piifactory.command_line import add_command, command_parser
from piifactory.errors import PiiFactoryError, UsageError
from piifactory.io import atomic_write_text
from piifactory.models.llamacpp import build_seconds, ensure
from workflows.export.card import CardInfo, render_card
from workflows.export.gguf import QUANTS, ExportPlan, export_ggufs
from workflows.export.modelfile import DEFAULT_NUM_CTX, ModelfileSpec, adds_empty_thought, render_modelfile
from workflows.export.verify import as_json, measure


def _template(recipe: dict, model: Path):
    """LLaMA-Factory's template for the recipe (thinking setting applied) and the model's tokenizer."""
    from llamafactory.data import get_template_and_fix_tokenizer
    from transformers import AutoTokenizer

    _, data_args, _, _ = infer_args({**recipe, "model_name_or_path": str(model), "adapter_name_or_path": None})
    tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=bool(recipe.get("trust_remote_code")))
    return get_template_and_fix_tokenizer(tokenizer, data_args), tokenizer, data_args


def export(ns: argparse.Namespace) -> int:
    recipe = load_recipe(ns.recipe, ns.overrides)
    quants = tuple(q.strip() for q in ns.quant.split(",") if q.strip())
    if ns.modelfile_quant not in quants:
        raise UsageError(f"--modelfile-quant {ns.modelfile_quant} is not among --quant {ns.quant}")
    plan = ExportPlan(recipe, ns.out, quants, ns.pre_tokenizer, ns.modelfile_quant)
    tools = ensure()
    started = time.perf_counter()
    model = export_ggufs(plan, tools)
    print(f"[export] GGUF files in {plan.out} ({time.perf_counter() - started:.0f}s)", file=sys.stderr)
    template, tokenizer, data_args = _template(recipe, model)
    num_ctx = max(DEFAULT_NUM_CTX, data_args.cutoff_len + ns.max_new_tokens)
    spec = ModelfileSpec(plan.gguf(ns.modelfile_quant).name, data_args.template, num_ctx)
    atomic_write_text(plan.out / "Modelfile", render_modelfile(spec, template, tokenizer))
    measured = None
    if ns.verify:
        measured = measure(
            recipe,
            model,
            {q: plan.gguf(q) for q in quants},
            plan.out / "verify",
            dataset=ns.dataset,
            limit=ns.verify,
            values=ns.values,
            max_new_tokens=ns.max_new_tokens,
        )
        atomic_write_text(plan.out / "verify" / "measured.json", json.dumps(as_json(measured), indent=2) + "\n")
    metrics = json.loads(ns.metrics.read_text(encoding="utf-8"))["micro"] if ns.metrics else None
    info = CardInfo(
        name=ns.name or plan.out.name,
        source=str(model),
        template=data_args.template,
        thinking="off (empty thought in every prompt)" if adds_empty_thought(template) else "as trained",
        files={q: plan.gguf(q) for q in quants},
        modelfile_quant=ns.modelfile_quant,
        trained_metrics=metrics,
        measured=measured,
        pre_tokenizer=ns.pre_tokenizer,
    )
    atomic_write_text(plan.out / "README.md", render_card(info))
    print(
        f"[export] Modelfile and README.md written; next: cd {plan.out} && ollama create {info.name} -f Modelfile",
        file=sys.stderr,
    )
    return 0


def build(_: argparse.Namespace) -> int:
    tools = ensure()
    seconds = build_seconds(tools)
    print(f"llama.cpp toolchain ready in {tools.root}: " + ", ".join(f"{k} {v:.0f}s" for k, v in seconds.items()))
    return 0


def main(argv: list[str] | None = None) -> int:
    example = "gguf llamafactory_configs/qwen4b_lora.yaml adapter_name_or_path=saves/qwen3-4b/pii --out exports/pii"
    parser = command_parser(__name__, __doc__, example)
    commands = parser.add_subparsers(dest="command", required=True)
    gguf = add_command(
        commands, "gguf", "export a trained model to GGUF + ollama Modelfile + model card", example.split(" ", 1)[1]
    )
    gguf.add_argument("recipe", help="training recipe YAML (model, adapter, template, thinking)")
    gguf.add_argument(
        "overrides",
        nargs="*",
        help="key=value, e.g. adapter_name_or_path=saves/x or model_name_or_path=outputs/full_finetune",
    )
    gguf.add_argument("--out", type=Path, required=True, help="folder for the GGUF files, Modelfile and README.md")
    gguf.add_argument("--quant", default=",".join(QUANTS), help=f"comma-separated, from {', '.join(QUANTS)}")
    gguf.add_argument("--modelfile-quant", default="q8_0", help="the file the Modelfile's FROM names")
    gguf.add_argument("--name", help="model name in the card and the ollama commands (default: the --out folder name)")
    gguf.add_argument("--metrics", type=Path, help="eval.score --json output of the model, quoted in the card")
    gguf.add_argument(
        "--verify",
        type=int,
        default=0,
        metavar="N",
        help="score HF and every GGUF on N samples of the eval dataset with llama.cpp (0: skip)",
    )
    gguf.add_argument("--dataset", help="dataset for --verify (default: the recipe's eval_dataset)")
    gguf.add_argument("--values", choices=("copy", "free"), default="copy", help="decoding of values for --verify")
    gguf.add_argument("--max-new-tokens", type=int, default=256, help="answer length limit for --verify")
    gguf.add_argument(
        "--pre-tokenizer",
        help="only for test models whose tokenizer llama.cpp does not know: the "
        "pre-tokenizer name to write (e.g. qwen2); text then tokenizes "
        "differently than in training",
    )
    gguf.set_defaults(func=export)
    add_command(commands, "build", "build the llama.cpp toolchain (cached in .cache/)", "").set_defaults(func=build)
    ns = parser.parse_args(argv)
    try:
        return ns.func(ns)
    except (PiiFactoryError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
