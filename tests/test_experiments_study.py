"""The experiment runner's study parts without training: seeds, prepare steps, prediction-only
arms, the checkpoint an arm picks, and the study table pooled over seeds against the baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from piifactory.io import InputError
from tests.conftest import REPO
from workflows.experiments import study
from workflows.experiments.prepare import prepare, step_command, step_env
from workflows.experiments.report import summarize
from workflows.experiments.runner import param_space
from workflows.experiments.spec import Experiment, load_experiment, trial_overrides
from workflows.experiments.trial import TrialPlan, trial_label, write_outcome

STUDY = {
    "name": "study",
    "recipe": "r.yaml",
    "seeds": [1, 2],
    "variants": [{"name": "base"}, {"name": "focal", "overrides": {"pii_factory.focal_loss.gamma": 2.0}}],
    "metric": "loss",
    "report": {
        "dataset": "test",
        "baseline": "base",
        "bootstrap": 200,
        "arms": [
            {"name": "rules", "variant": "base", "predict": ["--rules", "both"]},
            {"name": "by_f2", "variant": "base", "checkpoint": "entity_f2"},
        ],
    },
}


def test_seeds_repeat_every_variant_under_readable_labels() -> None:
    experiment = Experiment.model_validate(STUDY)
    space = param_space(experiment)
    assert space["seed"] == {"grid_search": [1, 2]} and space["variant"] == {"grid_search": ["base", "focal"]}
    config = {"variant": "focal", "seed": 2}
    assert trial_label(experiment, config, "t0") == "focal-seed2"
    assert trial_overrides(experiment, config) == ["pii_factory.focal_loss.gamma=2.0", "seed=2"]
    assert [a.name for a in study.all_arms(experiment)] == ["base", "focal", "rules", "by_f2"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"report": {"dataset": "t", "arms": [{"name": "x", "variant": "base"}]}}, "compared with report.baseline"),
        ({"report": {"baseline": "nope"}}, "report.baseline names no variant: nope"),
        ({"report": {"baseline": "base", "arms": [{"name": "x", "variant": "nope"}]}}, "report.arms name no variant"),
        ({"report": {"baseline": "base", "arms": [{"name": "focal", "variant": "base"}]}}, "clash"),
        ({"seeds": [1, 1]}, "seeds repeat"),
        ({"prepare": [{"synth": ["--n", 3], "convert": ["x"]}]}, "exactly one of synth, convert, train"),
        ({"prepare": [{"synth": ["--n", 3], "processes": 2}]}, "processes applies to a train step only"),
    ],
)
def test_bad_study_files_say_what_is_wrong(tmp_path: Path, change: dict, message: str) -> None:
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump({**STUDY, **change}), encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_experiment(path)


def test_prepare_runs_each_step_once_and_again_from_a_changed_one_on(tmp_path: Path) -> None:
    def steps(n: int) -> list:
        first = {"synth": ["--n", n, "--seed", 0, "--out", "data/a.jsonl"]}
        second = {"convert": ["data/a.jsonl", "--name", "a", "--out-dir", "data", "--split", "1,0,0", "--no-progress"]}
        return Experiment.model_validate({**STUDY, "prepare": [first, second]}).prepare

    prepare(steps(3), tmp_path, tmp_path / "exp")
    made, converted = tmp_path / "data/a.jsonl", tmp_path / "data/a.json"
    assert len(made.read_text(encoding="utf-8").splitlines()) == 3 and len(json.loads(converted.read_text())) == 3
    made.unlink()
    prepare(steps(3), tmp_path, tmp_path / "exp")  # done: not made again
    assert not made.exists()
    prepare(steps(4), tmp_path, tmp_path / "exp")  # the first changed: the second reads its output again
    assert len(made.read_text(encoding="utf-8").splitlines()) == 4 and len(json.loads(converted.read_text())) == 4
    train = Experiment.model_validate({**STUDY, "prepare": [{"train": ["r.yaml", "max_steps=2"], "processes": 2}]})
    step = train.prepare[0]
    assert step_command(step)[-3:] == ["train", "r.yaml", "max_steps=2"]
    env = step_env(step)
    assert env["FORCE_TORCHRUN"] == "1" and env["NPROC_PER_NODE"] == "2" and env["OMP_NUM_THREADS"] == "1"


def test_a_failing_prepare_step_stops_with_its_log(tmp_path: Path) -> None:
    experiment = Experiment.model_validate({**STUDY, "prepare": [{"convert": ["no/such/file.jsonl", "--name", "x"]}]})
    with pytest.raises(Exception, match=r"prepare step 1 \(convert\) failed"):
        prepare(experiment.prepare, tmp_path, tmp_path / "exp")
    assert not (tmp_path / "exp/prepare/1.done").exists()


def _trial(runs: Path, label: str, config: dict, evals: dict[int, dict], start: float, seconds: float) -> None:
    run = runs / label
    run.mkdir(parents=True)
    (run / "trial.json").write_text(json.dumps({"label": label, "config": config, "attempts": [{"start": start}]}))
    lines = []  # as LLaMA-Factory and the plugin write them: the entity metrics on a line of their own
    for step, metrics in evals.items():
        entity = {k: v for k, v in metrics.items() if k.startswith("eval_entity")}
        lines.append(json.dumps({"current_steps": step, **entity}))
        lines.append(json.dumps({"current_steps": step, "eval_loss": metrics["eval_loss"]}))
    (run / "trainer_log.jsonl").write_text("\n".join(lines) + "\n")
    for step in evals:
        (run / f"checkpoint-{step}").mkdir()
        (run / f"checkpoint-{step}/trainer_state.json").write_text("{}")
    write_outcome(run, "finished")
    outcome = json.loads((run / "outcome.json").read_text())
    (run / "outcome.json").write_text(json.dumps({**outcome, "end": start + seconds}))


EVALS = {
    100: {"eval_loss": 1.0, "eval_entity_f2": 0.5},
    200: {"eval_loss": 0.8, "eval_entity_f2": 0.6},
    300: {"eval_loss": 0.9, "eval_entity_f2": 0.7},
}


def _row(text: str, gold: list[str], found: list[str]) -> str:
    answer = lambda values: json.dumps({"entities": [{"type": "PHONE", "value": v} for v in values]})  # noqa: E731
    prompt = f"<|im_start|>user\n找出个人信息。\n{text}<|im_end|>\n<|im_start|>assistant\n"
    return json.dumps({"prompt": prompt, "label": answer(gold), "predict": answer(found)}, ensure_ascii=False)


def test_study_predicts_every_arm_per_seed_and_pools_them_against_the_baseline(tmp_path: Path, monkeypatch) -> None:
    experiment = Experiment.model_validate(STUDY)
    plan = TrialPlan(experiment, tmp_path, tmp_path / "runs")
    for index, (variant, seed) in enumerate([(v, s) for v in ("base", "focal") for s in (1, 2)]):
        _trial(
            plan.runs_dir,
            f"{variant}-seed{seed}",
            {"variant": variant, "seed": seed},
            EVALS,
            index,
            100 + 50 * (variant == "focal"),
        )
    summaries = summarize(plan)
    todo, missing = study.jobs(plan, summaries, tmp_path / "report")
    assert missing == [] and len(todo) == 8
    by_f2 = {j.seed: j.model_dir.name for j in todo if j.arm == "by_f2"}
    plain = {j.seed: j.model_dir.name for j in todo if j.arm == "base"}
    assert by_f2 == {1: "checkpoint-300", 2: "checkpoint-300"}  # the best F2, not the best loss (200)
    assert [j.predict for j in todo if j.arm == "rules"] == [["--rules", "both"]] * 2 and plain[1] == "checkpoint-200"
    texts = [f"电话 1380000000{i}" for i in range(40)]
    found_by_arm = {"base": 20, "focal": 30, "rules": 40, "by_f2": 20}  # entities each arm finds of the 40

    def fake_run_jobs(plan, summaries, jobs):
        out = {}
        for job in jobs:
            job.out_dir.mkdir(parents=True, exist_ok=True)
            rows = [_row(t, [t[3:]], [t[3:]] if i < found_by_arm[job.arm] else []) for i, t in enumerate(texts)]
            job.predictions.write_text("\n".join(rows) + "\n", encoding="utf-8")
            out[(job.arm, job.seed)] = {"predict_s": 10.0 + 5 * (job.arm == "rules")}
        return out

    monkeypatch.setattr(study, "run_jobs", fake_run_jobs)
    result = study.evaluate(plan, summaries, tmp_path / "report")
    arms = {a["name"]: a for a in result["arms"]}
    assert arms["base"]["pooled"]["recall"] == 0.5 and arms["base"]["pooled"]["precision"] == 1.0
    assert arms["focal"]["deltas"]["recall"]["delta"] == pytest.approx(0.25)
    assert arms["focal"]["deltas"]["recall"]["ci"][0] > 0  # 80 paired units: separated
    assert arms["by_f2"]["deltas"]["recall"]["delta"] == 0
    assert arms["focal"]["train_s"] == 150 and arms["rules"]["train_s"] == 100  # an arm trains nothing of its own
    text = study.table(result)
    lines = text.splitlines()
    assert lines[2].startswith("| `base` | 100.0 | 50.0 | 66.7 |")
    focal = next(line for line in lines if line.startswith("| `focal`"))
    assert "+25.0 [" in focal and "| 150 | +50 |" in focal
    rules = next(line for line in lines if line.startswith("| `rules`"))
    assert "| 100 | +0 | 15 | +5 |" in rules
    assert study.plot(result, tmp_path / "pr.png").stat().st_size > 1000
    assert json.loads((tmp_path / "report/study.json").read_text())["baseline"] == "base"


@pytest.mark.parametrize("name", ["recall_levers_cpu.yaml", "recall_levers_qwen3_0.6b.yaml"])
def test_the_recall_study_files_compare_every_lever_with_the_baseline(name: str) -> None:
    experiment = load_experiment(REPO / "llamafactory_configs/experiments" / name)
    assert experiment.seeds == [1, 2, 3] and experiment.report.baseline == "baseline"
    arms = {a.name for a in study.all_arms(experiment)}
    assert len(arms) >= 10  # baseline, 5 trained levers + combination, 4 prediction levers + combination
