"""Small file-system helpers shared by the stores: atomic writes, locks, safe names, paths
confined to the home, and the one read layer for stored files.

Every stored file (Parquet partitions, JSONL logs, JSON state, the SQLite index) is read
through :func:`read_parquet`, :func:`scan_parquet`, :func:`read_jsonl`, :func:`read_json` or
inside :func:`store_errors`: a missing or damaged file is a :class:`~docasset.errors.StoreError`
naming the file and saying how to recover it, never an empty result or a bare library
traceback; a full disk is a :class:`~docasset.errors.NoSpaceError` (found by errno or SQLite
result code, never by message text). See ``docs/damaged-state.md``.

Names that come from outside (inbox files, corrections files) are metadata only; what is stored
on disk is :func:`stored_name` of them (bounded, printable UTF-8), and what is shown and
recorded is :func:`display_name` (escaped text) plus :func:`name_hex` (the raw bytes) when the
name is not valid UTF-8, so nothing is lost and no derived path can exceed ``NAME_MAX``.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import sqlite3
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from docasset.errors import NoSpaceError, StoreError, UnsafePathError

log = logging.getLogger("docasset")

TMP_PREFIX = ".tmp-"
# Room kept below NAME_MAX (255 bytes) for what callers append (".reason.json", ".reasons.txt",
# a hash prefix).
STORED_NAME_BYTES = 180
_UNSAFE = re.compile(r"[^\w.\-+=@,() ]")
# Files the team reads (reports, pages): owner-writable, readable by the group and others.
REPORT_MODE = 0o644
# Secrets (credentials, tokens): owner-only, from the temp file's creation on.
PRIVATE_MODE = 0o600


def atomic_write(path: Path, data: bytes, mode: int = REPORT_MODE) -> None:
    """Write ``data`` to ``path`` via a temp file, fsync and rename: all or nothing.

    ``mode`` is the file's permission bits (the temp file would otherwise keep
    ``mkstemp``'s owner-only 0600); it is set before any byte is written, so a secret
    written with :data:`PRIVATE_MODE` is never readable by others, not even briefly."""
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
    """Append one line and fsync (for append-only logs).

    Appenders hold an exclusive ``flock`` on the log while they write, so a tail without its
    newline is a write a killed appender cut short (never one in progress): it is cut off,
    with a warning, before the new line, which would otherwise be glued to it."""
    with open(path, "ab+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            size = fh.seek(0, os.SEEK_END)
            if size:
                fh.seek(max(0, size - 65536))
                tail = fh.read()
                if not tail.endswith(b"\n"):
                    cut = tail.rfind(b"\n")
                    keep = (
                        size - len(tail) + cut + 1 if cut >= 0 else (0 if size <= 65536 else size)
                    )
                    if keep < size:
                        log.warning("%s: torn last line (%d bytes) cut off", path, size - keep)
                        fh.truncate(keep)
                    else:  # a torn line longer than what we looked at: keep it apart
                        fh.write(b"\n")
            fh.write((line.rstrip("\n") + "\n").encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


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


# --- text shown on a terminal or in a log -------------------------------------------------------


def clean_text(text: object, limit: int | None = 200) -> str:
    """User text (names, reasons, values) safe to print: control and format characters
    (escape sequences, newlines, bidi overrides) shown as ``\\xNN``/``\\uNNNN``, cut to ``limit``
    characters with ``…``. A terminal or a log line shows what was typed, never runs it."""
    out = []
    for ch in str(text):
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    s = "".join(out)
    return s if limit is None or len(s) <= limit else s[: limit - 1] + "…"


# --- paths confined to the home -------------------------------------------------------------------


def confined(home: Path, *parts: str | Path) -> Path:
    """``home / parts...``, refused unless it stays inside ``home``: no absolute part, no
    ``..`` climbing out, no symlinked directory leading elsewhere (the last component may be
    a symlink: it is moved or refused as itself, never followed). Every path docasset derives
    from a name it did not make (a partition key, a manifest entry) goes through here."""
    root = Path(os.path.abspath(home))
    for part in parts:
        text = os.fspath(part)
        if not text or "\x00" in text or os.path.isabs(text):
            raise UnsafePathError(f"{clean_text(repr(text))} is not a relative path inside {root}")
    path = Path(os.path.normpath(root.joinpath(*parts)))
    real_root = root.resolve()
    if (path != root and root not in path.parents) or (
        path != root
        and real_root != (real := path.parent.resolve())
        and real_root not in real.parents
    ):
        shown = clean_text(repr(os.path.join(*(str(p) for p in parts))))
        raise UnsafePathError(
            f"{shown} leads outside the home {root} (nothing read, written or moved)"
        )
    return path


# --- the read layer -------------------------------------------------------------------------------


def _is_disk_full(path: Path) -> bool:
    """Whether the file system holding ``path`` has no room left (for SQLite I/O errors,
    whose result code does not say why a write failed)."""
    probe = path if path.is_dir() else path.parent
    try:
        st = os.statvfs(probe)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 64 * 1024


SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_FULL, SQLITE_IOERR = 11, 26, 13, 10


@contextmanager
def store_errors(path: Path, recovery: str) -> Iterator[None]:
    """Map the failures of reading or writing the stored file ``path`` to typed errors:
    ENOSPC/EDQUOT and SQLite's FULL (or an I/O error on a full file system) to
    :class:`NoSpaceError`; SQLite's CORRUPT/NOTADB/IOERR to :class:`StoreError` with
    ``recovery``. Anything else passes through unchanged."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise NoSpaceError(str(path)) from exc
        raise
    except sqlite3.DatabaseError as exc:
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        if code == SQLITE_FULL or (code == SQLITE_IOERR and _is_disk_full(path)):
            raise NoSpaceError(str(path)) from exc
        if code in (SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_IOERR):
            raise StoreError(
                str(path),
                f"damaged ({getattr(exc, 'sqlite_errorname', 'SQLITE')}: {exc})",
                recovery,
            ) from exc
        raise


