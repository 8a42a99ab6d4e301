"""docs/plugins.md's options table, generated from the pydantic model of the block.

``python -m plugins.options_doc`` prints the table, ``--write`` puts it into docs/plugins.md
between its markers, ``--check`` exits 1 when the doc and the model differ (the tests run it).
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from piifactory.io import atomic_write_text
from piifactory.tables import markdown_table
from plugins.options import BLOCK_KEY, PiiFactoryOptions

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
BEGIN = "<!-- options table: generated from plugins/options.py by `python -m plugins.options_doc --write` -->"
END = "<!-- end of options table -->"
HEADER = ["key", "type", "default", "what it does"]


def _sub_block(annotation: Any) -> type[BaseModel] | None:
    """The model of a nested block (``FocalLossOptions | None`` -> FocalLossOptions)."""
    candidates = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)


def _type(field: FieldInfo) -> str:
    annotation = field.annotation
    parts = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    names = []
    for part in parts:
        if typing.get_origin(part) is typing.Literal:
            names.append(" \\| ".join(map(str, typing.get_args(part))))
        else:
            names.append("null" if part is type(None) else part.__name__)
    bounds = [
        f"{sign} {getattr(m, attr)}"
        for m in field.metadata
        for attr, sign in (("gt", ">"), ("ge", ">="))
        if getattr(m, attr, None) is not None
    ]
    return " or ".join(names) + (f", {', '.join(bounds)}" if bounds else "")


def _default(value: Any) -> str:
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else str(value)


def rows(model: type[BaseModel] = PiiFactoryOptions, prefix: str = BLOCK_KEY) -> list[list[str]]:
    """One row per option, a nested block's row followed by its options."""
    out = []
    for name, field in model.model_fields.items():
        key, sub = f"{prefix}.{name}", _sub_block(field.annotation)
        if sub is not None:
            kind, default = "block", "off" if field.default is None else "on"
        else:
            kind, default = _type(field), _default(field.default)
        out.append([f"`{key}`", kind, default, field.description or ""])
        if sub is not None:
            out += rows(sub, key)
    return out


def options_table() -> str:
    return markdown_table(HEADER, rows())


def with_table(doc: str) -> str:
    """``doc`` with the text between the markers replaced by the current table."""
    if BEGIN not in doc or END not in doc:
        raise ValueError(f"{DOC}: the options table markers are missing ({BEGIN!r} ... {END!r})")
    head, rest = doc.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    return f"{head}{BEGIN}\n{options_table()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plugins.options_doc", description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help=f"update the table in {DOC.name}")
    action.add_argument("--check", action="store_true", help=f"exit 1 when {DOC.name}'s table differs from the model")
    ns = parser.parse_args(argv)
    if not (ns.write or ns.check):
        print(options_table())
        return 0
    doc = DOC.read_text(encoding="utf-8")
    current = with_table(doc)
    if ns.check:
        if current != doc:
            print(
                f"{DOC}: the options table differs from plugins/options.py; run python -m plugins.options_doc --write",
                file=sys.stderr,
            )
            return 1
        return 0
    atomic_write_text(DOC, current)
    return 0


if __name__ == "__main__":
    sys.exit(main())
