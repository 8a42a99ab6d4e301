"""Quantised GGUFs run on this CPU and stay close to f16: q8_0 and q4_k_m files made by the pack's
llama.cpp build load and evaluate in a fresh process (a build that uses instructions the machine
may not run dies there with SIGILL, as the earlier -march=native build did for q8_0 on a Xeon that
advertises AMX), and q8_0's next-token choices match f16's on the tiny model.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import workflows.export
from piifactory.child import python_m
from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.slow

# Runs in its own process so an illegal instruction is a failed run, not a dead test session.
EVALUATE = """
import json, sys
from piifactory.models.llamacpp import bindings
llama_cpp = bindings()
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=256, n_threads=2, verbose=False)
ids = llm.tokenize("客户张伟的手机号是13812345678，请回电。".encode(), add_bos=False, special=False)
llm.eval(ids)
print(json.dumps([max(range(len(row)), key=row.__getitem__) for row in llm.scores[: len(ids)].tolist()]))
"""


def test_quantised_ggufs_run_here_and_q8_0_follows_f16(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "gguf"
    result = run_cli(
        [
            *python_m(workflows.export),
            "gguf",
            str(REPO / "llamafactory_configs/qwen3_0.6b_lora.yaml"),
            f"model_name_or_path={tiny_model}",
            "template=qwen3",
            "--out",
            str(out),
            "--quant",
            "f16,q8_0,q4_k_m",
            "--pre-tokenizer",
            "qwen2",
        ],
        timeout=3600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    choices = {}
    for quant in ("f16", "q8_0", "q4_k_m"):
        [gguf] = out.glob(f"*{quant}.gguf")
        run = subprocess.run(
            [sys.executable, "-c", EVALUATE, str(gguf)], cwd=REPO, capture_output=True, text=True, timeout=600
        )
        assert run.returncode == 0, f"{quant}: exit {run.returncode}\n{run.stderr[-2000:]}"
        choices[quant] = json.loads(run.stdout.strip().splitlines()[-1])
    assert len(choices["f16"]) > 10
    same = sum(a == b for a, b in zip(choices["f16"], choices["q8_0"]))
    assert same >= 0.9 * len(choices["f16"]), (choices["f16"], choices["q8_0"])
