"""Predict a dataset with the prompts and decoding the model was trained with: copy-constrained
values, structure-safe decoding, the recall dial and the rules; resumes by id.

Prompts are rendered by LLaMA-Factory's own converter and template (the processor its
``do_predict`` uses), so they are the training prompts token for token. Greedy decoding goes
through :func:`eval.decoding.generation.generate_answers`. Output lines follow LLaMA-Factory's
``generated_predictions.jsonl`` (``prompt``, ``predict``, ``label``) plus ``id``; finished ids are
skipped on a rerun, so an interrupted run resumes.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Sequence

from tqdm.auto import tqdm

from eval.decoding.dial import OperatingPoint, apply_point, parse_min_score, read_point, scored_entities
from eval.decoding.generation import Answer
from eval.decoding.second_look import masked_row, masked_text, union
from eval.decoding.vllm_backend import require_vllm, vllm_generator
from eval.inference_args import infer_args, load_recipe
from piifactory import lf_compat
from piifactory.answer import target_text
from piifactory.command_line import command_parser
from piifactory.errors import PiiFactoryError, UsageError
from piifactory.io import InputError, iter_jsonl
from piifactory.iterate import batched
from piifactory.rules.hybrid import canonical_policy, merge_answer, to_prediction
from piifactory.schema import input_text


@dataclass(frozen=True, slots=True)
class Prompt:
    id: str
    text: str  # the sample's input (the user turn without the instruction)
    input_ids: list[int]
    label: str
    row: dict = field(default_factory=dict, compare=False, repr=False)  # LLaMA-Factory's row (to render it again)


def render_prompts(recipe: dict, dataset: str | None = None) -> tuple[list[Prompt], object, object, object]:
    """(prompts, tokenizer, template, args) for the recipe's eval dataset or ``dataset``."""
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.data.parser import get_dataset_list
    from llamafactory.model import load_tokenizer

    lf_compat.check_version("python -m eval.predict")
    recipe = dict(recipe)
    name = dataset or _first(recipe.get("eval_dataset")) or _first(recipe.get("dataset"))
    if name is None:
        raise UsageError("no dataset: pass --dataset or set eval_dataset in the recipe")
    info: str | dict = recipe.get("dataset_dir", "data")
    if Path(name).is_file():
        recipe["dataset_dir"] = str(Path(name).resolve().parent)
        info = {Path(name).name: {"file_name": Path(name).name}}
        name = Path(name).name
    try:  # LLaMA-Factory's argument and dataset checks answer a bad recipe with ValueError
        model_args, data_args, finetuning_args, generating_args = infer_args(recipe)
        (attr,) = get_dataset_list([name], info)
    except ValueError as exc:
        raise UsageError(f"LLaMA-Factory rejects the recipe: {exc}") from exc
    tokenizer_module = load_tokenizer(model_args)
    tokenizer = tokenizer_module["tokenizer"]
    template = get_template_and_fix_tokenizer(tokenizer, data_args)
    # The loader reads only these fields of the training arguments.
    loader_args = SimpleNamespace(seed=recipe.get("seed", 42), local_process_index=0, dataloader_num_workers=0)
    rows = lf_compat.load_single_dataset(attr, model_args, data_args, loader_args)
    processor = lf_compat.dataset_processor(data_args, "sft", template, tokenizer, None, do_generate=True)
    prompts = []
    for index, row in enumerate(rows):
        batch = {key: [value] for key, value in row.items()}
        encoded = processor.preprocess_dataset(batch)
        if not encoded["input_ids"]:
            raise InputError(name, index + 1, "LLaMA-Factory dropped this example (invalid turns)")
        response = row["_response"][0]["content"] if row["_response"] else ""
        if isinstance(template.enable_thinking, bool) and not template.enable_thinking:
            response = template.remove_thought(response)
        prompts.append(
            Prompt(str(index), input_text(row["_prompt"][-1]["content"]), encoded["input_ids"][0], response, row)
        )
    args = SimpleNamespace(
        model=model_args, data=data_args, finetuning=finetuning_args, generating=generating_args, processor=processor
    )
    return prompts, tokenizer, template, args


