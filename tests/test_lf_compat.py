"""The one seam to LLaMA-Factory: its version pin, its shape checks, and that nothing else crosses it."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from piifactory import lf_compat
from piifactory.lf_compat import ChangedInternalsError, Internal, UnsupportedVersionError
from tests.conftest import REPO

PACK_SOURCES = [
    *(REPO / d for d in ("plugins", "eval", "piifactory", "bench", "converters")),
    REPO / "pii_factory_startup.py",
]


def test_every_internal_has_the_expected_shape_in_the_pinned_version() -> None:
    assert lf_compat.installed_version() == lf_compat.PINNED_VERSION
    for internal in lf_compat.INTERNALS:
        assert internal.get() is getattr(internal.host(), internal.name), internal.target
    assert lf_compat.infer_arg_fields() >= {"model_name_or_path", "template", "cutoff_len", "adapter_name_or_path"}
    assert lf_compat.board_stage_names()["sft"] == "Supervised Fine-Tuning"


def test_a_changed_function_is_named_with_the_pinned_version(monkeypatch) -> None:
    from llamafactory.data import loader

    def moved(data_args, stage, template, tokenizer):  # lost `processor` and `do_generate`
        raise AssertionError("never called")

    monkeypatch.setattr(loader, "_get_dataset_processor", moved)
    with pytest.raises(ChangedInternalsError) as info:
        lf_compat.dataset_processor(None, "sft", None, None, None, do_generate=True)
    message = str(info.value)
    assert message.startswith("llamafactory.data.loader._get_dataset_processor: no parameter processor, do_generate")
    assert "written for llamafactory 0.9.5" in message and "piifactory/lf_compat.py" in message
    monkeypatch.delattr(loader, "_get_dataset_processor")
    with pytest.raises(ChangedInternalsError, match=r"loader\._get_dataset_processor: no such name"):
        lf_compat.dataset_processor(None, "sft", None, None, None)


def test_changed_values_classes_and_modules_are_refused(monkeypatch) -> None:
    from llamafactory.hparams import parser
    from llamafactory.train.sft import workflow

    monkeypatch.setattr(parser, "_INFER_ARGS", ("ModelArguments",))
    with pytest.raises(ChangedInternalsError, match=r"parser\._INFER_ARGS: expected a list, found tuple"):
        lf_compat.infer_arg_fields()
    monkeypatch.setattr(workflow, "CustomSeq2SeqTrainer", type("Trainer", (), {"__init__": lambda self, **kw: None}))
    with pytest.raises(ChangedInternalsError, match=r"CustomSeq2SeqTrainer: no parameter finetuning_args, processor"):
        with lf_compat.sft_trainer_replaced(lambda stock: stock):
            pass
    with pytest.raises(ChangedInternalsError, match=r"llamafactory\.gone\.run_exp: module cannot be imported"):
        Internal("llamafactory.gone", "run_exp").get()


def test_a_run_with_the_block_stops_before_training_when_the_trainer_moved(monkeypatch) -> None:
    """Checked when the run starts, not as an AttributeError once the model is loaded."""
    from llamafactory.train.sft import workflow

    from plugins.activation import with_plugins

    calls = []
    monkeypatch.delattr(workflow, "CustomSeq2SeqTrainer")
    run_exp = with_plugins(lambda args, callbacks: calls.append(args))
    with pytest.raises(ChangedInternalsError, match="CustomSeq2SeqTrainer: no such name"):
        run_exp({"stage": "sft", "pii_factory": {"focal_loss": {}, "preflight": {"mode": "off"}}})
    assert calls == []


def test_a_moved_run_exp_leaves_training_stock_with_a_warning(capsys) -> None:
    from types import ModuleType

    from plugins.activation import patch_tuner

    tuner = ModuleType("llamafactory.train.tuner")
    tuner.run_exp = lambda args=None: None  # lost the callbacks parameter
    stock = tuner.run_exp
    patch_tuner(tuner)
    assert tuner.run_exp is stock
    assert (
        "pii_factory plugins off: llamafactory.train.tuner.run_exp: no parameter callbacks" in capsys.readouterr().err
    )
    tuner.run_exp = lambda args=None, callbacks=None: None
    patch_tuner(tuner)
    patch_tuner(tuner)  # once: the second call finds it wrapped
    assert tuner.run_exp.pii_factory_wrapped and tuner.run_exp.__wrapped__.__name__ == "<lambda>"


def test_predict_and_the_board_check_the_version(monkeypatch, tmp_path, capsys) -> None:
    from llamafactory.extras import env

    from eval.predict import main
    from workflows.board import BoardSettings, prepare

    monkeypatch.setattr(env, "VERSION", "0.9.6")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model_name_or_path: m\ntemplate: qwen3\neval_dataset: x\n", encoding="utf-8")
    assert main([str(recipe), "--out", str(tmp_path / "p.jsonl")]) == 2
    assert "python -m eval.predict: written for llamafactory 0.9.5 only; found 0.9.6" in capsys.readouterr().err
    (tmp_path / "dataset_info.json").write_text("{}", encoding="utf-8")
    with pytest.raises(UnsupportedVersionError, match="LLaMA-Board launcher: written for llamafactory 0.9.5"):
        prepare(BoardSettings(root=tmp_path))


def _lf_private_names() -> set[str]:
    """Every ``_name`` (not dunder) LLaMA-Factory defines: functions, classes, assignments, attributes."""
    import llamafactory

    names = set()
    for path in Path(llamafactory.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
    return {name for name in names if name.startswith("_") and not name.endswith("__")}


def _pack_files() -> list[Path]:
    files = [p for root in PACK_SOURCES for p in ([root] if root.is_file() else sorted(root.rglob("*.py")))]
    return [p for p in files if p != REPO / "piifactory" / "lf_compat.py"]


def _own_names(trees: list[ast.AST]) -> set[str]:
    """Names the pack defines itself (its own ``_helpers`` may share a name with LLaMA-Factory's)."""
    own = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                own.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                own.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                own.add(node.attr)
            elif isinstance(node, ast.arg):
                own.add(node.arg)
    return own


def crossings(path: Path, tree: ast.AST, private: set[str]) -> list[str]:
    """Where ``tree`` reaches a private LLaMA-Factory name or patches a LLaMA-Factory object."""
    found, bound = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "llamafactory":
            for alias in node.names:
                bound.add(alias.asname or alias.name)
                if alias.name.startswith("_") or any(part.startswith("_") for part in node.module.split(".")):
                    found.append(f"{path}:{node.lineno}: from {node.module} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "llamafactory":
                    bound.add((alias.asname or alias.name).split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in private:
            found.append(f"{path}:{node.lineno}: .{node.attr}")
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AugAssign) else []
        )
        for target in targets:
            root = target
            while isinstance(root, (ast.Attribute, ast.Subscript)):
                root = root.value
            if target is not root and isinstance(root, ast.Name) and root.id in bound:
                found.append(f"{path}:{node.lineno}: assigns into llamafactory's {ast.unparse(target)}")
    return found


def test_only_lf_compat_reaches_llamafactory_internals() -> None:
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in _pack_files()}
    private = _lf_private_names() - _own_names(list(trees.values()))
    assert {"_get_dataset_processor", "_load_single_dataset", "_INFER_ARGS", "_write_log"} <= private
    problems = [line for path, tree in trees.items() for line in crossings(path.relative_to(REPO), tree, private)]
    assert problems == [], "go through piifactory/lf_compat.py:\n" + "\n".join(problems)


def test_the_crossing_check_finds_each_kind() -> None:
    source = inspect.cleandoc("""
        from llamafactory.data.loader import _load_single_dataset
        from llamafactory.extras import constants
        from llamafactory.train import callbacks
        constants.SUPPORTED_MODELS["x"] = {}
        callbacks.LogCallback._write_log = print
    """)
    found = crossings(Path("x.py"), ast.parse(source), {"_write_log"})
    assert sorted(found) == [
        "x.py:1: from llamafactory.data.loader import _load_single_dataset",
        "x.py:4: assigns into llamafactory's constants.SUPPORTED_MODELS['x']",
        "x.py:5: ._write_log",
        "x.py:5: assigns into llamafactory's callbacks.LogCallback._write_log",
    ]


def test_an_extra_callback_reaches_every_run(monkeypatch) -> None:
    from llamafactory.train import tuner

    calls = []
    monkeypatch.setattr(tuner, "run_exp", lambda args=None, callbacks=None: calls.append((args, callbacks)))
    lf_compat.add_run_callback("probe")
    tuner.run_exp({"stage": "sft"}, ["log"])
    tuner.run_exp()
    assert calls == [({"stage": "sft"}, ["log", "probe"]), (None, ["probe"])]
