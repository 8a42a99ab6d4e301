"""The start-up hook (pii_factory_hook.pth) touches nothing but its own uniquely named module.

Every Python process of the environment runs it, so it must not put the pack's ``plugins`` (or
anything else) in ``sys.modules``: a user's project with its own ``plugins`` package imports its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

PACK_PACKAGES = ("plugins", "piifactory", "eval", "converters")


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def user_project(tmp_path: Path) -> Path:
    """A project of someone else's with its own top-level ``plugins`` package."""
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "__init__.py").write_text('OWNER = "user project"\n', encoding="utf-8")
    return tmp_path


def test_start_up_imports_only_the_hook_module(tmp_path) -> None:
    result = run_python(
        "import json, sys; print(json.dumps(['pii_factory_startup' in sys.modules, "
        f"sorted(m for m in sys.modules if m.split('.')[0] in {PACK_PACKAGES!r})]))",
        tmp_path,
    )
    hooked, imported = json.loads(result.stdout)
    assert hooked and imported == []
    pth = next(Path(p) for p in sys.path if (Path(p) / "pii_factory_hook.pth").is_file()) / "pii_factory_hook.pth"
    assert pth.read_text(encoding="utf-8") == "import pii_factory_startup\n"


def test_a_project_with_its_own_plugins_package_imports_its_own(tmp_path) -> None:
    result = run_python("import plugins; print(plugins.OWNER)", user_project(tmp_path))
    assert result.stdout.strip() == "user project"


def test_training_in_such_a_project_stays_stock_and_says_why(tmp_path) -> None:
    """Its own ``plugins`` wins there, so the pack's cannot load: run_exp stays LLaMA-Factory's."""
    result = run_python(
        "import plugins, llamafactory.train.tuner as t; "
        "print(plugins.OWNER, getattr(t.run_exp, 'pii_factory_wrapped', False))",
        user_project(tmp_path),
    )
    assert result.stdout.strip().endswith("user project False")
    assert f"another `plugins` package shadows the pack's ({REPO / 'plugins'})" in result.stderr


def test_the_tuner_import_loads_the_pack_and_wraps_run_exp(tmp_path) -> None:
    result = run_python(
        "import llamafactory.train.tuner as t, plugins; print(t.run_exp.pii_factory_wrapped, plugins.__file__)",
        tmp_path,
    )
    assert result.stdout.split()[-2:] == ["True", str(REPO / "plugins" / "__init__.py")]
