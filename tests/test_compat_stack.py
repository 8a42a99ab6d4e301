"""The pack as a user installs it into a LLaMA-Factory environment they already train in
(``make test-compat``; docs/install.md): the built wheel, plain ``pip install`` into a fresh venv of
the common GPU stack (LLaMA-Factory 0.9.5, torch 2.8.0, transformers 4.57.1, pinned in
constraints-compat.txt). It replaces nothing of that stack, its start-up hook lands in
site-packages, and the stock ``llamafactory-cli train`` of a shipped recipe (shrunk for CPU) runs
with the plugin there: focal loss on, entity metrics in ``trainer_log.jsonl``; then the installed
``eval.predict`` and ``eval.score`` read what it trained. Every command runs outside the repo with
no ``PYTHONPATH``, so the wheel's files are the ones that run, never this checkout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import uv
import yaml

import eval.predict
import eval.score
from bench.fixtures import shrunk_for_cpu, write_alpaca_splits
from piifactory import lf_compat
from piifactory.child import python_m
from plugins._build import PTH_NAME
from plugins.preflight import load_recipe
from tests.conftest import REPO, run_cli
from workflows.command_table import COMMANDS

pytestmark = [pytest.mark.slow, pytest.mark.compat]

LOCK = REPO / "constraints-compat.txt"
USER_STACK = {
    "llamafactory": "0.9.5",
    "torch": "2.8.0",
    "torchaudio": "2.8.0",
    "torchvision": "0.23.0",
    "transformers": "4.57.1",
}
"""What the user's environment was made from; the lock gives everything beside it."""
RECIPE = REPO / "llamafactory_configs" / "qwen3_0.6b_lora.yaml"
STEPS = 20
ACTIVE = "pii_factory plugins active on rank 0"


def installed(python: Path) -> dict[str, str]:
    """``{normalized name: version}`` of every distribution in the environment of ``python``."""
    listing = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
    )
    return {row["name"].lower().replace("_", "-"): row["version"] for row in json.loads(listing.stdout)}


def checked(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.args, result.stdout[-2000:], result.stderr[-4000:])
    return result


