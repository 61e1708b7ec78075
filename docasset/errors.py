"""The project's typed exceptions. Catch these, never a bare ``Exception``."""

from __future__ import annotations


class DocassetError(Exception):
    """Base class of every error docasset raises on purpose."""


class ScanError(DocassetError):
    """A scan file cannot be used (corrupt, empty, wrong format, too large, unreadable).

    ``reason`` is a short machine-readable code (for example ``zero_bytes``) and the
    message says what was wrong with which file, for the quarantine record.
    """

    def __init__(self, path: str, reason: str, detail: str = "") -> None:
        self.path = path
        self.reason = reason
        self.detail = detail
        super().__init__(f"{path}: {reason}" + (f" ({detail})" if detail else ""))


class OcrError(DocassetError):
    """Tesseract failed on a page it was given (not installed, crashed, timed out)."""


class SchemaError(DocassetError):
    """A document type or field definition is invalid or unknown."""


class LabelledDataError(DocassetError):
    """A labelled folder (``img/`` + ``key/``) is missing or malformed."""


class CorrectionsError(DocassetError):
    """A corrections file was rejected; ``problems`` lists ``(line, reason)`` pairs."""

    def __init__(self, path: str, problems: list[tuple[int, str]]) -> None:
        self.path = path
        self.problems = problems
        lines = "; ".join(f"line {n}: {why}" for n, why in problems[:20])
        more = f" (+{len(problems) - 20} more)" if len(problems) > 20 else ""
        super().__init__(f"{path} rejected, nothing stored: {lines}{more}")


class ModelError(DocassetError):
    """A model version is missing, unreadable, or an alias points nowhere."""


class TrainingError(DocassetError):
    """Training could not run (no examples, invalid data)."""
