"""One output row of a scan: the input row's fields plus what the detector found."""

from __future__ import annotations

import json
from typing import Any, Sequence

from eval.detection.operators import redact
from eval.detection.spans import Span
from workflows.scan.inputs import Record


def output_line(record: Record, spans: Sequence[Span], operators: dict | None) -> str:
    """One output row: the input row's fields, ``entities`` and (with operators) ``redacted``."""
    row: dict[str, Any] = {**record.row, "entities": [s.to_dict() for s in spans]}
    if operators is not None:
        row["redacted"] = redact(record.text, spans, operators).text
    return json.dumps(row, ensure_ascii=False, default=str)