def _first(value: object) -> str | None:
    if isinstance(value, str):
        return value.split(",")[0].strip() or None
    if isinstance(value, list) and value:
        return str(value[0])
    return None


def done_ids(path: Path) -> set[str]:
    """Ids already written; a half-written last line (a crash mid-write) is cut off first."""
    if not path.exists():
        return set()
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)
    return {str(row["id"]) for _, row in iter_jsonl(path) if isinstance(row, dict) and "id" in row}


def run(
    recipe: dict,
    out: Path,
    *,
    dataset: str | None = None,
    batch_size: int = 8,
    max_new_tokens: int = 512,
    limit: int | None = None,
    backend: str = "hf",
    gguf: Path | None = None,
    values: str = "copy",
    structure: bool = True,
    point: OperatingPoint = OperatingPoint(),
    rules: str = "off",
    second_look: bool = False,
    progress: bool = True,
    report: Callable[[str], None] | None = None,
) -> int:
    """Predict every not-yet-done sample into ``out``; returns how many were written now. With
    ``rules`` other than ``off`` the answer is merged with rule hits (:func:`piifactory.rules.hybrid.merge_answer`)
    and the model's own answer is kept as ``raw_predict``."""
    rules = canonical_policy(rules)
    if backend == "vllm":
        if values == "copy":
            raise UsageError(
                "copy-constrained values need --backend hf or llamacpp; with --backend vllm pass --values free"
            )
        require_vllm()
    if (backend == "llamacpp") != (gguf is not None):
        raise UsageError("--backend llamacpp needs --gguf MODEL.gguf (and --gguf needs --backend llamacpp)")
    structured = values == "copy" and structure
    if (point.recall_bias or point.filters or second_look) and not structured:
        raise UsageError(
            "--recall-bias, --min-score and --second-look need structure-safe decoding "
            "(--values copy without --no-structure)"
        )
    prompts, tokenizer, template, args = render_prompts(recipe, dataset)
    if structured:
        _check_answer_comes_first(template, tokenizer)
    prompts = prompts[:limit] if limit is not None else prompts
    finished = done_ids(out)
    todo = [p for p in prompts if p.id not in finished]
    if not todo:
        return 0
    if backend == "llamacpp":
        from eval.decoding.llamacpp_backend import LlamaCppGenerate

        generate = LlamaCppGenerate(
            gguf,
            tokenizer,
            template,
            n_ctx=args.data.cutoff_len + max_new_tokens,
            structure=structured,
            recall_bias=point.recall_bias,
        )
    elif backend == "vllm":
        generate = vllm_generator(args, tokenizer, template)
    else:
        generate = _hf_generator(args, tokenizer, template, structure=structured, recall_bias=point.recall_bias)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with (
        open(out, "a", encoding="utf-8") as handle,
        tqdm(total=len(todo), desc="predict", unit="sample", disable=not progress) as bar,
    ):
        for chunk in batched(todo, batch_size * 4):
            sources = [p.text for p in chunk] if values == "copy" else None
            answers = generate([p.input_ids for p in chunk], max_new_tokens, batch_size, sources)
            added = [0] * len(chunk)
            if second_look:
                answers, added = _second_look(
                    chunk, answers, point, args.processor, generate, max_new_tokens, batch_size
                )
            lines = [
                json.dumps(
                    {**_record(tokenizer, prompt, answer, point, rules), **({"second_look": n} if second_look else {})},
                    ensure_ascii=False,
                )
                + "\n"
                for prompt, answer, n in zip(chunk, answers, added)
            ]
            handle.write("".join(lines))  # whole lines per write; done_ids cuts a torn tail
            handle.flush()
            os.fsync(handle.fileno())
            written += len(chunk)
            bar.update(len(chunk))
    if backend == "llamacpp":  # whether ollama, tokenizing the prompt text itself, would see the same ids
        (report or (lambda message: print(message, file=sys.stderr)))(generate.check.message())
    return written


