"""PII data formats into LLaMA-Factory datasets: read, check, split, balance, chunk, write, register.

Library API (the CLI ``python -m converters convert|stats`` is a thin layer over it)::

    from converters import ConvertOptions, convert
    summary = convert([Path("data/pii_synth.jsonl")], ConvertOptions(name="pii_synth"))
"""

from converters.balance import Balance
from converters.chunking import chunk_sample
from converters.dataset_info import file_name_for, merge_registry
from converters.label_presets import PRESETS, LabelPreset, get_preset
from converters.pipeline import ConvertOptions, Summary, convert
from converters.readers import read_records
from converters.record_checks import build_sample
from converters.records import Chat, Record, RecordError, Rejected
from converters.split import SplitPlan, file_keys, find_leaks
from converters.stats import Stats, compute_stats, template_measure
from converters.writers import (
    Prompting,
    dataset_entry,
    iter_rows,
    to_chat,
    to_row,
    write_rows,
)

__all__ = [
    "PRESETS",
    "Balance",
    "Chat",
    "ConvertOptions",
    "LabelPreset",
    "Prompting",
    "Record",
    "RecordError",
    "Rejected",
    "SplitPlan",
    "Stats",
    "Summary",
    "build_sample",
    "chunk_sample",
    "compute_stats",
    "convert",
    "dataset_entry",
    "file_keys",
    "file_name_for",
    "find_leaks",
    "get_preset",
    "iter_rows",
    "merge_registry",
    "read_records",
    "template_measure",
    "to_chat",
    "to_row",
    "write_rows",
]
