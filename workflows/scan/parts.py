"""A scan's output written as numbered parts, each covering a fixed range of input rows and
renamed into place whole (``piifactory.io.atomic_open``), then joined into the output file in one
atomic step. A scan killed at any moment and run again skips the parts that exist and writes the
rest: the finished file is the one an uninterrupted run writes, no row lost or repeated.

``OUT.parts/manifest.json`` records the settings the parts were written with; a rerun with other
settings is refused rather than mixed in (until the first part is written they may change)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Iterable

from piifactory.errors import UsageError
from piifactory.io import atomic_open, atomic_write_text


class Parts:
    """The parts folder of one output file."""

    def __init__(self, out: Path, settings: dict[str, Any], part_size: int) -> None:
        if part_size < 1:
            raise UsageError(f"--part-size must be at least 1, got {part_size}")
        self.out, self.folder = out, out.with_name(out.name + ".parts")
        manifest = self.folder / "manifest.json"
        wanted = {"settings": settings, "part_size": part_size}
        if manifest.is_file() and any(self.folder.glob("part-*.jsonl")):
            recorded = json.loads(manifest.read_text(encoding="utf-8"))
            if recorded != wanted:
                raise UsageError(
                    f"{self.folder} holds an unfinished scan with other settings "
                    f"({_difference(recorded, wanted)}); run the same command to finish it, or delete the folder"
                )
        elif out.exists() and not manifest.is_file():
            raise UsageError(f"{out} exists (a finished scan); delete it or choose another --out")
        else:  # a new scan, or one that wrote no part yet (settings may change)
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_text(manifest, json.dumps(wanted, ensure_ascii=False, sort_keys=True, indent=1) + "\n")
        self.part_size = part_size

    def path(self, index: int) -> Path:
        return self.folder / f"part-{index:06d}.jsonl"

    def done(self, index: int) -> bool:
        return self.path(index).is_file()

    def write(self, index: int, lines: Iterable[str]) -> None:
        """Part ``index`` whole, or not at all."""
        with atomic_open(self.path(index)) as handle:
            for line in lines:
                handle.write(line + "\n")
        _sync_folder(self.folder)

    def finish(self, count: int, see: Callable[[str], None]) -> None:
        """Join the ``count`` rows' parts into the output (atomically) and remove the folder;
        ``see`` is shown each output line on the way (for the summary)."""
        parts = -(-count // self.part_size)
        missing = [i for i in range(parts) if not self.done(i)]
        if missing:
            raise RuntimeError(f"parts {missing[:5]} of {self.folder} are missing")
        with atomic_open(self.out) as out:
            for index in range(parts):
                with open(self.path(index), encoding="utf-8") as handle:
                    for line in handle:
                        out.write(line)
                        see(line)
        _sync_folder(self.out.parent)
        shutil.rmtree(self.folder)


def _sync_folder(folder: Path) -> None:
    """A rename is durable once its folder is synced."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _difference(recorded: dict, wanted: dict) -> str:
    old = {**recorded.get("settings", {}), "part_size": recorded.get("part_size")}
    new = {**wanted["settings"], "part_size": wanted["part_size"]}
    return "; ".join(
        f"{k}: {old.get(k)!r} then, {new.get(k)!r} now" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)
    )
