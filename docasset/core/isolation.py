"""Per-document isolation: one document's exception is its outcome, never the batch's.

Every loop over the documents of a batch (intake, page decoding, OCR, extraction) runs each
document under :func:`isolated`. What the document caused - a library's ``OSError`` on odd
bytes, a ``RecursionError``, a bug of ours that only this input triggers - becomes a
:class:`~docasset.errors.DocumentError` carrying the exception class and message, recorded
for that document. Infrastructure problems (:func:`is_infrastructure`: disk full, I/O errors,
a read-only file system, interrupts) still propagate and fail the step, because every other
document would fail the same way; a re-run after the cause is fixed completes the work.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from docasset.errors import DocassetError, DocumentError

T = TypeVar("T")

# Errors of the machine, not of the document in hand.
_INFRA_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.ENOMEM})


def is_infrastructure(exc: BaseException) -> bool:
    """Whether ``exc`` is a problem of the machine (so the step must fail), not of a document."""
    if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit, GeneratorExit
        return True
    return isinstance(exc, OSError) and exc.errno in _INFRA_ERRNOS


@contextmanager
def isolating(where: str) -> Iterator[None]:
    """Turn any per-document exception raised in the block into :class:`DocumentError`
    (the project's own errors pass unchanged: their callers know what they mean)."""
    try:
        yield
    except DocassetError:
        raise
    # The one deliberate catch-all of the project: see the module docstring.
    except Exception as exc:
        if is_infrastructure(exc):
            raise
        raise DocumentError(where, exc) from exc


def isolated(where: str, fn: Callable[..., T], *args: Any) -> T | DocumentError:
    """``fn(*args)``, or the :class:`DocumentError` it caused (infrastructure errors and the
    project's own errors propagate)."""
    try:
        with isolating(where):
            return fn(*args)
    except DocumentError as exc:
        return exc
