"""Progress of long loops (OCR of many documents, training epochs) as log lines with counts,
rate and time left, e.g. ``ocr: 40/200 documents (20%), 3.2/s, about 50s left``.

Lines go to the ``docasset.progress`` logger, at most one every ``every`` seconds plus the
last one, so a loop over thousands of documents prints a few dozen lines. Nothing is printed
unless a handler is attached: the command line sends them to stderr
(:func:`to_stderr`), the Dagster graph and library callers stay quiet."""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable

LOGGER = logging.getLogger("docasset.progress")


def _duration(seconds: float) -> str:
    s = math.ceil(seconds - 1e-9)
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


class Progress:
    """Counts of one loop over ``total`` items (None: unknown) of ``unit``."""

    def __init__(
        self,
        what: str,
        total: int | None,
        unit: str = "documents",
        every: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger = LOGGER,
    ) -> None:
        self.what, self.total, self.unit, self.every = what, total, unit, every
        self.clock, self.logger = clock, logger
        self.done = 0
        self.started = clock()
        self._last_line: float | None = None
        self._reported = -1

    def line(self, note: str = "") -> str:
        """The current state: counts, share, rate and, with a total, time left."""
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.done / elapsed
        count = f"{self.done}/{self.total}" if self.total is not None else str(self.done)
        parts = [f"{self.what}: {count} {self.unit}"]
        if self.total:
            parts[0] += f" ({self.done / self.total:.0%})"
        parts.append(f"{rate:.2g}/s" if rate < 10 else f"{rate:.0f}/s")
        if self.total is not None and self.done < self.total and self.done:
            parts.append(f"about {_duration((self.total - self.done) / rate)} left")
        elif self.total is not None and self.done >= self.total:
            parts.append(f"done in {_duration(elapsed)}")
        return ", ".join(parts) + (f"; {note}" if note else "")

    def step(self, n: int = 1, note: str = "") -> None:
        """``n`` more items done; logs a line when ``every`` seconds passed or all are done."""
        self.done += n
        now = self.clock()
        finished = self.total is not None and self.done >= self.total
        if finished or self._last_line is None or now - self._last_line >= self.every:
            self._emit(note)

    def finish(self, note: str = "") -> None:
        """Log the final count if the last step did not."""
        if self._reported != self.done:
            self._emit(note)

    def _emit(self, note: str) -> None:
        self._last_line = self.clock()
        self._reported = self.done
        self.logger.info(self.line(note))


def to_stderr() -> None:
    """Send progress lines to stderr (the command line's long commands)."""
    if any(getattr(h, "_docasset_progress", False) for h in LOGGER.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler._docasset_progress = True  # type: ignore[attr-defined]
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.INFO)
    LOGGER.propagate = False
