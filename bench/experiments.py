"""The experiment runner's cost: Ray's start-up and per-trial overhead against running the same
tiny-model trials one after another by hand, and the runner's (the Ray driver's) peak memory.

By hand: ``llamafactory-cli train RECIPE key=value ...`` for each trial in turn. Runner:
``python -m workflows.experiments run`` with the same trials as variants on a local Ray with one
CPU and one CPU per trial, so they also run one after another and only the overhead differs
(start-up, the Tune actor per trial, log streaming, the report; no test-split comparison). Ray's
start-up alone is ``ray.init()`` + ``ray.shutdown()`` in a fresh interpreter. The driver's memory
is its own RSS (not the trials'), sampled every 0.2 s.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

import workflows.experiments
from bench.common import Row, scaled
from piifactory.child import python_m

TRIALS = 3
RAY_START = "import time, ray; t = time.perf_counter(); ray.init(num_cpus=1, include_dashboard=False); ray.shutdown(); print(time.perf_counter() - t)"


def prepare(root: Path, steps: int) -> list[str]:
    """Tiny model, data, a recipe and the experiment file; returns each trial's overrides."""
    from bench.fixtures import tiny_recipe, write_alpaca_splits
    from piifactory.models.tiny_model import build

    model = build(root / "model")
    write_alpaca_splits(root / "data", {"train": 32, "val": 4})
    recipe = tiny_recipe(
        model,
        root / "data",
        root / "unused",
        max_steps=steps,
        eval_strategy="steps",
        eval_steps=max(1, steps // 2),
        save_strategy="no",
        per_device_eval_batch_size=4,
    )
    (root / "recipe.yaml").write_text(yaml.safe_dump(recipe), encoding="utf-8")
    rates = [3.0e-3, 1.0e-3, 3.0e-4][:TRIALS]
    experiment = {
        "name": "bench",
        "recipe": "recipe.yaml",
        "metric": "loss",
        "resources": {"cpus": 1},
        "loggers": [],
        "variants": [{"name": f"t{i}", "overrides": {"learning_rate": lr}} for i, lr in enumerate(rates)],
    }
    (root / "experiment.yaml").write_text(yaml.safe_dump(experiment), encoding="utf-8")
    return [f"learning_rate={lr}" for lr in rates]


def by_hand(root: Path, overrides: list[str]) -> float:
    cli = str(Path(sys.executable).parent / "llamafactory-cli")
    start = time.perf_counter()
    for index, override in enumerate(overrides):
        subprocess.run(
            [cli, "train", "recipe.yaml", override, f"output_dir=hand/t{index}"],
            cwd=root,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return time.perf_counter() - start


def with_runner(root: Path) -> tuple[float, float]:
    """(seconds, the driver's peak RSS in MB)."""
    import psutil

    command = [
        *python_m(workflows.experiments),
        "run",
        "experiment.yaml",
        "--num-cpus",
        "1",
        "--storage",
        "runner",
    ]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    driver, peak = psutil.Process(process.pid), 0
    while process.poll() is None:
        try:
            peak = max(peak, driver.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"experiment runner failed: {process.stderr.read().decode()[-3000:]}")
    return seconds, peak / 2**20


def ray_start_seconds() -> float:
    out = subprocess.run([sys.executable, "-c", RAY_START], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def run(scale: float) -> list[Row]:
    steps = scaled(40, scale, 4)
    with tempfile.TemporaryDirectory(prefix="bench-experiments-") as tmp:
        root = Path(tmp)
        overrides = prepare(root, steps)
        hand = by_hand(root, overrides)
        runner, peak_mb = with_runner(root)
        startup = ray_start_seconds()
    on = f"{TRIALS} tiny-model trials x {steps} steps, one at a time"
    return [
        Row(
            "experiments",
            "runner (Ray Tune) / by hand, same trials",
            runner / hand,
            "x",
            f"{on}: {runner:.0f} s vs {hand:.0f} s",
        ),
        Row(
            "experiments",
            "Ray start-up (init + shutdown) / by-hand time",
            startup / hand,
            "x",
            f"{startup:.1f} s; {on}",
        ),
        Row(
            "experiments",
            "overhead per trial beyond start-up / by-hand time per trial",
            (runner - hand - startup) / hand,
            "x",
            f"{(runner - hand - startup) / TRIALS:.1f} s per trial; {on}",
        ),
        Row("experiments", "runner (Ray driver) peak RSS", peak_mb, "MB", "the driver process alone; trials run apart"),
    ]
