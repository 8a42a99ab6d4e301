"""Turn the plugins on for one ``run_exp`` call when the recipe carries a ``pii_factory:`` block.

``llamafactory.train.tuner.run_exp`` is wrapped as soon as that module is imported (see
``pii_factory_startup``), in every process that trains: the plain CLI, each torchrun worker (which
re-executes llamafactory's launcher.py) and LLaMA-Board's ``llamafactory-cli train`` subprocess.
The wrapper reads the config the way LLaMA-Factory does, removes and validates the block before
LLaMA-Factory's parser sees it (it rejects unknown keys) and before any model loads, then runs the
stock ``run_exp`` with the plugin trainer swapped in. Without the block it calls stock directly.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from typing import Any, Callable, Iterator

from piifactory import lf_compat
from piifactory.errors import PiiFactoryError
from plugins.options import BLOCK_KEY, PiiFactoryOptions, flag_on, parse_options

# transformers' PREFIX_CHECKPOINT_DIR (a test holds them equal), written out so that finding a
# checkpoint (the experiment runner does, once per trial) does not import transformers and torch.
CHECKPOINT_PREFIX = "checkpoint"
UNSLOTH_LOGITS_ENV = "UNSLOTH_RETURN_LOGITS"


def prepare_unsloth(args: dict[str, Any], options: PiiFactoryOptions) -> bool:
    """``use_unsloth``: LLaMA-Factory 0.9.5 loads the model through Unsloth's ``FastLanguageModel``
    but still trains with its own ``CustomSeq2SeqTrainer`` (llamafactory/train/sft/workflow.py), so
    the plugin trainer swap applies unchanged. Unsloth's training forward may skip the logits and
    return only its fused cross-entropy; the focal loss needs them, so the plugin asks for them
    (``UNSLOTH_RETURN_LOGITS=1``), and the loss refuses empty logits with a message if that is not
    honoured. Returns whether Unsloth is on."""
    if not flag_on(args.get("use_unsloth")):
        return False
    if options.focal_loss is not None:
        os.environ[UNSLOTH_LOGITS_ENV] = "1"
    return True


class PreflightFailed(PiiFactoryError, RuntimeError):
    """``preflight.mode: error`` and the preflight found errors: stop before hours are lost."""


def _recipe_path() -> str | None:
    """The YAML the CLI (or a torchrun worker of launcher.py) was given, for the consistency check."""
    first = sys.argv[1] if len(sys.argv) > 1 else ""
    return first if first.endswith((".yaml", ".yml")) else None


def run_preflight(args: dict[str, Any], options: PiiFactoryOptions) -> None:
    """The recipe's preflight, before the model loads; each rank decides, rank 0 prints."""
    if options.preflight.mode == "off":
        return
    from plugins.preflight import run_preflight as preflight

    # ``args`` no longer carries the block: hand the validated one back, or the preflight would
    # judge the recipe as if the plugins were off (entity_f1 with no entity metrics, no focal loss)
    config = {**args, BLOCK_KEY: options.model_dump()}
    report = preflight(
        config,
        gpu_mem_gb=options.preflight.gpu_mem_gb,
        recipe_path=_recipe_path(),
        num_gpus=int(os.environ.get("WORLD_SIZE", "1")),
    )
    if os.environ.get("LOCAL_RANK", "0") == "0":
        print(report.render(), flush=True)
    if options.preflight.mode == "error" and not report.ok:
        raise PreflightFailed(
            f"{BLOCK_KEY}.preflight.mode is error and the preflight found: " + "; ".join(report.errors)
        )


def skip_incomplete_checkpoint(args: dict[str, Any], logger) -> dict[str, Any]:
    """Resume from the last *complete* checkpoint when LLaMA-Factory would resume automatically.

    With ``overwrite_output_dir`` off and no ``resume_from_checkpoint``, LLaMA-Factory resumes from
    the highest-numbered ``checkpoint-N`` folder, complete or not. A run killed while saving leaves
    one without ``trainer_state.json`` (transformers writes it last), and resuming from it fails
    (or loses the best-metric bookkeeping). Name the last complete one instead, and say so.
    """
    output_dir = args.get("output_dir")
    if (
        not flag_on(args.get("do_train"))
        or flag_on(args.get("overwrite_output_dir"))
        or args.get("resume_from_checkpoint") is not None
        or not output_dir
        or not os.path.isdir(output_dir)
    ):
        return args
    steps = _checkpoints(output_dir)
    chosen = last_complete_checkpoint(output_dir)
    if not steps or chosen is None or chosen == os.path.join(output_dir, steps[-1]):
        return args
    logger.warning(
        f"{os.path.join(output_dir, steps[-1])} is incomplete (no trainer_state.json: interrupted "
        f"while saving); resuming from {chosen}"
    )
    return {**args, "resume_from_checkpoint": chosen}