def _second_look(
    chunk: Sequence[Prompt],
    answers: list[Answer],
    point: OperatingPoint,
    processor,
    generate: "Generate",
    max_new_tokens: int,
    batch_size: int,
) -> tuple[list[Answer], list[int]]:
    """Each answer plus what a second pass finds with the first pass's kept values masked
    (:mod:`eval.decoding.second_look`), and how many entities that added per sample."""
    masked = []
    for prompt, answer in zip(chunk, answers):
        kept = [
            e.value
            for e, score in scored_entities(answer.text, [s.to_dict() for s in answer.scores or ()])
            if point.keep(e.type, score)
        ]
        masked.append(masked_text(prompt.text, kept))
    ids = []
    for prompt, text in zip(chunk, masked):
        encoded = processor.preprocess_dataset({k: [v] for k, v in masked_row(prompt.row, prompt.text, text).items()})
        ids.append(encoded["input_ids"][0])
    merged = [union(first, again) for first, again in zip(answers, generate(ids, max_new_tokens, batch_size, masked))]
    return [answer for answer, _ in merged], [count for _, count in merged]


def _record(tokenizer, prompt: Prompt, answer: Answer, point: OperatingPoint, rules: str) -> dict:
    """One output line: the served answer in ``predict``; the model's own in ``raw_predict`` when
    score thresholds or rules apply; each entity's score under ``scores``; with rules, which
    source won each served entity under ``sources`` (:mod:`piifactory.rules.hybrid`)."""
    record = {
        "id": prompt.id,
        "prompt": tokenizer.decode(prompt.input_ids, skip_special_tokens=True),
        "predict": answer.text,
        "label": prompt.label,
    }
    served = answer.text
    if answer.scores is not None:
        items = json.loads(answer.text)["entities"]
        record["recall_bias"] = point.recall_bias
        record["scores"] = [
            {"type": item["type"], "value": item["value"], **score.to_dict()}
            for item, score in zip(items, answer.scores, strict=True)
        ]
        served = apply_point(answer.text, record["scores"], point, prompt.text)
    if rules != "off":
        merged = merge_answer(prompt.text, served, rules)
        served = to_prediction(prompt.text, merged)
        record["sources"] = [{"type": d.type, "value": d.value, "source": d.source} for d in merged]
    if rules != "off" or point.filters:
        record["predict"], record["raw_predict"] = served, answer.text
    return record


def _check_answer_comes_first(template, tokenizer) -> None:
    """Structure-safe decoding holds the answer to the JSON from its first token; a template that
    makes the model write something first (a thinking block) cannot be constrained that way."""
    probe = target_text([])
    _, response = template.encode_oneturn(
        tokenizer, [{"role": "user", "content": "x"}, {"role": "assistant", "content": probe}]
    )
    if not tokenizer.decode(response, skip_special_tokens=False).startswith(probe):
        raise UsageError(
            "structure-safe decoding needs the answer first (set enable_thinking: false, as the pack's "
            "recipes do) or pass --no-structure"
        )


Generate = Callable[[list[list[int]], int, int, "list[str] | None"], list[Answer]]
"""(prompt ids, max new tokens, batch size, input texts for copy-constrained values or None) -> answers."""


def _hf_generator(args, tokenizer, template, *, structure: bool = False, recall_bias: float = 0.0) -> Generate:
    from llamafactory.model import load_model

    from eval.decoding.generation import generate_answers

    model = load_model(tokenizer, args.model, args.finetuning, is_trainable=False)
    stops = template.get_stop_token_ids(tokenizer)

    def generate(ids: list[list[int]], max_new_tokens: int, batch_size: int, sources: list[str] | None) -> list[Answer]:
        return generate_answers(
            model,
            tokenizer,
            ids,
            max_new_tokens=max_new_tokens,
            stop_token_ids=stops,
            batch_size=batch_size,
            sources=sources,
            structure=structure,
            recall_bias=recall_bias,
        )

    return generate


