"""The shipped recall-levers CPU study, shrunk to a smoke: its own file with every prepare step,
variant and arm, but a few samples, two training steps, one seed and a short test split, run by
``python -m workflows.experiments run`` in a scratch folder. Checks that the file runs end to end
and that the report holds the study table with every arm; the study's figures are not checked
(docs/recall-levers.md is the benchmark)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import workflows.experiments
from piifactory.child import python_m
from tests.conftest import REPO

pytestmark = pytest.mark.slow
STUDY = REPO / "llamafactory_configs/experiments/recall_levers_cpu.yaml"
SMALL_N = {"10000": 200, "6000": 100, "400": 6, "100": 3}  # synth --n -> smoke size (validation splits of 4-5)
TWO_STEPS = {"max_steps": 2, "eval_steps": 1, "save_steps": 1}


def _shrunk(root: Path, tiny_model: Path) -> Path:
    data = yaml.safe_load(STUDY.read_text(encoding="utf-8"))
    for step in data["prepare"]:
        args = step.get("synth") or step.get("train") or []
        for index, arg in enumerate(args):
            if arg == "--n":
                args[index + 1] = SMALL_N[str(args[index + 1])]
            elif isinstance(arg, str) and arg.split("=")[0] in ("max_steps", "eval_steps", "save_steps"):
                args[index] = f"{arg.split('=')[0]}=2"
    data["overrides"].update(TWO_STEPS)
    data["overrides"]["pii_factory.entity_metrics.eval_samples"] = 4
    data["seeds"] = data["seeds"][:1]
    data["report"].update(limit=6, max_new_tokens=48, bootstrap=100)
    recipe = yaml.safe_load((REPO / data["recipe"]).read_text(encoding="utf-8"))
    recipe["model_name_or_path"] = str(tiny_model)
    (root / "llamafactory_configs").mkdir()
    (root / data["recipe"]).write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    (root / "dataset_info.json").write_text("{}", encoding="utf-8")
    path = root / "recall_levers_cpu.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_the_recall_levers_study_file_runs_as_a_two_step_smoke(tiny_model: Path, tmp_path: Path) -> None:
    path = _shrunk(tmp_path, tiny_model)
    command = [*python_m(workflows.experiments), "run", path.name, "--num-cpus", "2"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=3000)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    exp = tmp_path / "outputs/experiments/recall_levers_cpu"
    assert {p.name for p in (exp / "prepare").glob("*.done")} == {f"{i}.done" for i in range(1, 11)}
    study = json.loads((exp / "report/study.json").read_text(encoding="utf-8"))
    arms = {a["name"]: a for a in study["arms"]}
    expected = {"baseline", "focal_g2", "entity_w3", "oversample_x2", "neg_ratio_0.5", "combination"}
    expected |= {"checkpoint_f2", "dial_f2", "rules_both", "second_look", "combination_all"}
    assert set(arms) == expected
    assert not [name for name, arm in arms.items() if arm["error"]], study
    assert all(set(arm["pooled"]) >= {"precision", "recall", "f1"} for arm in arms.values())
    assert all("recall" in arm["deltas"] for name, arm in arms.items() if name != "baseline")
    assert (exp / "report/arms/dial_f2/seed1/op.json").is_file()
    readme = (exp / "report/README.md").read_text(encoding="utf-8")
    table = [line for line in readme.splitlines() if line.startswith("| `")]
    assert table[0].startswith("| `baseline` |") and len(table) == len(expected)
    assert (exp / "report/pr.png").stat().st_size > 1000
    shutil.rmtree(tmp_path / "outputs")  # checkpoints of seven trainings