# What polars raises on a file that is not (or no longer) valid Parquet.
_PARQUET_ERRORS = (OSError, pl.exceptions.PolarsError, pl.exceptions.PanicException)


def read_parquet(path: Path, recovery: str, columns: list[str] | None = None) -> pl.DataFrame:
    """A stored Parquet file; missing or unreadable: :class:`StoreError` with ``recovery``."""
    return scan_parquet(path, recovery, None, columns)


@contextmanager
def parquet_errors(path: Path, recovery: str) -> Iterator[None]:
    """Map what a Parquet reader raises on a file that is not (or no longer) valid Parquet to
    :class:`StoreError` (a full disk to :class:`NoSpaceError`); asking for a column the frame
    does not have is the caller's error and passes through."""
    try:
        yield
    except (pl.exceptions.ColumnNotFoundError, pl.exceptions.SchemaFieldNotFoundError):
        raise
    except _PARQUET_ERRORS as exc:
        if isinstance(exc, FileNotFoundError):
            raise StoreError(str(path), "missing", recovery) from exc
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise NoSpaceError(str(path)) from exc
        raise StoreError(
            str(path), f"damaged, not readable as Parquet ({type(exc).__name__}: {exc})", recovery
        ) from exc


def scan_parquet(
    path: Path, recovery: str, predicate: pl.Expr | None = None, columns: list[str] | None = None
) -> pl.DataFrame:
    """The rows of a stored Parquet file matching ``predicate`` (pushed down to the reader),
    only ``columns`` when given; missing or unreadable: :class:`StoreError`."""
    if not path.is_file():
        raise StoreError(str(path), "missing", recovery)
    with parquet_errors(path, recovery):
        lf = pl.scan_parquet(path)
        if predicate is not None:
            lf = lf.filter(predicate)
        return (lf.select(columns) if columns else lf).collect()


def read_json(path: Path, recovery: str) -> Any:
    """A stored JSON document; unreadable or unparseable: :class:`StoreError`."""
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError as exc:
        raise StoreError(str(path), "missing", recovery) from exc
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise StoreError(str(path), f"damaged ({type(exc).__name__}: {exc})", recovery) from exc


def read_jsonl(path: Path, recovery: str, missing_ok: bool = True) -> list[Any]:
    """The records of a stored append-only JSONL log, in order.

    A torn last line (no newline at the end: a crash or short write during the last append)
    is left out with a warning, like every reader of an append-only log; any other line that
    does not parse is damage: :class:`StoreError` naming the file, the line and ``recovery``.
    ``missing_ok``: a log not written yet is empty."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        if missing_ok:
            return []
        raise StoreError(str(path), "missing", recovery) from exc
    lines = raw.split(b"\n")
    torn = lines.pop() if lines else b""  # after the last newline: b"" unless torn
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line.decode("utf-8")))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise StoreError(
                str(path), f"line {n} is damaged ({type(exc).__name__}: {exc})", recovery
            ) from exc
    if torn.strip():
        try:
            out.append(json.loads(torn.decode("utf-8")))
        except (UnicodeDecodeError, ValueError, RecursionError):
            log.warning(
                "%s: torn last line (%d bytes, a write cut short) left out", path, len(torn)
            )
    return out
