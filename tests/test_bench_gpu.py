"""The GPU check (``bench.gpu``) and its device plan, without a GPU: the dry run trains every
shipped recipe with tiny shapes on CPU through the same code path, so a device session has no
surprises; the wheel plan and the device script are checked for what can break before they run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

import bench.gpu
from bench import gpu, gpu_wheels
from piifactory.child import python_m
from plugins.preflight.models import QWEN_SPECS, config_json, spec_from_config
from tests.conftest import REPO

DEVICE_SCRIPT = REPO / "bench" / "gpu_device.sh"


def test_written_configs_have_the_shapes_the_preflight_uses() -> None:
    for key, spec in QWEN_SPECS.items():
        assert spec_from_config(config_json(spec)) == spec, key


def test_real_shape_builds_with_transformers() -> None:
    """The config the device builds from is one transformers accepts, with the parameter count the
    preflight counts (embeddings, blocks' linear layers; norms are the small rest)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    for key in ("qwen3-0.6b", "qwen2.5-3b"):
        spec = QWEN_SPECS[key]
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config_json(spec)))
        params = sum(p.numel() for p in model.parameters())
        assert spec.total_params <= params <= spec.total_params * 1.01, key


def test_every_shipped_training_recipe_is_measured() -> None:
    trains = {
        p.stem
        for p in (REPO / "llamafactory_configs").glob("*.yaml")
        if "do_train: true" in p.read_text(encoding="utf-8")
    } - {"tiny_cpu_demo"}
    assert {run.recipe for run in gpu.RUNS} == trains
    # the GPU command runs RUNS in order under a budget: the smallest recipe, then the users' 12 GB one
    assert [run.recipe for run in gpu.RUNS[:2]] == ["qwen3_0.6b_lora", "qwen4b_lora"]
    assert "--only" not in DEVICE_SCRIPT.read_text(encoding="utf-8")


def test_device_script_is_valid_bash() -> None:
    assert subprocess.run(["bash", "-n", str(DEVICE_SCRIPT)], capture_output=True).returncode == 0
    result = subprocess.run(["bash", str(DEVICE_SCRIPT), "2"], capture_output=True, text=True)
    assert result.returncode == 2 and "usage: bash bench/gpu_device.sh [all]" in result.stderr


def test_device_hook_is_the_builds_and_loads_at_start_up(tmp_path: Path) -> None:
    """The device has no ``pip install -e .``: its script writes the build's hook file into a bare
    interpreter's site-packages and puts the repository on PYTHONPATH; that loads the hook at start-up."""
    from plugins._build import PTH_NAME, write_hook

    assert "from plugins._build import PTH_LINE, write_hook" in DEVICE_SCRIPT.read_text(encoding="utf-8")
    installed = next(Path(p) / PTH_NAME for p in sys.path if (Path(p) / PTH_NAME).is_file())  # pip's editable build
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True)
    python = tmp_path / "bare" / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    written = write_hook(Path(purelib))
    assert written.read_bytes() == installed.read_bytes()
    check = "import sys; m = sys.modules.get('pii_factory_startup'); print(bool(m and m.installed()))"
    for pythonpath, loaded in ((str(REPO), "True"), ("", "False")):
        result = subprocess.run(
            [str(python), "-c", check],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": pythonpath},
        )
        assert result.stdout.strip() == loaded, result.stderr


def test_a_recipe_past_the_budget_is_skipped_before_any_work(tmp_path: Path) -> None:
    result = gpu.measure(
        gpu.RUNS[0],
        tmp_path / "work",
        tmp_path,
        steps=2,
        eval_samples=2,
        dry_run=True,
        gpu_mem_gb=None,
        timeout=60,
        deadline=time.monotonic() + gpu.MIN_START_S - 1,
    )
    assert result.status == "skipped" and "s of the budget left" in result.note
    assert not (tmp_path / "work").exists()


def test_wheel_pins_come_from_constraints() -> None:
    pins = dict(p.split("==") for p in gpu_wheels.pins())
    assert pins["transformers"] == "5.6.0" and pins["llamafactory"] == "0.9.5" and pins["bitsandbytes"] == "0.50.2"
    assert set(pins) == set(gpu_wheels.PACKAGES)


