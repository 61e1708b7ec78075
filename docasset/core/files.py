"""Small file-system helpers shared by the stores: atomic writes, locks and safe names.

Names that come from outside (inbox files, corrections files) are metadata only; what is stored
on disk is :func:`stored_name` of them (bounded, printable UTF-8), and what is shown and
recorded is :func:`display_name` (escaped text) plus :func:`name_hex` (the raw bytes) when the
name is not valid UTF-8, so nothing is lost and no derived path can exceed ``NAME_MAX``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TMP_PREFIX = ".tmp-"
# Room kept below NAME_MAX (255 bytes) for what callers append (".reason.json", ".reasons.txt",
# a hash prefix).
STORED_NAME_BYTES = 180
_UNSAFE = re.compile(r"[^\w.\-+=@,() ]")
# Files the team reads (reports, pages): owner-writable, readable by the group and others.
REPORT_MODE = 0o644


def atomic_write(path: Path, data: bytes, mode: int = REPORT_MODE) -> None:
    """Write ``data`` to ``path`` via a temp file, fsync and rename: all or nothing.

    ``mode`` is the file's permission bits (the temp file would otherwise keep
    ``mkstemp``'s owner-only 0600)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TMP_PREFIX, suffix=path.suffix[:16])
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
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make renames into ``path`` durable."""
    dir_fd = os.open(path, os.O_RDONLY)
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


@contextmanager
def locked(path: Path, wait: bool = True) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the block.

    The lock is released when the process dies, so a killed holder never blocks anyone. It
    is per open file: one process must not nest two ``locked`` blocks on the same path.
    ``wait=False``: raise ``BlockingIOError`` at once when someone else holds it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def sweep_tmp(directory: Path, older_than_s: float = 0.0) -> list[str]:
    """Delete ``.tmp-*`` files a killed writer left in ``directory``; returns their names.

    Call it only where no live writer can own a temp file that old (under the store's lock,
    or with an age no write takes)."""
    swept = []
    now = time.time()
    for p in directory.glob(f"{TMP_PREFIX}*"):
        try:
            if p.is_file() and now - p.lstat().st_mtime >= older_than_s:
                p.unlink()
                swept.append(p.name)
        except FileNotFoundError:
            continue
    return swept


def raw_name(name: str | bytes) -> bytes:
    """The bytes of a file name (str names carry undecodable bytes as surrogate escapes)."""
    return name if isinstance(name, bytes) else os.fsencode(name)


def display_name(name: str | bytes) -> str:
    """A file name as valid text: UTF-8 decoded, undecodable bytes shown as ``\\xNN``."""
    return raw_name(name).decode("utf-8", "backslashreplace")


def name_hex(name: str | bytes) -> str | None:
    """The raw bytes of a name in hex when it is not valid UTF-8 (else None: the text is exact)."""
    raw = raw_name(name)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.hex()
    return None


def stored_name(name: str | bytes, limit: int = STORED_NAME_BYTES) -> str:
    """A name safe to create on disk: printable, no separators, at most ``limit`` UTF-8 bytes.

    Characters outside a conservative set become ``_``; when anything was changed or cut, a
    hash of the original bytes is added, so different names stay different. The suffix
    (extension) is kept when it is short.
    """
    raw = raw_name(name)
    text = unicodedata.normalize("NFC", raw.decode("utf-8", "replace"))
    safe = _UNSAFE.sub("_", text).strip(" ")
    safe = "_" + safe[1:] if safe.startswith(".") else safe
    if safe == text and 0 < len(safe.encode()) <= limit:
        return safe
    digest = hashlib.sha256(raw).hexdigest()[:10]
    stem, dot, ext = safe.rpartition(".")
    if not dot or len(ext) > 8:
        stem, ext = safe, ""
    tail = f"~{digest}" + (f".{ext}" if ext else "")
    budget = limit - len(tail.encode())
    cut = stem.encode()[:budget].decode("utf-8", "ignore")
    return (cut or "file") + tail
