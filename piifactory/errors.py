"""The base class of every error a user can fix: bad input, a bad option, an unsupported version.

Command-line tools catch ``PiiFactoryError`` (and ``OSError`` for files) and print it as one line
with exit status 2; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class PiiFactoryError(Exception):
    """An error whose message tells the user what to fix (``file:line: what is wrong`` for input)."""


class UsageError(PiiFactoryError, ValueError):
    """A command-line argument, override or option value the pack cannot use (not a file's
    content: that is ``piifactory.io.InputError``). A ValueError too, for callers that catch one."""
