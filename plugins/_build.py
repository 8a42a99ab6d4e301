"""Build step that installs ``pii_factory_hook.pth`` next to the package (wheel and editable).

Named in pyproject.toml (``[tool.setuptools.cmdclass]``). A regular wheel gets the file at its
root (build_lib); an editable wheel gets it in the unpacked wheel root, which setuptools'
``editable_wheel`` points ``install_lib`` at. Either way pip puts it in site-packages, where the
interpreter runs its ``import`` line at start-up.
"""

from __future__ import annotations

from pathlib import Path

from setuptools.command.build_py import build_py

PTH_NAME = "pii_factory_hook.pth"
PTH_LINE = "import pii_factory_startup\n"


class BuildPyWithStartupHook(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            target = Path(self.get_finalized_command("install").install_lib)
        else:
            target = Path(self.build_lib)
        target.mkdir(parents=True, exist_ok=True)
        (target / PTH_NAME).write_text(PTH_LINE, encoding="utf-8")
