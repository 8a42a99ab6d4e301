"""Merge dataset entries into a dataset_info.json without losing the entries already there."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from piifactory.io import InputError, atomic_write_text, parse_json


def load_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The registry at ``path`` (empty when the file does not exist yet)."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        info = parse_json(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, None, f"not valid JSON: {exc}") from None
    if not isinstance(info, dict):
        raise InputError(path, None, "dataset_info.json must be a JSON object")
    return info


def clashes(info: dict[str, Any], entries: dict[str, dict[str, Any]]) -> list[str]:
    """Names already registered with a different entry (re-writing the same entry is no clash)."""
    return [name for name, entry in entries.items() if name in info and info[name] != entry]


def check_registry(path: str | os.PathLike[str], entries: dict[str, dict[str, Any]], overwrite: bool) -> None:
    """Fail before any data is written when ``entries`` would replace someone else's datasets."""
    taken = clashes(load_info(path), entries)
    if taken and not overwrite:
        raise InputError(
            path, None, f"already registers {', '.join(taken)} differently; use --overwrite or another --name"
        )


def merge_registry(path: str | os.PathLike[str], entries: dict[str, dict[str, Any]], overwrite: bool = False) -> None:
    """Add ``entries`` to the registry at ``path`` atomically, keeping every other entry."""
    check_registry(path, entries, overwrite)
    info = load_info(path)
    if all(info.get(name) == entry for name, entry in entries.items()):
        return  # nothing new: leave the file (and its layout) untouched
    info.update(entries)
    atomic_write_text(path, json.dumps(info, ensure_ascii=False, indent=2) + "\n")


def file_name_for(data_file: str | os.PathLike[str], info_path: str | os.PathLike[str]) -> str:
    """``file_name`` as LLaMA-Factory resolves it: relative to the registry's folder."""
    rel = os.path.relpath(Path(data_file).resolve(), Path(info_path).resolve().parent)
    return Path(rel).as_posix()