def test_bitsandbytes_is_slimmed_to_the_machines_cuda(tmp_path: Path) -> None:
    wheel = tmp_path / "bitsandbytes-0.50.2-py3-none-manylinux_2_24_x86_64.whl"
    files = {
        "bitsandbytes/__init__.py": b"x = 1\n",
        "bitsandbytes/libbitsandbytes_cuda130.so": b"a" * 10,
        "bitsandbytes/libbitsandbytes_cuda128.so": b"b" * 1000,
        "bitsandbytes/libbitsandbytes_cpu.so": b"c",
        "bitsandbytes/libbitsandbytes_rocm72.so": b"d" * 100,
    }
    with zipfile.ZipFile(wheel, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
        z.writestr("bitsandbytes-0.50.2.dist-info/RECORD", "".join(f"{n},,\n" for n in files))
    gpu_wheels.slim_bitsandbytes(wheel)
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        record = z.read("bitsandbytes-0.50.2.dist-info/RECORD").decode()
    kept = {
        "bitsandbytes/__init__.py",
        "bitsandbytes/libbitsandbytes_cuda130.so",
        "bitsandbytes/libbitsandbytes_cpu.so",
    }
    assert names == kept | {"bitsandbytes-0.50.2.dist-info/RECORD"}
    assert {line.split(",")[0] for line in record.splitlines()} == names
    assert f"bitsandbytes/libbitsandbytes_cuda130.so,{gpu_wheels._record_hash(b'a' * 10)},10" in record


def test_combine_merges_the_device_calls(tmp_path: Path) -> None:
    parts = []
    for index, recipe in enumerate(("qwen3_0.6b_lora", "qwen3_1.7b_lora")):
        result = gpu.Result(
            recipe, "m", "bf16 LoRA", train_live_gib=3.0, train_peak_gib=6.0, est_train_gib=4.8, est_overhead_gib=0.8
        )
        path = tmp_path / f"p{index}.json"
        path.write_text(json.dumps({"device": "NVIDIA H200, 140 GiB", "steps": 4, "results": [result.__dict__]}))
        parts.append(path)
    text = gpu.combine(parts, tmp_path).read_text(encoding="utf-8")
    assert "qwen3_0.6b_lora" in text and "qwen3_1.7b_lora" in text and "NVIDIA H200" in text
    assert "| 3.00 | 6.00 | 4.80 | 0.75 |" in text  # live 3.0 / (4.8 - 0.8); reserved 6.0 shown beside


def test_without_cuda_the_real_check_refuses_and_names_the_dry_run() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the real check would run")
    result = subprocess.run([*python_m(bench.gpu)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and "--dry-run" in result.stderr


@pytest.mark.slow
def test_dry_run_trains_every_recipe_and_reports(tmp_path: Path) -> None:
    """Every recipe the device runs, with tiny shapes on CPU: stock CLI with the probe, entity
    metrics, eval.predict, the preflight's estimates and the report."""
    out = tmp_path / "out"
    result = subprocess.run(
        [
            *python_m(bench.gpu),
            "--dry-run",
            "--steps",
            "2",
            "--eval-samples",
            "4",
            "--out",
            str(out),
            "--work",
            str(tmp_path / "work"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
        env={**_env(), "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((out / "gpu_results.json").read_text(encoding="utf-8"))
    by_recipe = {r["recipe"]: r for r in report["results"]}
    assert set(by_recipe) == {run.recipe for run in gpu.RUNS}
    assert (
        by_recipe["qwen4b_lora_unsloth"]["status"] == "skipped"
        and "unsloth" in by_recipe["qwen4b_lora_unsloth"]["note"]
    )
    assert by_recipe["qwen4b_lora_ds"]["status"] == "skipped"
    ran = [r for r in report["results"] if r["status"] == "ok"]
    assert {r["recipe"] for r in ran} == {"qwen3_0.6b_lora", "qwen3_1.7b_lora", "qwen4b_lora", "qwen2.5_3b_qlora_qa"}
    for r in ran:
        assert r["seconds_per_step"] > 0 and r["tokens_per_s"] > 0 and r["predict_samples_per_s"] > 0, r
        assert r["est_train_gib"] > 0 and r["tokens_per_row"] > 100, r  # rows near the 256-token cutoff
        assert (r["entity_f1"] is not None) == (r["recipe"] != "qwen2.5_3b_qlora_qa"), r  # the QA recipe has no block
    assert "QLoRA nf4 + focal + entity F1" in (out / "gpu_results.md").read_text(encoding="utf-8")
    assert result.stdout.strip().splitlines()[-1].startswith("qwen4b_lora_ds")  # the table is printed last


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
