"""Build step that installs ``pii_factory_hook.pth`` next to the package (wheel and editable).

Named in pyproject.toml (``[tool.setuptools.cmdclass]``). A regular wheel gets the file at its
root (build_lib); an editable wheel gets it in the unpacked wheel root, which setuptools'
``editable_wheel`` points ``install_lib`` at. Either way pip puts it in site-packages, where the
interpreter runs its ``import`` line at start-up. ``write_hook`` is also what
``bench/gpu_device.sh`` runs on a machine where the pack travels as a folder, not a wheel.
"""

from __future__ import annotations

from pathlib import Path

from setuptools.command.build_py import build_py

PTH_NAME = "pii_factory_hook.pth"
PTH_LINE = "import pii_factory_startup\n"


def write_hook(directory: Path) -> Path:
    """Write the start-up hook's ``.pth`` into ``directory`` (a site directory, or a wheel's root)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / PTH_NAME
    path.write_text(PTH_LINE, encoding="utf-8")
    return path


class BuildPyWithStartupHook(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            target = Path(self.get_finalized_command("install").install_lib)
        else:
            target = Path(self.build_lib)
        write_hook(target)
