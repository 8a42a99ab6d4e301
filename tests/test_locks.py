"""The two tested stacks' lock files (docs/install.md): constraints.txt, which `make venv` installs,
and constraints-compat.txt, the common GPU stack `make test-compat` builds, resolved from
requirements-vllm.txt's pins for the same stack with vLLM left out."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import REPO
from tests.test_compat_stack import LOCK, USER_STACK


def lock_pins(path: Path) -> dict[str, str]:
    """``{normalized name: version}`` of a ``NAME==VERSION`` file (comments skipped)."""
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("#")[0].strip().split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_compat_lock_is_the_common_gpu_stack_of_the_vllm_environment() -> None:
    compat, serving = lock_pins(LOCK), lock_pins(REPO / "requirements-vllm.txt")
    assert {name: compat[name] for name in USER_STACK} == USER_STACK
    assert "vllm" not in compat and compat["torch"].split(".")[:2] == compat["torchaudio"].split(".")[:2]
    shared = sorted(set(compat) & set(serving))
    assert len(shared) > 100 and {name: compat[name] for name in shared} == {name: serving[name] for name in shared}


def test_both_locks_pin_the_same_pack_side_and_tools() -> None:
    """What differs between the stacks is the torch/transformers side; the pack's own needs, the
    test tools and uv (which installs both) are the same versions."""
    compat, main = lock_pins(LOCK), lock_pins(REPO / "constraints.txt")
    same = ("llamafactory", "peft", "trl", "datasets", "accelerate", "faker", "python-stdnum", "phonenumbers")
    same += ("pyahocorasick", "dashscope", "ray", "pytest", "hypothesis", "ruff", "uv")
    assert {name: compat[name] for name in same} == {name: main[name] for name in same}
    assert (main["torch"], main["transformers"]) != (compat["torch"], compat["transformers"])
