"""Rule recognizers for PII with a structure: one class per pattern family, each with a
``validate`` step (checksums from :mod:`piifactory.rules.checksums`) and context words.

``analyze(text)`` returns :class:`Detection` records with exact offsets into ``text``;
``passes_checksum(entity)`` is the same ``validate`` applied to a value found elsewhere.
"""

from piifactory.rules.recognizers.base import Detection, Pattern, PatternRecognizer, fold_width
from piifactory.rules.recognizers.finance import BankCardRecognizer, UsccRecognizer
from piifactory.rules.recognizers.identity import FirstGenIdCardRecognizer, IdCardRecognizer, LicensePlateRecognizer
from piifactory.rules.recognizers.network import EmailRecognizer, IpRecognizer
from piifactory.rules.recognizers.phone import LandlineRecognizer, MobileRecognizer
from piifactory.rules.recognizers.registry import (
    DEFAULT_THRESHOLD,
    RecognizerRegistry,
    analyze,
    default_registry,
    passes_checksum,
    shapes,
)
from piifactory.rules.recognizers.travel import PassportRecognizer, TravelPermitRecognizer

__all__ = [
    "DEFAULT_THRESHOLD",
    "BankCardRecognizer",
    "Detection",
    "EmailRecognizer",
    "FirstGenIdCardRecognizer",
    "IdCardRecognizer",
    "IpRecognizer",
    "LandlineRecognizer",
    "LicensePlateRecognizer",
    "MobileRecognizer",
    "PassportRecognizer",
    "Pattern",
    "PatternRecognizer",
    "RecognizerRegistry",
    "TravelPermitRecognizer",
    "UsccRecognizer",
    "analyze",
    "default_registry",
    "passes_checksum",
    "shapes",
    "fold_width",
]
