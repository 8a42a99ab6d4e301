"""``python -m bench.gpu_probe train RECIPE.yaml``: the stock ``llamafactory-cli`` with a probe.

The same entry point as the console script (``llamafactory.cli.main``), so the pack's start-up
hook, the plugin and LLaMA-Factory's workflow run exactly as for a user; the only addition is a
``TrainerCallback`` handed to ``run_exp`` that times each optimiser step (synchronised) and reads
the allocator's peak per phase: training steps, and each evaluation (eval loss plus the entity
metrics' generation). It writes them as JSON to ``$PII_BENCH_PROBE_OUT`` after every event.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from piifactory.io import atomic_write_text

PROBE_ENV = "PII_BENCH_PROBE_OUT"
GIB = 1024**3


class _Probe:
    """Step times and allocator peaks, split by phase (a TrainerCallback built lazily below)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.figures: dict = {
            "step_seconds": [],
            "tokens_seen": [],
            "train_peak_allocated_gib": 0.0,
            "train_peak_reserved_gib": 0.0,
            "eval_peak_allocated_gib": 0.0,
            "eval_peak_reserved_gib": 0.0,
            "device": None,
        }
        self._start = 0.0

    def _peaks(self, phase: str) -> None:
        import torch

        if not torch.cuda.is_available():
            return
        torch.cuda.synchronize()
        for kind, value in (
            ("allocated", torch.cuda.max_memory_allocated()),
            ("reserved", torch.cuda.max_memory_reserved()),
        ):
            key = f"{phase}_peak_{kind}_gib"
            self.figures[key] = max(self.figures[key], value / GIB)
        torch.cuda.reset_peak_memory_stats()
        self.figures["device"] = torch.cuda.get_device_name(0)

    def step_begin(self) -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self._start = time.perf_counter()

    def step_end(self, state) -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.figures["step_seconds"].append(time.perf_counter() - self._start)
        self.figures["tokens_seen"].append(int(getattr(state, "num_input_tokens_seen", 0) or 0))
        self._peaks("train")
        self._write()

    def evaluated(self) -> None:
        self._peaks("eval")
        self._write()

    def _write(self) -> None:
        if int(os.environ.get("LOCAL_RANK", "0")) == 0:
            atomic_write_text(self.path, json.dumps(self.figures, indent=1))


def probe_callback(path: Path):
    from transformers import TrainerCallback

    probe = _Probe(path)

    class ProbeCallback(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            probe.step_begin()

        def on_step_end(self, args, state, control, **kwargs):
            probe.step_end(state)

        def on_evaluate(self, args, state, control, **kwargs):
            probe.evaluated()

    return ProbeCallback()


def main() -> None:
    from llamafactory.cli import main as llamafactory_cli

    from piifactory import lf_compat

    # on top of the pack's wrapper, which its start-up hook put in place when the tuner loaded
    lf_compat.add_run_callback(probe_callback(Path(os.environ[PROBE_ENV])))
    sys.argv = ["llamafactory-cli", *sys.argv[1:]]
    llamafactory_cli()


if __name__ == "__main__":
    main()
