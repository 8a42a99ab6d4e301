"""The one place the pack reaches into LLaMA-Factory's internals, with the version they were read from.

LLaMA-Factory has no plugin API, so the pack wraps ``run_exp``, swaps the SFT trainer class for one
run, calls two private loader functions, reads ``_INFER_ARGS`` and sets LLaMA-Board's defaults.
Each such name is an :class:`Internal` below that states the shape the pack relies on (present,
callable, with these parameters, of this type); :meth:`Internal.get` checks it before use, so a
LLaMA-Factory that moved raises :class:`ChangedInternalsError` naming the target and the pinned
version, at the start, never an ``AttributeError`` hours into a run. Anything else imports only
LLaMA-Factory's public names (tests/test_lf_compat.py fails on a private one outside this module).
llamafactory is imported lazily: importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from piifactory.errors import PiiFactoryError

PINNED_VERSION = "0.9.5"


class LlamaFactoryMismatch(PiiFactoryError):
    """The installed LLaMA-Factory is not the one the pack's hooks were written and tested for."""


class UnsupportedVersionError(LlamaFactoryMismatch):
    """Another LLaMA-Factory version than :data:`PINNED_VERSION`."""


class ChangedInternalsError(LlamaFactoryMismatch):
    """A LLaMA-Factory name the pack reaches is gone or has another shape."""


def installed_version() -> str:
    from llamafactory.extras.env import VERSION

    return VERSION


def check_version(user: str, remedy: str = "") -> None:
    """Refuse to run ``user`` (the part of the pack that needs the internals) on another version."""
    found = installed_version()
    if found != PINNED_VERSION:
        raise UnsupportedVersionError(
            f"{user}: written for llamafactory {PINNED_VERSION} only; found {found}. "
            f"Install llamafactory=={PINNED_VERSION}{remedy}."
        )


@dataclass(frozen=True)
class Internal:
    """A name in a LLaMA-Factory module and the shape the pack relies on.

    ``params``: parameter names a callable (or a class's constructor) must accept; ``kind``: the
    type a value must have (``type`` for a class); ``attrs``: attributes the value must carry.
    """

    module: str
    name: str
    params: tuple[str, ...] = ()
    kind: type | None = None
    attrs: tuple[str, ...] = ()

    @property
    def target(self) -> str:
        return f"{self.module}.{self.name}"

    def changed(self, what: str) -> ChangedInternalsError:
        return ChangedInternalsError(
            f"{self.target}: {what}; the pack was written for llamafactory {PINNED_VERSION} "
            f"(installed: {installed_version()}). Install llamafactory=={PINNED_VERSION}, or update "
            "piifactory/lf_compat.py and the code that uses this name (docs/plugins.md, 'LLaMA-Factory seam')"
        )

    def host(self, module: Any = None) -> Any:
        """The module holding the name (``module`` if given: the one being imported right now)."""
        if module is not None:
            return module
        try:
            return importlib.import_module(self.module)
        except ImportError as exc:
            raise self.changed(f"module cannot be imported ({exc})") from None

    def check(self, value: Any) -> Any:
        if self.kind is not None and not (
            isinstance(value, self.kind) or (self.kind is type and inspect.isclass(value))
        ):
            raise self.changed(f"expected a {self.kind.__name__}, found {type(value).__name__}")
        if self.params:
            if not callable(value):
                raise self.changed(f"expected a callable, found {type(value).__name__}")
            accepted = set(inspect.signature(value).parameters)
            missing = [name for name in self.params if name not in accepted]
            if missing:
                raise self.changed(f"no parameter {', '.join(missing)} (accepts {', '.join(sorted(accepted))})")
        missing = [attr for attr in self.attrs if not hasattr(value, attr)]
        if missing:
            raise self.changed(f"no attribute {', '.join(missing)}")
        return value

    def get(self, module: Any = None) -> Any:
        """The current value, after checking its shape."""
        host = self.host(module)
        if not hasattr(host, self.name):
            raise self.changed("no such name")
        return self.check(getattr(host, self.name))

    @contextlib.contextmanager
    def replaced(self, make: Callable[[Any], Any]) -> Iterator[None]:
        """Set the name to ``make(stock)`` for the block, then put the stock value back."""
        host, stock = self.host(), self.get()
        setattr(host, self.name, make(stock))
        try:
            yield
        finally:
            setattr(host, self.name, stock)


