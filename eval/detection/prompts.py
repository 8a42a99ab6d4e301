"""Prompts as training rendered them: LLaMA-Factory's own converter, template and processor, for
a dataset's rows (``eval.predict``) or for any text (scan, serve: the text takes the place of a
training row's input, so the instruction, system prompt and template are the training ones)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from eval.decoding.second_look import masked_row
from eval.detection.inference_args import infer_args
from piifactory import lf_compat
from piifactory.answer import target_text
from piifactory.errors import UsageError
from piifactory.io import InputError
from piifactory.schema import input_text


@dataclass(frozen=True, slots=True)
class Prompt:
    id: str
    text: str  # the sample's input (the user turn without the instruction)
    input_ids: list[int]
    label: str
    row: dict = field(default_factory=dict, compare=False, repr=False)  # LLaMA-Factory's row (to render it again)


@dataclass(frozen=True)
class Renderer:
    """The tokenizer, template and LLaMA-Factory arguments of a recipe; renders rows to prompts."""

    tokenizer: object
    template: object
    args: SimpleNamespace  # model, data, finetuning, generating, processor

    def encode(self, row: dict) -> list[int]:
        return self.args.processor.preprocess_dataset({key: [value] for key, value in row.items()})["input_ids"][0]

    def like(self, reference: Prompt, text: str, id: str = "") -> Prompt:
        """The prompt of ``text`` rendered as ``reference``'s row with ``text`` for its input."""
        row = masked_row(reference.row, reference.text, text)
        return Prompt(id, text, self.encode(row), "", row)


def renderer(recipe: dict) -> Renderer:
    """The recipe's tokenizer and template; LLaMA-Factory's argument checks answer a bad recipe."""
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.model import load_tokenizer

    lf_compat.check_version("python -m eval.predict")
    try:  # LLaMA-Factory's argument checks answer a bad recipe with ValueError
        model_args, data_args, finetuning_args, generating_args = infer_args(recipe)
    except ValueError as exc:
        raise UsageError(f"LLaMA-Factory rejects the recipe: {exc}") from exc
    tokenizer = load_tokenizer(model_args)["tokenizer"]
    template = get_template_and_fix_tokenizer(tokenizer, data_args)
    processor = lf_compat.dataset_processor(data_args, "sft", template, tokenizer, None, do_generate=True)
    args = SimpleNamespace(
        model=model_args, data=data_args, finetuning=finetuning_args, generating=generating_args, processor=processor
    )
    return Renderer(tokenizer, template, args)


def dataset_name(recipe: dict, dataset: str | None = None) -> str | None:
    """``dataset``, else the recipe's eval dataset, else its training dataset (the first of each)."""
    return dataset or _first(recipe.get("eval_dataset")) or _first(recipe.get("dataset"))


def render_dataset(
    recipe: dict, render: Renderer, dataset: str | None = None, limit: int | None = None
) -> list[Prompt]:
    """The prompts of the recipe's eval dataset (or ``dataset``: a name or a data file)."""
    from llamafactory.data.parser import get_dataset_list

    recipe = dict(recipe)
    name = dataset_name(recipe, dataset)
    if name is None:
        raise UsageError("no dataset: pass --dataset or set eval_dataset in the recipe")
    info: str | dict = recipe.get("dataset_dir", "data")
    if Path(name).is_file():
        recipe["dataset_dir"] = str(Path(name).resolve().parent)
        info = {Path(name).name: {"file_name": Path(name).name}}
        name = Path(name).name
    if limit is not None:
        recipe["max_samples"] = limit
    try:
        model_args, data_args, _, _ = infer_args(recipe)
        (attr,) = get_dataset_list([name], info)
    except ValueError as exc:
        raise UsageError(f"LLaMA-Factory rejects the recipe: {exc}") from exc
    # The loader reads only these fields of the training arguments.
    loader_args = SimpleNamespace(seed=recipe.get("seed", 42), local_process_index=0, dataloader_num_workers=0)
    rows = lf_compat.load_single_dataset(attr, model_args, data_args, loader_args)
    template = render.template
    prompts = []
    for index, row in enumerate(rows):
        encoded = render.args.processor.preprocess_dataset({key: [value] for key, value in row.items()})
        if not encoded["input_ids"]:
            raise InputError(name, index + 1, "LLaMA-Factory dropped this example (invalid turns)")
        response = row["_response"][0]["content"] if row["_response"] else ""
        if isinstance(template.enable_thinking, bool) and not template.enable_thinking:
            response = template.remove_thought(response)
        prompts.append(
            Prompt(str(index), input_text(row["_prompt"][-1]["content"]), encoded["input_ids"][0], response, row)
        )
    return prompts


def render_prompts(recipe: dict, dataset: str | None = None) -> tuple[list[Prompt], object, object, object]:
    """(prompts, tokenizer, template, args) for the recipe's eval dataset or ``dataset``."""
    render = renderer(recipe)
    return render_dataset(recipe, render, dataset), render.tokenizer, render.template, render.args


def _first(value: object) -> str | None:
    if isinstance(value, str):
        return value.split(",")[0].strip() or None
    if isinstance(value, list) and value:
        return str(value[0])
    return None


def check_answer_comes_first(template, tokenizer) -> None:
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
