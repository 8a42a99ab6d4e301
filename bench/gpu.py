"""``python -m bench.gpu`` (``make gpu-check``): every shipped training recipe, a few real steps on a GPU.

No hub: each model is built with its real shape (``plugins.preflight.models.config_json``) and
random bf16 weights, with Qwen's real tokenizer built offline (``piifactory.models.qwen_tokenizer``);
memory and speed do not depend on the weights. Each recipe runs through the stock
``llamafactory-cli train`` (``bench.gpu_probe``: the same entry point plus a timing callback) with
its plugin block on (QLoRA nf4 or bf16 LoRA, focal loss, one evaluation with entity metrics), on
synthetic rows made about ``cutoff_len`` long (the preflight's worst case), then
``eval.predict`` with the HF backend on the adapter. It records the allocator's peaks per phase
and ``nvidia-smi``'s peak per process, seconds per optimiser step and tokens/s, next to the
preflight's estimates (ratio measured / estimated), and writes ``gpu_results.md`` and
``gpu_results.json`` with the device's name.

``--dry-run``: the same runs with the tiny local Qwen3 on CPU (``use_cpu``, no bf16, a short
cutoff), so a device session has no surprises; CI runs it (``tests/test_bench_gpu.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

import bench.gpu_probe
import eval.predict
from bench.gpu_probe import PROBE_ENV
from bench.run_environment import commit
from piifactory.child import python_m
from piifactory.io import atomic_write_text
from piifactory.tables import markdown_table, text_table
from plugins.options import BLOCK_KEY

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "llamafactory_configs"
MIN_START_S = 90.0  # under a --budget, a recipe starts only with this much left (start-up, load, a few steps)


@dataclass(frozen=True)
class Run:
    """One shipped recipe and the model whose shape it trains."""

    recipe: str
    model: str  # key of plugins.preflight.models.QWEN_SPECS
    flavor: str  # piifactory.models.qwen_tokenizer flavour
    needs: str = ""  # a module that must import (unsloth); skipped with a note otherwise
    gpus: int = 1


RUNS: tuple[Run, ...] = (
    Run("qwen3_0.6b_lora", "qwen3-0.6b", "qwen3"),
    Run("qwen4b_lora", "qwen3-4b", "qwen3"),
    Run("qwen3_1.7b_lora", "qwen3-1.7b", "qwen3"),
    Run("qwen2.5_3b_qlora_qa", "qwen2.5-3b", "qwen2.5"),
    Run("qwen4b_lora_unsloth", "qwen3-4b", "qwen3", needs="unsloth"),
    Run("qwen4b_lora_ds", "qwen3-4b", "qwen3", needs="deepspeed", gpus=2),
)


@dataclass
class Result:
    recipe: str
    model: str
    method: str
    status: str = "ok"
    note: str = ""
    seconds_per_step: float | None = None
    tokens_per_s: float | None = None
    tokens_per_row: float | None = None
    train_peak_gib: float | None = None  # allocator, reserved
    eval_peak_gib: float | None = None  # allocator, reserved: eval loss + entity-metric generation
    train_live_gib: float | None = None  # allocator, allocated: the live tensors the preflight estimates
    eval_live_gib: float | None = None  # allocator, allocated: eval loss + entity-metric generation
    smi_peak_gib: float | None = None  # nvidia-smi, whole training process (CUDA context included)
    est_train_gib: float | None = None
    est_eval_gib: float | None = None  # max(eval step, generation)
    est_overhead_gib: float = 0.0
    predict_samples_per_s: float | None = None
    predict_smi_peak_gib: float | None = None
    entity_f1: float | None = None
    wall_s: dict[str, float] = field(default_factory=dict)
    config: dict = field(default_factory=dict)  # the LLaMA-Factory config that ran: what the estimate reads

    def ratio(self, measured: float | None, estimated: float | None) -> float | None:
        """Allocator peak over the estimate without its CUDA-context term (the allocator does not
        see the context)."""
        if measured is None or not estimated:
            return None
        return measured / (estimated - self.est_overhead_gib)


# --- models and data ---------------------------------------------------------------------------


def build_model(run: Run, work: Path, dry_run: bool) -> Path:
    """A model folder with the real shape and random bf16 weights (tiny Qwen3 in a dry run)."""
    out = work / "models" / ("tiny-qwen3" if dry_run else run.model)
    if (out / "config.json").is_file():
        return out
    if dry_run:
        from piifactory.models.tiny_model import build

        return build(out)
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from piifactory.models.qwen_tokenizer import build as build_tokenizer
    from plugins.preflight.models import QWEN_SPECS, config_json

    config = AutoConfig.for_model(**config_json(QWEN_SPECS[run.model]))
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(out)
    del model
    torch.cuda.empty_cache()
    tokenizer = build_tokenizer(run.flavor, work / "tokenizers")
    for item in tokenizer.iterdir():
        shutil.copy2(item, out / item.name)
    return out


def write_long_rows(dataset_dir: Path, sizes: dict[str, int], tokenizer_dir: Path, tokens: int) -> Path:
    """Synthetic PII rows, each joined from several samples while its instruction, text and answer
    stay under ``tokens`` tokens, so batches run near ``cutoff_len`` (the preflight's worst case) and no
    answer is cut (the entity metrics need whole gold answers)."""
    from transformers import AutoTokenizer

    from converters import Prompting, dataset_entry, merge_registry, to_chat, to_row, write_rows
    from piifactory.answer import target_text
    from piifactory.schema import Entity, Sample
    from piifactory.synth import generate

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)

    instruction = Prompting().instruction

    def length(sample: Sample) -> int:
        return len(tokenizer(f"{instruction}\n{sample.text}{target_text(sample.entities, sample.text)}")["input_ids"])

    dataset_dir.mkdir(parents=True, exist_ok=True)
    info = dataset_dir / "dataset_info.json"
    info.unlink(missing_ok=True)
    for offset, (split, n) in enumerate(sizes.items()):
        pool, rows = iter(generate(n * 64, seed=200 + offset)), []
        for _ in range(n):
            row = next(sample for sample in pool if length(sample) <= tokens)
            while True:
                sample = next(pool)
                shift = len(row.text) + 1
                longer = Sample(
                    f"{row.text}\n{sample.text}",
                    row.entities
                    + tuple(
                        Entity(
                            e.type,
                            e.value,
                            None if e.start is None else e.start + shift,
                            None if e.end is None else e.end + shift,
                        )
                        for e in sample.entities
                    ),
                )
                if length(longer) > tokens:
                    break
                row = longer
            rows.append(to_row(to_chat(row, Prompting()), "alpaca"))
        name = f"pii_bench_{split}"
        write_rows(dataset_dir / f"{name}.json", rows, "json")
        merge_registry(info, {name: dataset_entry(f"{name}.json", "alpaca", with_system=False)})
    return dataset_dir


# --- recipes -----------------------------------------------------------------------------------


def bench_recipe(run: Run, model: Path, data: Path, out: Path, *, steps: int, eval_samples: int, dry_run: bool) -> dict:
    """The shipped recipe as written, with only what a short measured run needs changed: the
    model and data, ``steps`` optimiser steps with one evaluation at the end, no checkpoints."""
    from piifactory.recipe_file import read_recipe

    cfg = read_recipe(CONFIGS / f"{run.recipe}.yaml")
    cfg.update(
        model_name_or_path=str(model),
        dataset_dir=str(data),
        dataset="pii_bench_train",
        eval_dataset="pii_bench_val",
        output_dir=str(out),
        overwrite_output_dir=True,
        max_steps=steps,
        eval_strategy="steps",
        eval_steps=steps,
        save_strategy="no",
        load_best_model_at_end=False,
        logging_steps=1,
        plot_loss=False,
        preprocessing_num_workers=1,
        report_to="none",
        include_num_input_tokens_seen=True,
    )
    cfg.pop("val_size", None)
    cfg.pop("early_stopping_steps", None)
    block = cfg.get(BLOCK_KEY)
    if block is not None:
        block["entity_metrics"] = {**block.get("entity_metrics", {}), "eval_samples": eval_samples}
        block["preflight"] = {**block.get("preflight", {}), "mode": "warn"}
    if dry_run:
        cfg.update(
            use_cpu=True,
            bf16=False,
            cutoff_len=256,
            gradient_accumulation_steps=1,
            per_device_train_batch_size=2,
            per_device_eval_batch_size=2,
        )
        cfg.pop("deepspeed", None)
        if block is not None:
            block["entity_metrics"]["max_new_tokens"] = 16
    return cfg


def method_of(cfg: dict) -> str:
    quant = "QLoRA nf4" if cfg.get("quantization_bit") == 4 else "bf16 LoRA" if cfg.get("bf16") else "LoRA"
    extras = [
        name
        for name, on in (
            ("unsloth", cfg.get("use_unsloth")),
            ("focal", (cfg.get(BLOCK_KEY) or {}).get("focal_loss")),
            ("entity F1", (cfg.get(BLOCK_KEY) or {}).get("entity_metrics")),
        )
        if on
    ]
    return " + ".join([quant, *extras])


def preflight_estimates(cfg: dict, gpu_mem_gb: float | None) -> tuple[float | None, float | None, float]:
    """(train step, max(eval step, generation), the fixed CUDA-context term) in GiB."""
    from plugins.preflight import run_preflight

    report = run_preflight({k: v for k, v in cfg.items() if k != "use_cpu"}, gpu_mem_gb=gpu_mem_gb)
    by_name = {est.name: est for est in report.estimates}
    train = by_name.get("train step")
    evals = [est.total for name, est in by_name.items() if name != "train step"]
    overhead = train.parts.get("cuda overhead", 0.0) if train else 0.0
    return (train.total if train else None), (max(evals) if evals else None), overhead


# --- measuring ---------------------------------------------------------------------------------


class SmiSampler:
    """Peak ``nvidia-smi`` memory.used of the card while a child runs (None without nvidia-smi)."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval, self.peak_mib, self._stop = interval, None, threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _read(self) -> float | None:
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", "0"],
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.strip()
            return float(out.splitlines()[0])
        except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
            return None

    def _loop(self) -> None:
        while not self._stop.is_set():
            value = self._read()
            if value is not None:
                self.peak_mib = max(self.peak_mib or 0.0, value)
            self._stop.wait(self.interval)

    def __enter__(self) -> "SmiSampler":
        if shutil.which("nvidia-smi"):
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    @property
    def peak_gib(self) -> float | None:
        return None if self.peak_mib is None else self.peak_mib / 1024


def _child(args: list[str], log: Path, env: dict[str, str], timeout: float) -> tuple[int, float, float | None]:
    """(exit code, seconds, nvidia-smi peak GiB) of one child process, its output in ``log``."""
    start = time.perf_counter()
    with SmiSampler() as smi, open(log, "w", encoding="utf-8") as handle:
        try:
            code = subprocess.run(
                args, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT, timeout=timeout
            ).returncode
        except subprocess.TimeoutExpired:
            code = 124
    return code, time.perf_counter() - start, smi.peak_gib


def _ended(code: int, timeout: float) -> str:
    return f"stopped at its {timeout:.0f} s limit" if code == 124 else f"exited {code}"


def _skip_reason(run: Run, dry_run: bool) -> str | None:
    import importlib.util

    if run.needs and importlib.util.find_spec(run.needs) is None:
        return f"{run.needs} is not installed here"
    if not dry_run:
        import torch

        if torch.cuda.device_count() < run.gpus:
            return f"needs {run.gpus} GPUs, {torch.cuda.device_count()} here"
    elif run.gpus > 1:
        return f"needs {run.gpus} processes with DeepSpeed; the dry run covers one"
    return None


def measure(
    run: Run,
    work: Path,
    out: Path,
    *,
    steps: int,
    eval_samples: int,
    dry_run: bool,
    gpu_mem_gb: float | None,
    timeout: float,
    deadline: float = float("inf"),
) -> Result:
    """One recipe: train (with the probe), then ``eval.predict``; each child stops after ``timeout``
    seconds or at ``deadline`` (``time.monotonic()``), whichever comes first."""
    cfg_probe = yaml.safe_load((CONFIGS / f"{run.recipe}.yaml").read_text(encoding="utf-8"))
    result = Result(run.recipe, run.model, method_of(cfg_probe))
    left = deadline - time.monotonic()
    reason = _skip_reason(run, dry_run) or (f"{max(left, 0):.0f} s of the budget left" if left < MIN_START_S else None)
    if reason:
        result.status, result.note = "skipped", reason
        return result
    started = time.perf_counter()
    model = build_model(run, work, dry_run)
    cutoff = 256 if dry_run else int(cfg_probe.get("cutoff_len", 1024))
    # rows depend only on the tokenizer: the Qwen3 sizes share one set
    data = work / f"data-{model.name if dry_run else run.flavor}-{cutoff}"
    if not (data / "dataset_info.json").is_file():
        # the chat template's markers take about 20 tokens of the cutoff
        write_long_rows(data, {"train": 64 if dry_run else 160, "val": 2 * eval_samples}, model, cutoff - 32)
    result.wall_s["prepare"] = time.perf_counter() - started
    run_dir = work / "runs" / run.recipe
    cfg = bench_recipe(run, model, data, run_dir / "adapter", steps=steps, eval_samples=eval_samples, dry_run=dry_run)
    result.config = cfg
    result.est_train_gib, result.est_eval_gib, result.est_overhead_gib = preflight_estimates(cfg, gpu_mem_gb)
    run_dir.mkdir(parents=True, exist_ok=True)
    recipe_path = run_dir / "recipe.yaml"
    recipe_path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    probe_path = run_dir / "probe.json"
    env = {
        **os.environ,
        PROBE_ENV: str(probe_path),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    if run.gpus > 1:  # LLaMA-Factory's launcher re-runs itself under torchrun: the probe stays in the parent
        env.update(FORCE_TORCHRUN="1", NPROC_PER_NODE=str(run.gpus))
    limit = min(timeout, max(1.0, deadline - time.monotonic()))
    code, seconds, smi = _child(
        [*python_m(bench.gpu_probe), "train", str(recipe_path)],
        out / f"{run.recipe}.train.log",
        env,
        limit,
    )
    result.wall_s["train"], result.smi_peak_gib = seconds, smi
    probe = json.loads(probe_path.read_text(encoding="utf-8")) if probe_path.is_file() else None
    if probe and probe["step_seconds"]:  # also from a run stopped at its limit: the steps it finished
        _read_probe(result, probe, cfg)
    if code != 0:
        result.status, result.note = "failed", f"train {_ended(code, limit)}: see {run.recipe}.train.log"
        return result
    if probe is None:
        result.note = "torchrun workers carry no probe: nvidia-smi (card 0) and wall time only"
    state = json.loads((run_dir / "adapter" / "trainer_state.json").read_text(encoding="utf-8"))
    f1 = [entry["eval_entity_f1"] for entry in state["log_history"] if "eval_entity_f1" in entry]
    result.entity_f1 = f1[-1] if f1 else None
    predict_out = run_dir / "preds.jsonl"
    predict_out.unlink(missing_ok=True)
    limit = min(timeout, max(1.0, deadline - time.monotonic()))
    code, seconds, smi = _child(
        [
            *python_m(eval.predict),
            str(recipe_path),
            f"adapter_name_or_path={run_dir / 'adapter'}",
            "--dataset",
            "pii_bench_val",
            "--limit",
            str(eval_samples),
            "--batch-size",
            str(min(eval_samples, 16)),
            "--max-new-tokens",
            "32" if dry_run else "256",
            "--out",
            str(predict_out),
            "--no-progress",
        ],
        out / f"{run.recipe}.predict.log",
        env,
        limit,
    )
    result.wall_s["predict"], result.predict_smi_peak_gib = seconds, smi
    if code != 0:
        result.status, result.note = "failed", f"eval.predict {_ended(code, limit)}: see {run.recipe}.predict.log"
        return result
    result.predict_samples_per_s = eval_samples / seconds
    return result


def _read_probe(result: Result, probe: dict, cfg: dict) -> None:
    steps = probe["step_seconds"]
    timed = steps[1:] or steps  # the first step pays for kernels' first launch and the allocator's growth
    result.seconds_per_step = statistics.median(timed)
    tokens = probe["tokens_seen"]
    if len(tokens) >= 2 and tokens[-1] > tokens[0]:
        result.tokens_per_s = (tokens[-1] - tokens[0]) / sum(steps[1:])
    if tokens and tokens[-1]:
        rows = (
            len(steps) * int(cfg.get("per_device_train_batch_size", 1)) * int(cfg.get("gradient_accumulation_steps", 1))
        )
        result.tokens_per_row = tokens[-1] / rows
    if probe.get("device"):
        result.train_peak_gib = probe["train_peak_reserved_gib"]
        result.eval_peak_gib = probe["eval_peak_reserved_gib"] or None  # 0: no evaluation finished
        result.train_live_gib = probe["train_peak_allocated_gib"]
        result.eval_live_gib = probe["eval_peak_allocated_gib"] or None  # 0: no evaluation finished


# --- report ------------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table_rows(results: list[Result]) -> list[list[str]]:
    rows = []
    for r in results:
        rows.append(
            [
                r.recipe,
                r.method,
                r.status + (f" ({r.note})" if r.note else ""),
                _fmt(r.train_live_gib),
                _fmt(r.train_peak_gib),
                _fmt(r.est_train_gib),
                _fmt(r.ratio(r.train_live_gib, r.est_train_gib)),
                _fmt(r.eval_live_gib),
                _fmt(r.eval_peak_gib),
                _fmt(r.est_eval_gib),
                _fmt(r.ratio(r.eval_live_gib, r.est_eval_gib)),
                _fmt(r.smi_peak_gib),
                _fmt(r.seconds_per_step),
                _fmt(r.tokens_per_s, 0),
                _fmt(r.predict_samples_per_s),
            ]
        )
    return rows


HEADER = [
    "recipe",
    "method",
    "status",
    "train live GiB",
    "reserved",
    "preflight",
    "live/est.",
    "eval+gen live GiB",
    "reserved",
    "preflight",
    "live/est.",
    "nvidia-smi peak GiB",
    "s/step",
    "tokens/s",
    "predict samples/s",
]


def device_line(dry_run: bool) -> str:
    import torch
    import transformers

    if not dry_run and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        what = f"{props.name}, {props.total_memory / 1024**3:.0f} GiB, torch {torch.__version__}"
    else:
        what = f"CPU ({platform.processor() or platform.machine()}), torch {torch.__version__}: dry run, tiny shapes"
    return (
        f"{what}, transformers {transformers.__version__}; Python {platform.python_version()}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; commit {commit()}"
    )


def write_report(results: list[Result], out: Path, device: str, *, steps: int) -> Path:
    lines = [
        "# GPU check (`python -m bench.gpu`)",
        "",
        f"Device: {device}. Each recipe as shipped, {steps} optimiser steps "
        "and one evaluation (entity metrics on) through the stock `llamafactory-cli train`, random weights of the "
        "real shape, rows about `cutoff_len` long. Peaks per phase: live (the allocator's allocated bytes, what "
        "the preflight estimates) and reserved (what its cache held; on a large card it keeps freed blocks it "
        "would release under pressure). The preflight column is the current formula's estimate, context "
        "included; live/est. divides the live peak by it without the CUDA-context term. `nvidia-smi` is the whole "
        "training process. s/step is the median optimiser step after the first (accumulation included).",
        "",
        markdown_table(HEADER, table_rows(results)),
        "",
    ]
    path = out / "gpu_results.md"
    atomic_write_text(path, "\n".join(lines))
    atomic_write_text(
        out / "gpu_results.json",
        json.dumps({"device": device, "steps": steps, "results": [asdict(r) for r in results]}, indent=1),
    )
    return path


def combine(parts: list[Path], out: Path) -> Path:
    """One report from the JSON of several GPU runs (each run brings back its own part).

    Where a call's ``logs.tar.gz`` is unpacked next to its JSON (``gpu/runs/RECIPE/``), each run's
    probe fills the live peaks and its recipe is kept; every run's config is estimated again with
    the current preflight, so the report compares the measurements with the formula as it is now."""
    loaded = [json.loads(path.read_text(encoding="utf-8")) for path in parts]
    devices = sorted({part["device"] for part in loaded})
    results = []
    for path, part in zip(parts, loaded):
        for row in part["results"]:
            result = Result(**row)
            result.eval_peak_gib = result.eval_peak_gib or None  # parts written before this read 0 as none
            run_dir = path.parent / "gpu" / "runs" / result.recipe
            if (run_dir / "probe.json").is_file() and result.train_live_gib is None:
                probe = json.loads((run_dir / "probe.json").read_text(encoding="utf-8"))
                if probe.get("device"):
                    result.train_live_gib = probe["train_peak_allocated_gib"]
                    result.eval_live_gib = probe["eval_peak_allocated_gib"] or None
            if not result.config and (run_dir / "recipe.yaml").is_file():
                result.config = yaml.safe_load((run_dir / "recipe.yaml").read_text(encoding="utf-8"))
            if result.config:
                result.est_train_gib, result.est_eval_gib, result.est_overhead_gib = preflight_estimates(
                    result.config, None
                )
            results.append(result)
    return write_report(results, out, " / ".join(devices), steps=loaded[0]["steps"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="tiny shapes on CPU (what CI runs)")
    parser.add_argument("--only", action="append", help="recipe name (repeatable); default: all, in RUNS order")
    parser.add_argument("--out", type=Path, help="report and logs (default: bench/ on a GPU, outputs/gpu-dry-run)")
    parser.add_argument("--work", type=Path, default=REPO / ".cache" / "bench-gpu", help="models, data, runs")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--eval-samples", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=420.0, help="seconds per child process")
    parser.add_argument(
        "--budget",
        type=float,
        help="seconds for the whole run (the GPU machine's time limit): children stop by then, and a recipe "
        f"that would start with under {MIN_START_S:.0f} s left is skipped",
    )
    parser.add_argument(
        "--combine",
        nargs="+",
        type=Path,
        metavar="JSON",
        help="write one report (to --out, default bench/) from the gpu_results JSON of GPU runs",
    )
    ns = parser.parse_args(argv)
    if ns.combine:
        print(combine(ns.combine, ns.out or REPO / "bench").read_text(encoding="utf-8"))
        return 0
    import torch

    if not ns.dry_run and not torch.cuda.is_available():
        print(
            "error: no CUDA device; `python -m bench.gpu --dry-run` runs the same check with tiny shapes on CPU",
            file=sys.stderr,
        )
        return 2
    known = {run.recipe: run for run in RUNS}
    unknown = [name for name in ns.only or [] if name not in known]
    if unknown:
        print(f"error: unknown recipe(s) {', '.join(unknown)}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    runs = [known[name] for name in ns.only] if ns.only else list(RUNS)
    out = ns.out or (REPO / ("outputs/gpu-dry-run" if ns.dry_run else "bench"))
    out.mkdir(parents=True, exist_ok=True)
    work = ns.work / ("dry-run" if ns.dry_run else "gpu")
    gpu_mem = None if ns.dry_run else torch.cuda.get_device_properties(0).total_memory / 1024**3
    device = device_line(ns.dry_run)
    deadline = time.monotonic() + (ns.budget if ns.budget is not None else float("inf"))
    results: list[Result] = []
    for run in runs:
        print(f"[bench.gpu] {run.recipe} ...", file=sys.stderr, flush=True)
        results.append(
            measure(
                run,
                work,
                out,
                steps=ns.steps,
                eval_samples=ns.eval_samples,
                dry_run=ns.dry_run,
                gpu_mem_gb=gpu_mem,
                timeout=ns.timeout,
                deadline=deadline,
            )
        )
        write_report(results, out, device, steps=ns.steps)  # after each run: a timeout keeps what is done
        print(f"[bench.gpu] {run.recipe}: {results[-1].status} {results[-1].note}", file=sys.stderr, flush=True)
    print(device)
    print(text_table(HEADER, table_rows(results)))
    return 0 if all(r.status != "failed" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