# Training: the wrapped entry point, the trainer the SFT workflow builds, the data-example print.
RUN_EXP = Internal("llamafactory.train.tuner", "run_exp", params=("args", "callbacks"))
SFT_TRAINER = Internal(
    "llamafactory.train.sft.workflow",
    "CustomSeq2SeqTrainer",
    kind=type,
    params=("finetuning_args", "processor", "gen_kwargs"),
    attrs=("evaluation_loop",),
)
DATASET_PROCESSOR = Internal(
    "llamafactory.data.loader",
    "_get_dataset_processor",
    params=("data_args", "stage", "template", "tokenizer", "processor", "do_generate"),
)
# Prediction: the rows and prompts exactly as LLaMA-Factory's do_predict renders them.
LOAD_SINGLE_DATASET = Internal(
    "llamafactory.data.loader",
    "_load_single_dataset",
    params=("dataset_attr", "model_args", "data_args", "training_args"),
)
INFER_ARGS = Internal("llamafactory.hparams.parser", "_INFER_ARGS", kind=list)
# LLaMA-Board: module constants it reads its defaults from, bound at import in each module.
BOARD_DATA_DIRS = tuple(
    Internal(module, "DEFAULT_DATA_DIR", kind=str)
    for module in (
        "llamafactory.webui.common",
        "llamafactory.webui.control",
        "llamafactory.webui.components.train",
        "llamafactory.webui.components.eval",
    )
)
BOARD_CONFIG_DIR = Internal("llamafactory.webui.common", "DEFAULT_CONFIG_DIR", kind=str)
SUPPORTED_MODELS = Internal("llamafactory.extras.constants", "SUPPORTED_MODELS", kind=dict)
DEFAULT_TEMPLATE = Internal("llamafactory.extras.constants", "DEFAULT_TEMPLATE", kind=dict)
DOWNLOAD_SOURCE = Internal("llamafactory.extras.constants", "DownloadSource", kind=type, attrs=("DEFAULT",))
TRAINING_STAGES = Internal("llamafactory.extras.constants", "TRAINING_STAGES", kind=dict)
CREATE_UI = Internal("llamafactory.webui.interface", "create_ui")
FIX_PROXY = Internal("llamafactory.extras.misc", "fix_proxy")

INTERNALS = (
    RUN_EXP,
    SFT_TRAINER,
    DATASET_PROCESSOR,
    LOAD_SINGLE_DATASET,
    INFER_ARGS,
    *BOARD_DATA_DIRS,
    BOARD_CONFIG_DIR,
    SUPPORTED_MODELS,
    DEFAULT_TEMPLATE,
    DOWNLOAD_SOURCE,
    TRAINING_STAGES,
    CREATE_UI,
    FIX_PROXY,
)


def check_all() -> None:
    """Every internal at once (``python -m piifactory.lf_compat``; the tests run it)."""
    for internal in INTERNALS:
        internal.get()


def wrap_run_exp(tuner: Any, wrap: Callable[[Callable[..., None]], Callable[..., None]]) -> None:
    """Replace ``tuner.run_exp`` (launcher.py looks it up at call time) by ``wrap(stock)``, once."""
    stock = RUN_EXP.get(tuner)
    if not getattr(stock, "pii_factory_wrapped", False):
        wrapped = wrap(stock)
        wrapped.pii_factory_wrapped = True
        tuner.run_exp = wrapped


