"""Turn the pack's training recipes into LLaMA-Board configs, so "Load arguments" can open them.

LLaMA-Board's load button reads `llamaboard_config/<name>.yaml`, a mapping of widget ids (for
example `train.dataset`) to values, not a training YAML. Keys without a widget, the `pii_factory:`
block included, go into the "Extra arguments" JSON box, which the board merges into the
`training_args.yaml` it hands to `llamafactory-cli train`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from piifactory import lf_compat
from piifactory.recipe_file import read_yaml

CONFIG_PREFIX = "recipe_"

# Training argument -> LLaMA-Board widget id holding it as is.
WIDGETS: dict[str, str] = {
    "finetuning_type": "top.finetuning_type",
    "template": "top.template",
    "quantization_method": "top.quantization_method",
    "rope_scaling": "top.rope_scaling",
    "dataset_dir": "train.dataset_dir",
    "cutoff_len": "train.cutoff_len",
    "per_device_train_batch_size": "train.batch_size",
    "gradient_accumulation_steps": "train.gradient_accumulation_steps",
    "lr_scheduler_type": "train.lr_scheduler_type",
    "val_size": "train.val_size",
    "logging_steps": "train.logging_steps",
    "save_steps": "train.save_steps",
    "warmup_steps": "train.warmup_steps",
    "packing": "train.packing",
    "neat_packing": "train.neat_packing",
    "train_on_prompt": "train.train_on_prompt",
    "mask_history": "train.mask_history",
    "enable_thinking": "train.enable_thinking",
    "report_to": "train.report_to",
    "lora_rank": "train.lora_rank",
    "lora_alpha": "train.lora_alpha",
    "lora_dropout": "train.lora_dropout",
    "lora_target": "train.lora_target",
    "additional_target": "train.additional_target",
    "use_rslora": "train.use_rslora",
    "use_dora": "train.use_dora",
}
# Integer sliders: a float there (warmup_steps: 0.05 is a ratio) stays in "Extra arguments".
INT_WIDGETS = {
    "cutoff_len",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "logging_steps",
    "save_steps",
    "warmup_steps",
    "lora_rank",
    "lora_alpha",
}
# Widgets that are text boxes: the board parses their strings with float() or int().
TEXT_WIDGETS: dict[str, str] = {
    "learning_rate": "train.learning_rate",
    "num_train_epochs": "train.num_train_epochs",
    "max_grad_norm": "train.max_grad_norm",
    "max_samples": "train.max_samples",
    "quantization_bit": "top.quantization_bit",
}
# Set by the board itself from its own widgets; a copy in "Extra arguments" would override them
# (output_dir would break the board's progress monitor, which watches its own save folder).
BOARD_OWNED = {"do_train", "output_dir"}
COMPUTE_TYPES = ("pure_bf16", "bf16", "fp16")


def model_name(model_path: str) -> str:
    """The board's model-dropdown name for a recipe's model; registered by the launcher."""
    return f"PII-{Path(model_path).name}"


def to_board_config(recipe: dict[str, Any]) -> dict[str, Any]:
    """A recipe's training arguments as LLaMA-Board widget values plus an extra-arguments JSON."""
    stage_names = lf_compat.board_stage_names()
    rest = {k: v for k, v in recipe.items() if k not in BOARD_OWNED}
    config: dict[str, Any] = {
        "top.model_name": model_name(rest.pop("model_name_or_path")),
        "train.training_stage": stage_names[rest.pop("stage", "sft")],
        "train.dataset": [d.strip() for d in str(rest.pop("dataset")).split(",")],
        # The board defaults to bf16; a recipe that names no precision trains in fp32.
        "train.compute_type": next((t for t in COMPUTE_TYPES if rest.pop(t, False)), "fp32"),
    }
    for key, elem_id in WIDGETS.items():
        if key in rest and (key not in INT_WIDGETS or type(rest[key]) is int):
            config[elem_id] = rest.pop(key)
    for key, elem_id in TEXT_WIDGETS.items():
        if key in rest:
            config[elem_id] = str(rest.pop(key))
    config["train.extra_args"] = json.dumps(rest, ensure_ascii=False)
    return config


def load_recipes(recipes_dir: Path) -> dict[str, dict[str, Any]]:
    """Every training recipe (a YAML with `model_name_or_path`) in the folder, by file stem."""
    recipes = {}
    for path in sorted(recipes_dir.glob("*.yaml")):
        recipe = read_yaml(path)  # a broken file (a python/object tag included) is an InputError file:line
        if isinstance(recipe, dict) and "model_name_or_path" in recipe and "dataset" in recipe:
            recipes[path.stem] = recipe
    return recipes


def write_board_configs(recipes: dict[str, dict[str, Any]], config_dir: Path) -> list[Path]:
    """Write one `recipe_<stem>.yaml` per recipe where the board's load button looks; rewritten each launch."""
    config_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, recipe in recipes.items():
        path = config_dir / f"{CONFIG_PREFIX}{stem}.yaml"
        path.write_text(yaml.safe_dump(to_board_config(recipe), allow_unicode=True), encoding="utf-8")
        written.append(path)
    return written
