"""The export's argument handling, without the llama.cpp build: what is merged, and the one-line
errors (exit 2) for options that cannot work together."""

from __future__ import annotations

from pathlib import Path

from eval import predict
from tests.conftest import REPO
from workflows.export.__main__ import main
from workflows.export.gguf import merge_config

QA_RECIPE = REPO / "llamafactory_configs/qwen2.5_3b_qlora_qa.yaml"


def test_a_qlora_recipe_merges_into_the_unquantised_base() -> None:
    from eval.detection.inference_args import load_recipe

    recipe = load_recipe(QA_RECIPE, ["adapter_name_or_path=saves/qa"])
    config = merge_config(recipe, Path("out/hf"))
    assert "quantization_bit" not in config and config["adapter_name_or_path"] == "saves/qa"
    assert config["template"] == "qwen" and config["export_dir"] == "out/hf" and config["export_device"] == "cpu"


def test_modelfile_quant_must_be_exported(tmp_path: Path, capsys) -> None:
    code = main(["gguf", str(QA_RECIPE), "--out", str(tmp_path), "--quant", "f16", "--modelfile-quant", "q8_0"])
    assert code == 2 and "--modelfile-quant q8_0 is not among --quant f16" in capsys.readouterr().err


def test_predict_llamacpp_needs_a_gguf(tmp_path: Path, capsys) -> None:
    code = predict.main([str(QA_RECIPE), "--backend", "llamacpp", "--out", str(tmp_path / "p.jsonl")])
    assert code == 2 and "--backend llamacpp needs --gguf" in capsys.readouterr().err


def test_a_native_build_with_other_cmake_options_is_not_reused(tmp_path) -> None:
    """The stamp of the llama.cpp build names its CMake options: the earlier -march=native cache
    (whose q8_0 kernels died with SIGILL here) is rebuilt, not reused."""
    from piifactory.models.llamacpp import NATIVE_BUILD_ID, Toolchain

    tools = Toolchain(tmp_path)
    (tmp_path / ".source.done").write_text("1")
    (tmp_path / ".convert.done").write_text("1")
    (tmp_path / ".native.done").write_text("1")  # a stamp written before the options were part of it
    assert not tools.ready()
    assert tools.stamp("native").name == f".native-{NATIVE_BUILD_ID}.done"
    tools.stamp("native").write_text("1")
    assert tools.ready()


def test_the_llama_cpp_build_goes_to_the_repositorys_cache(monkeypatch) -> None:
    """`make test` and `make clean` name .cache/ at the repository root: the build must land there."""
    from piifactory.models import llamacpp

    monkeypatch.delenv("PII_LLAMACPP_DIR", raising=False)
    assert llamacpp.cache_root() == REPO / ".cache" / f"llama.cpp-{llamacpp.VERSION}"
