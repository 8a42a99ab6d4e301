"""Deterministic synthetic Chinese PII samples in the users' format, and a data-augmentation tool.

``python -m piifactory.synth --n 2000 --seed 0 --out data/pii_synth.jsonl``

Values come from Faker's ``zh_CN`` provider; identifiers carry valid check digits (resident ID
GB 11643, USCC GB 32100, UnionPay Luhn). About a third of the samples are negatives, many of them
hard: order numbers, hotlines, masked numbers, public figures, and IDs or cards whose check digit
is wrong. Genres (:mod:`piifactory.synth.genres`) range from one-sentence records (the default)
to chats, logs, forms, tables and OCR noise; values (:mod:`piifactory.synth.values`) come in the
formats people write.
"""

from piifactory.synth.command import main
from piifactory.synth.generator import SyntheticPII, generate
from piifactory.synth.genres import GENRES, NEGATIVE_TEMPLATES, POSITIVE_TEMPLATES, VARIED_GENRES

__all__ = ["GENRES", "NEGATIVE_TEMPLATES", "POSITIVE_TEMPLATES", "VARIED_GENRES", "SyntheticPII", "generate", "main"]