def add_run_callback(callback: Any) -> None:
    """Every later ``run_exp`` of this process (the CLI's included) also gets ``callback``, through
    LLaMA-Factory's own ``callbacks`` argument."""
    tuner, stock = RUN_EXP.host(), RUN_EXP.get()

    def run_exp(args: Any = None, callbacks: list | None = None) -> None:
        return stock(args, [*(callbacks or []), callback])

    tuner.run_exp = run_exp


def stop_token_ids(trainer_kwargs: dict[str, Any]) -> list[int]:
    """The EOS list (template stop words included) the SFT workflow hands its trainer as
    ``gen_kwargs``: the one LLaMA-Factory's own predict stops on."""
    stops = (trainer_kwargs.get("gen_kwargs") or {}).get("eos_token_id")
    if not stops:
        raise SFT_TRAINER.changed("the SFT workflow built it without gen_kwargs['eos_token_id']")
    return list(stops)


def dataset_processor(*args: Any, **kwargs: Any) -> Any:
    """LLaMA-Factory's dataset processor for a stage (the one its loader builds)."""
    return DATASET_PROCESSOR.get()(*args, **kwargs)


def load_single_dataset(*args: Any, **kwargs: Any) -> Any:
    """One dataset's rows, aligned to LLaMA-Factory's ``_prompt``/``_response`` format."""
    return LOAD_SINGLE_DATASET.get()(*args, **kwargs)


def infer_arg_fields() -> set[str]:
    """Every key LLaMA-Factory's inference parser accepts."""
    import dataclasses

    return {field.name for cls in INFER_ARGS.get() for field in dataclasses.fields(cls)}


@contextlib.contextmanager
def quiet_data_examples(describe: Callable[[dict[str, list[int]]], None]) -> Iterator[None]:
    """For one run, the loader's print of the first example (full text) calls ``describe`` instead."""

    def make(stock: Callable[..., Any]) -> Callable[..., Any]:
        def get_processor(*args: Any, **kwargs: Any) -> Any:
            processor = stock(*args, **kwargs)
            if not hasattr(processor, "print_data_example"):
                raise DATASET_PROCESSOR.changed("the processor it returns has no print_data_example")
            processor.print_data_example = describe
            return processor

        return get_processor

    with DATASET_PROCESSOR.replaced(make):
        yield


@contextlib.contextmanager
def sft_trainer_replaced(make: Callable[[type], type]) -> Iterator[None]:
    """For one run, the SFT workflow builds ``make(CustomSeq2SeqTrainer)`` instead."""
    with SFT_TRAINER.replaced(make):
        yield


def set_board_dataset_dir(dataset_dir: str) -> None:
    """LLaMA-Board's dataset-dir box (train and eval tabs) starts at ``dataset_dir``."""
    for internal in BOARD_DATA_DIRS:
        internal.get()
        setattr(internal.host(), internal.name, dataset_dir)


def register_board_model(name: str, path: str, template: str) -> None:
    """Add ``name`` to the board's model dropdown; picking it fills in ``path`` and ``template``."""
    source = DOWNLOAD_SOURCE.get()
    SUPPORTED_MODELS.get()[name] = {source.DEFAULT: path}
    DEFAULT_TEMPLATE.get()[name] = template


def board_config_dir() -> str:
    """Where the board's "Load arguments" button looks (relative to the working directory)."""
    return BOARD_CONFIG_DIR.get()


def board_stage_names() -> dict[str, str]:
    """LLaMA-Factory ``stage`` value -> the board's training-stage label."""
    return {stage: label for label, stage in TRAINING_STAGES.get().items()}


def launch_board(host: str, port: int) -> None:
    """Start LLaMA-Board as ``llamafactory-cli webui`` does; blocks."""
    FIX_PROXY.get()()
    CREATE_UI.get()().queue().launch(server_name=host, server_port=port, share=False, inbrowser=False)


if __name__ == "__main__":
    check_version(__name__)
    check_all()
    print(
        f"llamafactory {installed_version()}: all {len(INTERNALS)} internals the pack reaches have the expected shape"
    )
