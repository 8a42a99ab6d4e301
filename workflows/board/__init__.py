"""LLaMA-Board for the pack: stock `llamafactory-cli webui`, started with the pack's defaults.

LLaMA-Board keeps its defaults in module constants (dataset dir "data", configs in
`llamaboard_config/`, all relative to the working directory) and binds to 0.0.0.0. Rather than
patch LLaMA-Factory on disk, the launcher runs the board in-process from the pack's root and sets,
in memory only: the dataset-dir default (so `dataset_info.json` is listed), the pack's recipe
models in the model dropdown (so a loaded recipe keeps its model path and template), and the bind
address (127.0.0.1 unless told otherwise).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from piifactory import lf_compat
from workflows.board.recipes import load_recipes, model_name, write_board_configs


@dataclass(frozen=True)
class BoardSettings:
    """Where the board runs and what it serves; `root` holds dataset_info.json and the recipes."""

    root: Path
    host: str = "127.0.0.1"
    port: int = 7860
    dataset_dir: str = "."

    def __post_init__(self) -> None:
        info = self.root / self.dataset_dir / "dataset_info.json"
        if not info.is_file():
            raise FileNotFoundError(f"{info} not found: run from the pack's root or pass --root/--dataset-dir")

    @property
    def recipes_dir(self) -> Path:
        return self.root / "llamafactory_configs"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment for the board and the trainings it starts (it runs bare `llamafactory-cli`)."""
        bin_dir = str(Path(sys.executable).parent)
        path = os.environ.get("PATH", "")
        if path.split(os.pathsep)[0] != bin_dir:
            path = os.pathsep.join([bin_dir, path]) if path else bin_dir
        return {
            "GRADIO_SERVER_NAME": self.host,
            "GRADIO_SERVER_PORT": str(self.port),
            "GRADIO_ANALYTICS_ENABLED": "False",
            "PATH": path,
        }


def register_recipe_models(recipes: dict[str, dict]) -> dict[str, str]:
    """Add each recipe's model to the board's model dropdown with the recipe's path and template.

    Picking a model makes the board refill the path and template from its model table; for a model
    it does not know ("Custom") that empties the path and resets the template to "default".
    """
    names = {}
    for recipe in recipes.values():
        name = model_name(recipe["model_name_or_path"])
        lf_compat.register_board_model(name, recipe["model_name_or_path"], recipe.get("template", "default"))
        names[name] = recipe["model_name_or_path"]
    return names


def prepare(settings: BoardSettings) -> list[Path]:
    """Apply the pack's board defaults in this process (cwd must be `settings.root`); returns the recipe configs."""
    lf_compat.check_version("the pack's LLaMA-Board launcher")
    os.environ.update(settings.env())
    lf_compat.set_board_dataset_dir(settings.dataset_dir)
    recipes = load_recipes(settings.recipes_dir)
    register_recipe_models(recipes)
    return write_board_configs(recipes, settings.root / lf_compat.board_config_dir())


def patient_self_check(patience_s: float = 60.0) -> None:
    """Let Gradio's launch wait for its own server instead of giving up after one slow answer.

    ``Blocks.launch`` pings the local URL with a 3 s timeout and, on a timeout, decides localhost is
    unreachable and raises (seen on a loaded 2-core machine). Retrying for a minute keeps a truly
    unreachable localhost an error, only a later one.
    """
    from gradio import networking

    stock = getattr(networking, "url_ok", None)
    if not callable(stock) or getattr(stock, "patient", False):
        return

    def url_ok(url: str) -> bool:
        deadline = time.monotonic() + patience_s
        while not stock(url):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.5)
        return True

    url_ok.patient = True  # type: ignore[attr-defined]
    networking.url_ok = url_ok


def serve(settings: BoardSettings) -> None:
    """Start LLaMA-Board as `llamafactory-cli webui` does, with the pack's defaults; blocks."""
    os.chdir(settings.root)
    os.environ.update(settings.env())  # before gradio is imported: no analytics calls
    configs = prepare(settings)
    patient_self_check()
    print(f"[board] datasets: {settings.root / settings.dataset_dir / 'dataset_info.json'}", flush=True)
    print(f"[board] recipes under 'Load arguments': {', '.join(p.name for p in configs) or 'none'}", flush=True)
    print(f"[board] LLaMA-Board at {settings.url}", flush=True)
    lf_compat.launch_board(settings.host, settings.port)
