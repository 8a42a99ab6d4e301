"""The experiment runner's parts without training: the experiment file, overrides as LLaMA-Factory
reads them, Tune's space and scheduler, the trainer_log reader, the report from trial folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from eval.compare import samples_to_separate
from piifactory.io import InputError
from piifactory.recipe_file import apply_overrides
from tests.conftest import REPO
from workflows.experiments.__main__ import main
from workflows.experiments.report import pick_pair, summarize, trial_rows, write_report
from workflows.experiments.runner import param_space, pin_experiment_file, scheduler, search_algorithm
from workflows.experiments.spec import (
    Experiment,
    ExperimentError,
    check_recipes,
    load_experiment,
    override_arg,
    trial_overrides,
)
from workflows.experiments.trainer_log import LogTail, cut_log_at, evaluations
from workflows.experiments.trial import TrialFailed, TrialPlan, train_command, train_env, trial_label, write_outcome

AB = {
    "name": "ab",
    "recipe": "r.yaml",
    "variants": [{"name": "A"}, {"name": "B", "overrides": {"learning_rate": 1.0e-4}}],
    "metric": "entity_recall",
}


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        ({"variants": []}, "give variants"),
        ({"variants": [{"name": "A"}, {"name": "A"}]}, "variant names repeat"),
        ({"overrides": {"output_dir": "x"}}, "output_dir: set by the runner"),
        ({"metric": "accuracy"}, "metric"),
        ({"resources": {"gpus": 1.5}}, "whole number"),
        (
            {"search": {"algorithm": "grid", "space": {"learning_rate": {"uniform": [0, 1]}}}},
            "only grid axes; sampled: learning_rate",
        ),
        (
            {"search": {"algorithm": "optuna", "space": {"lora_rank": {"grid": [8, 16]}}}},
            "use choice instead of grid for lora_rank",
        ),
        ({"search": {"space": {"lora_rank": {"grid": [8], "choice": [16]}}}}, "exactly one of"),
        ({"scheduler": {"type": "asha", "grace": 1}}, "scheduler.grace"),
        ({"report": {"compare": ["A", "C"]}}, "report.compare names no variant: C"),
    ],
)
def test_bad_experiment_files_name_the_file_and_the_key(tmp_path: Path, change: dict, message: str) -> None:
    path = _write(tmp_path / "e.yaml", {**AB, **change})
    with pytest.raises(InputError) as error:
        load_experiment(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)


def test_experiment_defaults(tmp_path: Path) -> None:
    experiment = load_experiment(_write(tmp_path / "my_ab.yaml", {k: v for k, v in AB.items() if k != "name"}))
    assert experiment.name == "my_ab"
    assert (experiment.metric_key, experiment.metric_mode) == ("eval_entity_recall", "max")
    assert Experiment.model_validate({**AB, "metric": "loss"}).metric_mode == "min"
    assert trial_overrides(experiment, {"variant": "B"}) == ["learning_rate=0.0001"]


@pytest.mark.parametrize(
    "value", [0.0, 1.0e-5, 2.5e-3, 1e20, 3, True, False, None, "no", "a b", "it's", "1e-05", "saves/x"]
)
def test_override_values_read_back_the_same_by_llamafactory_and_the_recipe_reader(value) -> None:
    arg = override_arg("pii_factory.focal_loss.gamma", value)
    assert OmegaConf.to_container(OmegaConf.from_cli([arg])) == {"pii_factory": {"focal_loss": {"gamma": value}}}
    assert apply_overrides({}, [arg]) == {"pii_factory": {"focal_loss": {"gamma": value}}}
    with pytest.raises(ExperimentError):
        override_arg("x", [1, 2])


def test_tune_space_scheduler_and_search(tmp_path: Path) -> None:
    experiment = Experiment.model_validate(
        {
            **AB,
            "search": {
                "algorithm": "random",
                "samples": 3,
                "seed": 1,
                "space": {
                    "learning_rate": {"loguniform": [1.0e-5, 1.0e-3]},
                    "lora_rank": {"grid": [8, 16]},
                    "warmup_ratio": {"choice": [0.0, 0.1]},
                },
            },
            "scheduler": {"type": "median", "time_attr": "step"},
        }
    )
    space = param_space(experiment)
    assert space["variant"] == {"grid_search": ["A", "B"]} and space["lora_rank"] == {"grid_search": [8, 16]}
    assert 1e-5 <= space["learning_rate"].sample() <= 1e-3 and space["warmup_ratio"].sample() in (0.0, 0.1)
    assert type(scheduler(experiment)).__name__ == "MedianStoppingRule"
    asha = scheduler(Experiment.model_validate({**AB, "scheduler": {"type": "asha", "grace_period": 1, "max_t": 8}}))
    assert type(asha).__name__ == "AsyncHyperBandScheduler"
    assert type(search_algorithm(experiment)).__name__ == "BasicVariantGenerator"
    optuna = Experiment.model_validate(
        {**AB, "search": {"algorithm": "optuna", "space": {"learning_rate": {"uniform": [0, 1]}}}}
    )
    assert type(search_algorithm(optuna)).__name__ == "OptunaSearch"
    assert trial_label(experiment, {"variant": "A"}, "abc_00001") == "A-abc_00001"
    assert trial_label(Experiment.model_validate(AB), {"variant": "A"}, "abc_00001") == "A"


def test_recipes_are_checked_before_ray_starts(tmp_path: Path) -> None:
    recipe = {"eval_strategy": "steps", "pii_factory": {"entity_metrics": {}}}
    _write(tmp_path / "r.yaml", recipe)
    check_recipes(Experiment.model_validate(AB), tmp_path)
    for broken, message in (
        (recipe | {"eval_strategy": "no"}, "eval_strategy is off"),
        ({"eval_strategy": "steps"}, "needs the pii_factory.entity_metrics block"),
        (recipe | {"use_ray": True}, "drop it"),
    ):
        _write(tmp_path / "r.yaml", broken)
        with pytest.raises(ExperimentError, match=message) as error:
            check_recipes(Experiment.model_validate(AB), tmp_path)
        assert "r.yaml (variant A)" in str(error.value)
    (tmp_path / "r.yaml").write_text("a: [1\n")
    with pytest.raises(InputError, match=r"r.yaml:2"):
        check_recipes(Experiment.model_validate(AB), tmp_path)


def _lines(*entries: dict) -> str:
    return "".join(json.dumps(e) + "\n" for e in entries)


def test_trainer_log_tail_waits_for_whole_lines_and_one_evaluation_per_step(tmp_path: Path) -> None:
    log = tmp_path / "trainer_log.jsonl"
    log.write_text(_lines({"current_steps": 1, "loss": 3.0}) + '{"current_steps": 2, "lo')
    tail = LogTail(log)
    assert tail.read() == [{"current_steps": 1, "loss": 3.0}]
    with open(log, "a") as handle:
        handle.write(
            'ss": 2.0}\n'
            + _lines(
                {"current_steps": 2, "eval_loss": 2.5, "epoch": 0.5, "total_steps": 4},
                {"current_steps": 4, "eval_loss": 2.0, "epoch": 1.0},
                {"current_steps": 4, "eval_loss": 1.9, "epoch": 1.0},
            )
        )
    entries = tail.read()
    assert [e["current_steps"] for e in entries] == [2, 2, 4, 4]
    results = evaluations([{"current_steps": 1, "loss": 3.0}, *entries], "eval_loss")
    assert results == [
        {"eval_loss": 2.5, "step": 2, "epoch": 0.5, "total_steps": 4, "loss": 2.0},
        {"eval_loss": 2.0, "step": 4, "epoch": 1.0, "total_steps": None, "loss": 2.0},
    ]
    assert [e["current_steps"] for e in cut_log_at(tmp_path, 2)] == [1, 2, 2]
    assert [json.loads(line)["current_steps"] for line in log.read_text().splitlines()] == [1, 2, 2]


def _trial(runs: Path, label: str, config: dict, state: str | None, losses: dict[int, float], start: float) -> None:
    run = runs / label
    run.mkdir(parents=True)
    (run / "trial.json").write_text(json.dumps({"label": label, "config": config, "attempts": [{"start": start}]}))
    (run / "trainer_log.jsonl").write_text(
        _lines(*({"current_steps": s, "eval_loss": v, "epoch": s / 10} for s, v in losses.items()))
    )
    if state:
        write_outcome(run, state)


def test_report_from_trial_folders(tmp_path: Path) -> None:
    experiment = Experiment.model_validate({**AB, "metric": "loss", "variants": [*AB["variants"], {"name": "C"}]})
    plan = TrialPlan(experiment, tmp_path, tmp_path / "runs")
    _trial(plan.runs_dir, "B", {"variant": "B"}, "finished", {3: 2.0, 6: 1.5, 9: 1.6}, 2.0)
    _trial(plan.runs_dir, "A", {"variant": "A"}, "stopped early", {3: 2.5}, 1.0)
    _trial(plan.runs_dir, "C", {"variant": "C"}, None, {3: 2.2, 6: 1.7}, 3.0)
    summaries = summarize(plan)
    assert [(s.label, s.state, s.best["step"]) for s in summaries] == [
        ("A", "stopped early", 3),
        ("B", "finished", 6),
        ("C", "interrupted", 6),
    ]
    rows = trial_rows(plan, summaries)
    assert rows[1][:3] == ["B", "`B: learning_rate=0.0001`", "1.5"] and rows[1][6] == "6"
    assert [s.label for s in pick_pair(experiment, summaries)] == ["B", "C"]  # the two best
    assert [
        s.label
        for s in pick_pair(
            Experiment.model_validate({**experiment.model_dump(), "report": {"compare": ["C", "A"]}}), summaries
        )
    ] == ["C", "A"]
    path = write_report(plan, tmp_path / "report")  # no test dataset: no comparison
    text = path.read_text()
    assert "| C |" in text and "interrupted" in text and "A/B" not in text
    assert (tmp_path / "report/metric.png").stat().st_size > 1000


def test_samples_needed_to_separate_a_difference() -> None:
    assert samples_to_separate(0.02, [-0.02, 0.06], 500) == 2000  # half-width 0.04 = 2 x delta -> 4 x samples
    assert samples_to_separate(0.05, [0.01, 0.09], 500) == 500
    assert samples_to_separate(0.0, [-0.01, 0.01], 500) is None


def test_cli_reports_a_bad_file_in_one_line_and_refuses_a_changed_experiment(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path / "e.yaml", {**AB, "metric": "accuracy"})
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: metric") and "Traceback" not in err
    path = _write(tmp_path / "e.yaml", AB)
    pin_experiment_file(path, tmp_path / "exp")
    pin_experiment_file(path, tmp_path / "exp")  # the same file resumes
    _write(path, {**AB, "metric": "entity_f1"})
    with pytest.raises(ExperimentError, match="changed since this experiment started"):
        pin_experiment_file(path, tmp_path / "exp")


@pytest.mark.parametrize(
    "path", sorted((REPO / "llamafactory_configs/experiments").glob("*.yaml")), ids=lambda p: p.name
)
def test_shipped_experiments_load_and_their_recipes_pass_the_checks(path: Path) -> None:
    experiment = load_experiment(path)
    check_recipes(experiment, REPO)
    assert experiment.report.dataset


def test_trial_command_and_environment(tmp_path: Path) -> None:
    experiment = Experiment.model_validate({**AB, "overrides": {"eval_strategy": "no"}})
    plan = TrialPlan(experiment, tmp_path, tmp_path / "runs")
    argv = train_command(plan, {"variant": "B"}, tmp_path / "runs/B", str(tmp_path / "runs/B/checkpoint-6"))
    assert argv[1:] == [
        "train",
        "r.yaml",
        "eval_strategy='no'",
        "learning_rate=0.0001",
        f"output_dir='{tmp_path}/runs/B'",
        "overwrite_output_dir=false",
        f"resume_from_checkpoint='{tmp_path}/runs/B/checkpoint-6'",
    ]
    assert Path(argv[0]).name == "llamafactory-cli"
    assert train_env(plan)["CUDA_VISIBLE_DEVICES"] == ""  # a CPU trial never touches a GPU another trial holds
    two = TrialPlan(Experiment.model_validate({**AB, "resources": {"gpus": 2}}), tmp_path, tmp_path / "runs")
    assert {k: train_env(two)[k] for k in ("FORCE_TORCHRUN", "NPROC_PER_NODE")} == {
        "FORCE_TORCHRUN": "1",
        "NPROC_PER_NODE": "2",
    }
    with pytest.raises(TrialFailed, match="spaces"):
        train_command(two, {"variant": "A"}, tmp_path / "runs/with space", None)


def test_checkpoint_prefix_is_transformers_own() -> None:
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    from plugins.activation import CHECKPOINT_PREFIX

    assert CHECKPOINT_PREFIX == PREFIX_CHECKPOINT_DIR


def test_the_runner_imports_neither_torch_nor_transformers() -> None:
    """The driver holds no model: importing them would cost it ~700 MB (its peak is a bench row)."""
    import subprocess
    import sys

    code = (
        "import sys, workflows.experiments.runner, workflows.experiments.report, workflows.experiments.trial, "
        "workflows.experiments.progress; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )
