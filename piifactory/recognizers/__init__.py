"""Rule recognizers for PII with a structure: one class per pattern family, each with a
``validate`` step (checksums from :mod:`piifactory.checksums`) and context words.

``analyze(text)`` returns :class:`Detection` records with exact offsets into ``text``.
"""

from piifactory.recognizers.base import Detection, Pattern, PatternRecognizer, fold_width
from piifactory.recognizers.finance import BankCardRecognizer, UsccRecognizer
from piifactory.recognizers.identity import IdCardRecognizer, LicensePlateRecognizer, PassportRecognizer
from piifactory.recognizers.network import EmailRecognizer, IpRecognizer
from piifactory.recognizers.phone import LandlineRecognizer, MobileRecognizer
from piifactory.recognizers.registry import DEFAULT_THRESHOLD, RecognizerRegistry, analyze, default_registry

__all__ = [
    "DEFAULT_THRESHOLD",
    "BankCardRecognizer",
    "Detection",
    "EmailRecognizer",
    "IdCardRecognizer",
    "IpRecognizer",
    "LandlineRecognizer",
    "LicensePlateRecognizer",
    "MobileRecognizer",
    "PassportRecognizer",
    "Pattern",
    "PatternRecognizer",
    "RecognizerRegistry",
    "UsccRecognizer",
    "analyze",
    "default_registry",
    "fold_width",
]