def operating_point(path: Path | None, recall_bias: float | None, min_score: str | None) -> OperatingPoint:
    """The point from a calibration file, with ``--recall-bias`` / ``--min-score`` overriding it."""
    point = read_point(path) if path is not None else OperatingPoint()
    if recall_bias is not None:
        point = OperatingPoint(recall_bias, point.min_score, point.per_type)
    if min_score is not None:
        default, per_type = parse_min_score(min_score)
        point = OperatingPoint(point.recall_bias, default, per_type)
    return point


def main(argv: list[str] | None = None) -> int:
    parser = command_parser(
        __name__,
        __doc__,
        "llamafactory_configs/qwen4b_lora.yaml adapter_name_or_path=saves/qwen3-4b/pii --dataset pii_test --out preds.jsonl",
    )
    parser.add_argument("recipe", help="training recipe YAML (model, adapter, template, thinking, cutoff)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. adapter_name_or_path=outputs/x")
    parser.add_argument("--out", required=True, type=Path, help="predictions JSONL (appended to; done ids skipped)")
    parser.add_argument("--dataset", help="dataset name from dataset_info.json or a data file (default: eval_dataset)")
    parser.add_argument("--batch-size", type=int, default=8, help="prompts generated together")
    parser.add_argument("--max-new-tokens", type=int, default=512, help="answer length limit")
    parser.add_argument("--limit", type=int, help="first N samples only")
    parser.add_argument(
        "--backend",
        choices=("hf", "vllm", "llamacpp"),
        default="hf",
        help="llamacpp: the --gguf file on CPU through llama.cpp (eval/decoding/llamacpp_backend.py)",
    )
    parser.add_argument(
        "--gguf",
        type=Path,
        help="GGUF model for --backend llamacpp (the recipe still gives the "
        "tokenizer and template: point model_name_or_path at the exported HF model)",
    )
    parser.add_argument(
        "--values",
        choices=("copy", "free"),
        default="copy",
        help="copy: a value can only be text of the input (copy-constrained decoding, hf and "
        "llamacpp backends); "
        "free: plain greedy decoding, the model's raw answer",
    )
    parser.add_argument(
        "--no-structure",
        action="store_true",
        help="copy-constrained values only, without holding the rest of the answer to the format "
        "(structure-safe decoding is on by default with --values copy)",
    )
    parser.add_argument(
        "--operating-point",
        type=Path,
        help="recall bias and score thresholds chosen by python -m eval.calibrate (flags below win)",
    )
    parser.add_argument(
        "--recall-bias",
        type=float,
        help="logit offset against closing the entity list: > 0 makes the model propose more entities",
    )
    parser.add_argument("--min-score", help="keep entities scoring at least S: S, or S,TYPE=S,... per type")
    parser.add_argument(
        "--second-look",
        action="store_true",
        help="predict again with the found values masked and add what that finds (twice the time)",
    )
    parser.add_argument(
        "--rules",
        choices=("off", "union", "verify", "both"),
        default="off",
        help="merge checksum-verified rule hits: union adds missed ones (recall), verify drops "
        "predictions failing their checksum (precision), both does the two",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    ns = parser.parse_args(argv)
    try:
        recipe = load_recipe(ns.recipe, ns.overrides)
        count = run(
            recipe,
            ns.out,
            dataset=ns.dataset,
            batch_size=ns.batch_size,
            max_new_tokens=ns.max_new_tokens,
            limit=ns.limit,
            backend=ns.backend,
            gguf=ns.gguf,
            values=ns.values,
            structure=not ns.no_structure,
            point=operating_point(ns.operating_point, ns.recall_bias, ns.min_score),
            rules=ns.rules,
            second_look=ns.second_look,
            progress=not ns.no_progress,
        )
    except (PiiFactoryError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {count} predictions to {ns.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