def _checkpoints(output_dir: str | os.PathLike[str]) -> list[str]:
    """``checkpoint-N`` folder names in step order."""
    if not os.path.isdir(output_dir):
        return []
    steps = sorted(
        (int(name.rsplit("-", 1)[1]), name)
        for name in os.listdir(output_dir)
        if name.startswith(CHECKPOINT_PREFIX + "-")
        and name.rsplit("-", 1)[1].isdigit()
        and os.path.isdir(os.path.join(output_dir, name))
    )
    return [name for _, name in steps]


def last_complete_checkpoint(output_dir: str | os.PathLike[str]) -> str | None:
    """The newest checkpoint that has its ``trainer_state.json`` (transformers writes it last), or None."""
    complete = [
        name
        for name in _checkpoints(output_dir)
        if os.path.isfile(os.path.join(output_dir, name, "trainer_state.json"))
    ]
    return os.path.join(output_dir, complete[-1]) if complete else None


LOG_EXAMPLES_ENV = "PII_FACTORY_LOG_EXAMPLES"


@contextlib.contextmanager
def redacted_data_examples() -> Iterator[None]:
    """LLaMA-Factory prints the first training and eval example in full (prompt text, answer, so
    the entity values) to stdout, which ends up in console logs and LLaMA-Board's output. For one
    run, print its token counts instead; ``PII_FACTORY_LOG_EXAMPLES=1`` keeps the stock print."""
    if os.environ.get(LOG_EXAMPLES_ENV, "") not in ("", "0"):
        yield
        return
    from llamafactory.extras.constants import IGNORE_INDEX

    def print_data_example(example: dict[str, list[int]]) -> None:
        supervised = sum(1 for label in example.get("labels", ()) if label != IGNORE_INDEX)
        print(
            f"{len(example.get('input_ids', ()))} input tokens, {supervised} supervised label tokens "
            f"(text not logged by pii_factory; {LOG_EXAMPLES_ENV}=1 prints it)"
        )

    with lf_compat.quiet_data_examples(print_data_example):
        yield


@contextlib.contextmanager
def plugin_trainer(options: PiiFactoryOptions) -> Iterator[None]:
    """Swap the SFT workflow's trainer class for the plugin subclass, for one run."""
    from plugins.trainer import plugin_trainer_class

    with lf_compat.sft_trainer_replaced(lambda stock: plugin_trainer_class(stock, options)):
        yield


def split_options(args: Any) -> tuple[Any, PiiFactoryOptions | None]:
    """(args without the block, options validated against them), or (args, None) without a block."""
    if not isinstance(args, dict) or BLOCK_KEY not in args:
        return args, None
    rest = {key: value for key, value in args.items() if key != BLOCK_KEY}
    return rest, parse_options(args[BLOCK_KEY], recipe=rest)


def with_plugins(stock_run_exp: Callable[..., None]) -> Callable[..., None]:
    """``run_exp`` that applies the plugins when the config carries the block."""

    @functools.wraps(stock_run_exp)
    def run_exp(args: dict[str, Any] | None = None, callbacks: list | None = None) -> None:
        from llamafactory.extras.logging import get_logger
        from llamafactory.hparams import read_args

        args, options = split_options(read_args(args))
        if options is None:
            return stock_run_exp(args, callbacks)
        lf_compat.check_version("the pii_factory plugins", f" or remove the `{BLOCK_KEY}:` block to train stock")
        prepare_unsloth(args, options)
        args = skip_incomplete_checkpoint(args, get_logger("llamafactory.pii_factory"))
        run_preflight(args, options)
        # a child of llamafactory's logger: same handler, format and level as its own lines
        get_logger("llamafactory.pii_factory").info(
            f"pii_factory plugins active on rank {os.environ.get('RANK', '0')}: {options.model_dump(exclude_none=True)}"
        )
        with plugin_trainer(options), redacted_data_examples():
            return stock_run_exp(args, callbacks)

    return run_exp


def patch_tuner(tuner_module) -> None:
    """Wrap ``tuner_module.run_exp`` once; called by ``pii_factory_startup`` as the module loads.

    A LLaMA-Factory whose ``run_exp`` moved keeps training stock (this runs in every process that
    imports the tuner, recipe block or not); the warning says why a block is then rejected."""
    try:
        lf_compat.wrap_run_exp(tuner_module, with_plugins)
    except lf_compat.LlamaFactoryMismatch as exc:
        print(f"pii_factory plugins off: {exc}", file=sys.stderr)
