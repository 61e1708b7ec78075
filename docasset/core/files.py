"""Small file-system helpers shared by the stores."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Files the team reads (reports, pages): owner-writable, readable by the group and others.
REPORT_MODE = 0o644


def atomic_write(path: Path, data: bytes, mode: int = REPORT_MODE) -> None:
    """Write ``data`` to ``path`` via a temp file, fsync and rename: all or nothing.

    ``mode`` is the file's permission bits (the temp file would otherwise keep
    ``mkstemp``'s owner-only 0600)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def append_line(path: Path, line: str) -> None:
    """Append one line and fsync (for append-only logs)."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line.rstrip("\n") + "\n")
        fh.flush()
        os.fsync(fh.fileno())