@pytest.fixture(scope="module")
def outside_repo(tmp_path_factory: pytest.TempPathFactory):
    """A working folder outside the checkout and no ``PYTHONPATH``: only installed code is importable."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("PYTHONPATH", raising=False)
        yield tmp_path_factory.mktemp("user")


@pytest.fixture(scope="module")
def wheel(outside_repo: Path) -> Path:
    dist = outside_repo / "dist"
    checked(run_cli([uv.find_uv_bin(), "build", "--wheel", "--out-dir", str(dist), str(REPO)], cwd=outside_repo))
    (built,) = dist.glob("pii_factory-*.whl")
    return built


@pytest.fixture(scope="module")
def user_env(outside_repo: Path, wheel: Path) -> dict:
    """A fresh venv holding LLaMA-Factory on the common stack, then the wheel by plain pip."""
    venv = outside_repo / "venv"
    checked(run_cli([sys.executable, "-m", "venv", str(venv)], cwd=outside_repo))
    python = venv / "bin" / "python"
    stack = [f"{name}=={version}" for name, version in USER_STACK.items()]
    checked(
        run_cli(
            [uv.find_uv_bin(), "pip", "install", "--quiet", "--python", str(python), "-c", str(LOCK), *stack],
            cwd=outside_repo,
            timeout=1800,
        )
    )
    before = installed(python)
    report = outside_repo / "pip-report.json"
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--report", str(report), str(wheel)]
    checked(run_cli(pip, cwd=outside_repo))
    return {
        "python": python,
        "before": before,
        "after": installed(python),
        "report": json.loads(report.read_text(encoding="utf-8")),
    }


def test_the_user_env_is_the_common_stack(user_env: dict) -> None:
    assert {name: user_env["before"].get(name) for name in USER_STACK} == USER_STACK
    assert "pii-factory" not in user_env["before"]


def test_pip_install_of_the_wheel_replaces_nothing(user_env: dict) -> None:
    before, after = user_env["before"], user_env["after"]
    planned = {item["metadata"]["name"].lower().replace("_", "-") for item in user_env["report"]["install"]}
    assert "pii-factory" in planned
    assert sorted(planned & set(before)) == []  # pip planned no upgrade, downgrade or reinstall
    assert {name: after.get(name) for name in before} == before
    assert after["pii-factory"] == "0.1.0"
    checked(run_cli([str(user_env["python"]), "-m", "pip", "check", "--disable-pip-version-check"]))


def test_the_installed_pack_finds_llamafactorys_internals(user_env: dict, outside_repo: Path) -> None:
    result = checked(run_cli(python_m(lf_compat, python=user_env["python"]), cwd=outside_repo))
    assert f"llamafactory {lf_compat.PINNED_VERSION}: all {len(lf_compat.INTERNALS)} internals" in result.stdout


def test_the_wheel_carries_the_hook_the_data_and_the_command(user_env: dict, outside_repo: Path) -> None:
    probe = (
        "import json, sys, sysconfig, importlib.metadata as md; from pathlib import Path; "
        "import piifactory.models.llamacpp as llamacpp; "
        "print(json.dumps({"
        f"'pth': Path(sysconfig.get_paths()['purelib'], {PTH_NAME!r}).read_text(), "
        "'hook_ran': 'pii_factory_startup' in sys.modules, "
        "'pack': llamacpp.__file__, 'converter_pins': llamacpp.CONVERTER_REQUIREMENTS.is_file(), "
        "'scripts': [e.value for e in md.entry_points(group='console_scripts', name='pii-factory')]}))"
    )
    found = json.loads(checked(run_cli([str(user_env["python"]), "-c", probe], cwd=outside_repo)).stdout)
    venv = user_env["python"].parents[1]
    assert found["pth"] == "import pii_factory_startup\n" and found["hook_ran"] is True
    assert Path(found["pack"]).is_relative_to(venv) and found["converter_pins"] is True  # the wheel's copy
    assert found["scripts"] == ["workflows.pii_factory:main"]


def test_the_pii_factory_command_runs_from_the_wheel(user_env: dict, outside_repo: Path) -> None:
    command = str(user_env["python"].parent / "pii-factory")
    listing = checked(run_cli([command, "--help"], cwd=outside_repo)).stdout
    assert all(f"  {name} " in listing for name in COMMANDS), listing
    assert checked(run_cli([command, "--version"], cwd=outside_repo)).stdout.strip() == "pii-factory 0.1.0"


@pytest.fixture(scope="module")
def trained(user_env: dict, outside_repo: Path, tiny_model: Path) -> dict:
    """A shipped recipe, plugin block and all, shrunk to 20 CPU steps on the tiny model and run by the
    stock CLI of the user's environment."""
    data = write_alpaca_splits(outside_repo / "data", {"train": 2 * STEPS, "val": 8, "test": 8})
    out = outside_repo / "adapter"
    config = shrunk_for_cpu(
        load_recipe(RECIPE),
        tiny_model,
        data,
        out,
        steps=STEPS,
        dataset="pii_synth_train",
        eval_dataset="pii_synth_val",
        per_device_train_batch_size=2,
        per_device_eval_batch_size=4,
    )
    recipe = outside_repo / "train.yaml"
    recipe.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    cli = user_env["python"].parent / "llamafactory-cli"
    result = checked(run_cli([str(cli), "train", str(recipe)], cwd=outside_repo, timeout=1800))
    return {"recipe": recipe, "out": out, "output": result.stdout + result.stderr}


def test_stock_cli_trains_a_shipped_recipe_with_the_plugin(trained: dict) -> None:
    (active,) = [line for line in trained["output"].splitlines() if ACTIVE in line]
    assert "'focal_loss': {'gamma': 2.0" in active and "'entity_metrics': {'enabled': True" in active
    logged = [json.loads(line) for line in (trained["out"] / "trainer_log.jsonl").read_text().splitlines()]
    evaluations = [entry for entry in logged if "eval_entity_f1" in entry]
    assert [entry["current_steps"] for entry in evaluations] == [STEPS]
    assert {"eval_entity_precision", "eval_entity_recall"} <= set(evaluations[0])
    assert sum("loss" in entry for entry in logged) == STEPS
    assert (trained["out"] / "adapter_model.safetensors").is_file()


def test_installed_predict_and_score_read_the_run(user_env: dict, trained: dict, outside_repo: Path) -> None:
    predictions = outside_repo / "predictions.jsonl"
    predict = python_m(
        eval.predict,
        trained["recipe"],
        f"adapter_name_or_path={trained['out']}",
        "--dataset",
        "pii_synth_test",
        "--out",
        predictions,
        "--max-new-tokens",
        64,
        python=user_env["python"],
    )
    checked(run_cli(predict, cwd=outside_repo))
    rows = [json.loads(line) for line in predictions.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 8 and all(isinstance(row["predict"], str) for row in rows)
    score = python_m(eval.score, predictions, "--json", "--bootstrap", 0, python=user_env["python"])
    result = json.loads(checked(run_cli(score, cwd=outside_repo)).stdout)
    assert 0.0 <= result["micro"]["f1"] <= 1.0
