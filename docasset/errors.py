"""The project's typed exceptions. Catch these, never a bare ``Exception``.

The tree (httpx's ``_exceptions.py`` is the model)::

    DocassetError                 every error docasset raises on purpose
    ├── InputError                one input is refused with its reason; the rest goes on
    │   ├── ScanError             a scan file cannot be used (reason code + detail)
    │   ├── CorrectionsError      a corrections file is rejected whole (line-level problems)
    │   ├── LabelledDataError     a labelled folder (img/ + key/) is missing or malformed
    │   ├── SchemaError           a document type or field definition is invalid or unknown
    │   └── UnsafePathError       a key or stored path is not docasset's or leaves the home
    ├── DocumentError             a stage failed on one document for an unexpected reason
    ├── OcrError                  an OCR engine failed on a page it was given
    ├── ConfigError               a setting is out of range, or settings contradict each other
    ├── StoreError                a stored file is missing or damaged (names it and the recovery)
    │   └── NoSpaceError          a write failed: no space left on device
    ├── ModelError                a model version is missing, unreadable, or an alias points nowhere
    ├── TrainingError             training could not run (no examples, invalid data)
    ├── EvaluationError           a model cannot be evaluated (no golden documents yet)
    └── LabelStudioError          Label Studio is unreachable, misconfigured or refused a request
        └── LabelStudioAuthError  it refused the token (401); the message names the setting

``InputError`` subclasses and ``DocumentError`` are outcomes, not failures: a stage records
them per document (or per file) and carries on (``docasset.core.isolation``). The others stop
the step that raised them, with the message as the reason; a re-run after the cause is fixed
completes the work.
"""

from __future__ import annotations


class DocassetError(Exception):
    """Base class of every error docasset raises on purpose."""


class InputError(DocassetError):
    """One input (file, line, record) is refused; it is kept with its reason, never lost."""


class ScanError(InputError):
    """A scan file cannot be used (corrupt, empty, wrong format, too large, unreadable).

    ``reason`` is a short machine-readable code (for example ``zero_bytes``) and the
    message says what was wrong with which file, for the quarantine record.
    """

    def __init__(self, path: str, reason: str, detail: str = "") -> None:
        self.path = path
        self.reason = reason
        self.detail = detail
        super().__init__(f"{path}: {reason}" + (f" ({detail})" if detail else ""))


class CorrectionsError(InputError):
    """A corrections file was rejected; ``problems`` lists ``(line, reason)`` pairs."""

    def __init__(self, path: str, problems: list[tuple[int, str]]) -> None:
        self.path = path
        self.problems = problems
        lines = "; ".join(f"line {n}: {why}" for n, why in problems[:20])
        more = f" (+{len(problems) - 20} more)" if len(problems) > 20 else ""
        super().__init__(f"{path} rejected, nothing stored: {lines}{more}")


class LabelledDataError(InputError):
    """A labelled folder (``img/`` + ``key/``) is missing or malformed."""


class SchemaError(InputError):
    """A document type or field definition is invalid or unknown."""


class DocumentError(DocassetError):
    """A stage failed on one document for a reason nobody foresaw (any exception a library or
    our code raised on it). It is that document's outcome, recorded with the exception class
    and message; the other documents go on (see ``docasset.core.isolation``)."""

    def __init__(self, where: str, exc: BaseException) -> None:
        self.where = where
        self.cause = f"{type(exc).__name__}: {exc}"[:2000]
        super().__init__(f"{where}: {self.cause}")


class OcrError(DocassetError):
    """An OCR engine failed on a page it was given (not installed, crashed, timed out)."""


class ConfigError(DocassetError):
    """A setting has a wrong type or is out of its range (the message names it), or settings
    contradict each other or the resources built from them (for example a run config
    selecting another OCR engine than the ``ocr_engine`` resource provides)."""


class UnsafePathError(InputError):
    """A name that becomes a path (a batch partition key, a manifest entry) is not one docasset
    makes, or would point outside ``DOCASSET_HOME``; nothing is read, written or moved."""


class StoreError(DocassetError):
    """A file docasset stored is missing or damaged. ``path`` is the file, ``problem`` what is
    wrong with it and ``recovery`` what brings it back (rebuild, re-materialize, re-import);
    the message says all three. Never swallowed into an empty result."""

    def __init__(self, path: str, problem: str, recovery: str) -> None:
        self.path = path
        self.problem = problem
        self.recovery = recovery
        super().__init__(f"{path}: {problem}. To recover: {recovery}")


class NoSpaceError(StoreError):
    """Writing a stored file failed because the file system is full (ENOSPC, SQLite's
    "database or disk is full"); nothing half-written is kept."""

    def __init__(
        self, path: str, recovery: str = "free space on its file system, then re-run"
    ) -> None:
        super().__init__(path, "no space left on device", recovery)


class ModelError(DocassetError):
    """A model version is missing, unreadable, or an alias points nowhere."""


class TrainingError(DocassetError):
    """Training could not run (no examples, invalid data)."""


class EvaluationError(DocassetError):
    """A model cannot be evaluated (for example: no golden documents yet)."""


class LabelStudioError(DocassetError):
    """Label Studio is unreachable, misconfigured, or refused a request (the message says
    which server, what was asked and what to fix)."""


class LabelStudioAuthError(LabelStudioError):
    """Label Studio refused the token (HTTP 401); the message names the setting to fix."""
