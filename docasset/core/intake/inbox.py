"""The inbox: observe entries, wait until they settle, claim them into batches.

A claim moves each entry out of the inbox into the batch's own directory
(``batches/<batch>/<entry>``, one ``rename`` on the same file system), so the inbox only ever
holds unclaimed entries: a new file under an old name is simply a new entry, and two claimers
can never take the same file. Claims are serialized by a lock (``batches/.claim.lock``): the
plan is written first (``batches/.claiming/<batch>.json``), then the entries are moved, then
the manifest (``batches/<batch>.json``) lists the entries that were moved and the batch is
marked open (``batches/.open/<batch>``, removed when its intake completes). A claimer killed
in between is finished by the next one, so no entry is ever orphaned; nothing here reads the
batches of the past (claims cost the same on a long history). Names are metadata: the
manifest keeps the name as found (escaped text plus the raw bytes in hex when it is not
UTF-8), the entry name on disk is bounded and printable (``docasset.core.files.stored_name``).

Settling: an entry is claimed when two observations (size, mtime, inode) taken at least one
tick apart agree, its mtime is ``settle_seconds`` old, and no process has it open for writing
(a Linux read-lease probe, where the file system and permissions allow it). ``docasset
ingest`` claims at once (no settle wait) but still leaves files being written.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from docasset.core.files import (
    atomic_write,
    clean_text,
    confined,
    display_name,
    fsync_dir,
    locked,
    name_hex,
    read_json,
    stored_name,
    sweep_tmp,
)
from docasset.core.intake.scans import file_kind
from docasset.core.recovery import mark_pending
from docasset.core.tunable import tunable
from docasset.core.workdir import Workdir
from docasset.errors import UnsafePathError

_F_SETLEASE = getattr(fcntl, "F_SETLEASE", 1024)  # Linux: F_LINUX_SPECIFIC_BASE + 0
CLAIM_LOCK = ".claim.lock"
CLAIMING = ".claiming"  # plans of claims in progress
OPEN = ".open"  # markers of batches whose intake has not completed


@dataclass(frozen=True)
class InboxConfig:
    """How the inbox is claimed into batches."""

    settle_seconds: float = tunable(
        2.0,
        "A file is claimed once unchanged (size, mtime) across two sensor ticks and this old "
        "(0: at once).",
        ge=0,
    )
    batch_max_files: int = tunable(500, "Most files one inbox batch takes.", ge=1)
    ingest_retries: int = tunable(
        2,
        "A batch whose ingest run failed or died is run again up to this many times (by the "
        "next docasset ingest or inbox_sensor tick), then listed by docasset status.",
        ge=0,
    )
    dead_run_seconds: float = tunable(
        120.0,
        "A started run whose recorded step process has been gone this long is dead (reported "
        "failed, then retried); a run executed in-process by docasset ingest is dead as soon "
        "as that process is gone.",
        ge=0,
    )


@dataclass(frozen=True)
class InboxEntry:
    """One directory entry of the inbox as observed (``lstat``: links are not followed)."""

    name: bytes
    kind: str
    size: int
    mtime_ns: int
    ino: int
    nlink: int
    writing: bool | None  # open for writing by some process; None: cannot tell

    @property
    def key(self) -> str:
        """The raw name in hex (a lossless key for cursors)."""
        return self.name.hex()

    @property
    def observation(self) -> list[int]:
        return [self.size, self.mtime_ns, self.ino]

    @property
    def display(self) -> str:
        return display_name(self.name)


def _open_for_writing(path: bytes) -> bool | None:
    """Whether some process has a regular file open for writing (read-lease probe).

    A read lease is refused (``EAGAIN``) while any descriptor on the file is open for writing;
    it is released at once. ``None`` when the probe is not allowed (not the file's owner and no
    ``CAP_LEASE``) or not supported by the file system."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.fcntl(fd, _F_SETLEASE, fcntl.F_RDLCK)
    except OSError as exc:
        return True if exc.errno in (errno.EAGAIN, errno.EBUSY) else None
    else:
        fcntl.fcntl(fd, _F_SETLEASE, fcntl.F_UNLCK)
        return False
    finally:
        os.close(fd)


def scan_inbox(wd: Workdir) -> list[InboxEntry]:
    """Every entry of the inbox (dot files excepted: uploads in progress by convention)."""
    inbox = os.fsencode(wd.inbox)
    out = []
    for name in sorted(os.listdir(inbox)):
        if name.startswith(b"."):
            continue
        path = os.path.join(inbox, name)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue  # claimed or removed since the listing
        kind = file_kind(st.st_mode)
        writing = _open_for_writing(path) if kind == "file" else None
        out.append(
            InboxEntry(name, kind, st.st_size, st.st_mtime_ns, st.st_ino, st.st_nlink, writing)
        )
    return out


def settled(
    entries: list[InboxEntry],
    previous: dict[str, list[int]],
    settle_seconds: float,
    now: float | None = None,
) -> list[InboxEntry]:
    """The entries ready to claim, given the observations of the previous tick."""
    now = time.time() if now is None else now
    ready = []
    for e in entries:
        if e.writing:
            continue
        if settle_seconds > 0 and (
            previous.get(e.key) != e.observation or now - e.mtime_ns / 1e9 < settle_seconds
        ):
            continue
        ready.append(e)
    return ready


@dataclass(frozen=True)
class Claimed:
    """A batch created by :func:`claim` with its manifest entries."""

    batch_id: str
    entries: list[dict[str, Any]]


BATCH_ID = re.compile(r"b\d{8}T\d{6}-[0-9a-f]{6}")  # what new_batch_id makes; nothing else is one


def check_batch_id(batch_id: object) -> str:
    """``batch_id`` if it is one :func:`new_batch_id` makes, else :class:`UnsafePathError`:
    a batch partition key becomes file names (manifest, ledger, ``review/<key>/``, stored
    frames), so a key someone typed into the UI (``../../x``, ``/etc``) is refused before
    anything is read, written or moved."""
    if not isinstance(batch_id, str) or not BATCH_ID.fullmatch(batch_id):
        raise UnsafePathError(
            f"{clean_text(repr(batch_id))} is not a docasset batch id "
            "(b<YYYYMMDD>T<HHMMSS>-<6 hex>, made when the inbox is claimed); batches are "
            "created by docasset ingest or "
            "inbox_sensor, not typed in"
        )
    return batch_id


def new_batch_id(names: list[bytes], now: datetime | None = None) -> str:
    """A sortable batch id: UTC time plus a hash of the names and the moment (unique)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    digest = hashlib.sha256(b"\n".join(names) + f"|{time.time_ns()}|{os.getpid()}".encode())
    return f"b{stamp}-{digest.hexdigest()[:6]}"


def _manifest_path(wd: Workdir, batch_id: str) -> Path:
    return confined(wd.root, "batches", f"{check_batch_id(batch_id)}.json")


def _plan_path(wd: Workdir, batch_id: str) -> Path:
    return wd.batches / CLAIMING / f"{batch_id}.json"


def open_marker(wd: Workdir, batch_id: str) -> Path:
    """The marker of a batch whose intake has not completed."""
    return wd.batches / OPEN / batch_id


def _write_manifest(path: Path, batch_id: str, entries: list[dict[str, Any]]) -> None:
    data = {"batch_id": batch_id, "claimed_at": datetime.now(UTC).isoformat(), "entries": entries}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(data, indent=1).encode())


def _finish(wd: Workdir, batch_id: str, moved: list[dict[str, Any]]) -> bool:
    """Record the moved entries as the batch (or drop an empty claim); True when a batch."""
    if moved:
        _write_manifest(_manifest_path(wd, batch_id), batch_id, moved)
        marker = open_marker(wd, batch_id)
        marker.parent.mkdir(exist_ok=True)
        marker.touch()
        mark_pending(wd, batch_id)  # until an ingest run of the batch succeeds
    else:
        shutil.rmtree(wd.batches / batch_id, ignore_errors=True)
    _plan_path(wd, batch_id).unlink(missing_ok=True)
    return bool(moved)


def _move_in(src: bytes, dst: bytes, entry: InboxEntry) -> None:
    """Move one entry into the batch directory as itself (a link stays a link).

    A regular file with other hard links is copied and its inbox name removed, so the archive
    holds bytes nothing outside can change; so is a file on another file system."""
    if entry.kind == "file" and entry.nlink > 1:
        _copy_out(src, dst)
        return
    try:
        os.rename(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        if entry.kind == "symlink":
            os.symlink(os.readlink(src), dst)
            os.unlink(src)
        elif entry.kind == "file":
            _copy_out(src, dst)
        else:
            raise


def _copy_out(src: bytes, dst: bytes) -> None:
    tmp = dst + b".part"
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
        fout.flush()
        os.fsync(fout.fileno())
    shutil.copystat(src, tmp)
    os.rename(tmp, dst)
    os.unlink(src)


def _entry_record(e: InboxEntry, entry: str, path: str) -> dict[str, Any]:
    return {
        "entry": entry,
        "source_name": e.display,
        "source_name_hex": name_hex(e.name),
        "kind": e.kind,
        "size": e.size,
        "mtime_ns": e.mtime_ns,
        "path": path,
    }


def _unchanged(path: bytes, e: InboxEntry) -> bool:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    return [st.st_size, st.st_mtime_ns, st.st_ino] == e.observation


def claim(wd: Workdir, entries: list[InboxEntry], batch_max_files: int) -> list[Claimed]:
    """Claim ``entries`` into new batches of at most ``batch_max_files``; returns the batches.

    An entry that changed since it was observed, or that another claimer took, is skipped
    (it stays in the inbox for a later tick, or is already someone's)."""
    out: list[Claimed] = []
    inbox = os.fsencode(wd.inbox)
    with locked(wd.batches / CLAIM_LOCK):
        recover_claims(wd)
        for i in range(0, len(entries), max(1, batch_max_files)):
            chunk = entries[i : i + batch_max_files]
            batch_id = new_batch_id([e.name for e in chunk])
            while _manifest_path(wd, batch_id).exists():
                batch_id = new_batch_id([e.name for e in chunk])
            width = max(4, len(str(len(chunk))))
            planned = []
            for n, e in enumerate(chunk, start=1):
                entry = f"{n:0{width}d}-{stored_name(e.name)}"
                planned.append((e, entry, f"batches/{batch_id}/{entry}"))
            plan = [_entry_record(e, en, p) for e, en, p in planned]
            _write_manifest(_plan_path(wd, batch_id), batch_id, plan)
            bdir = wd.batches / batch_id
            bdir.mkdir()
            moved = []
            for e, entry, rel in planned:
                src = os.path.join(inbox, e.name)
                if not _unchanged(src, e):
                    continue
                try:
                    _move_in(src, os.fsencode(wd.root / rel), e)
                except FileNotFoundError:
                    continue
                moved.append(_entry_record(e, entry, rel))
            fsync_dir(bdir)
            fsync_dir(wd.inbox)
            if _finish(wd, batch_id, moved):
                out.append(Claimed(batch_id, moved))
    return out


def claim_now(wd: Workdir, batch_max_files: int = InboxConfig.batch_max_files) -> list[Claimed]:
    """Claim every inbox entry at once (no settle wait) except files open for writing: what
    ``docasset ingest`` does."""
    return claim(wd, [e for e in scan_inbox(wd) if not e.writing], batch_max_files)


def recover_claims(wd: Workdir) -> list[str]:
    """Finish claims a killed claimer left half done (call under the claim lock): the entries
    that were moved belong to the batch, the others stay in the inbox."""
    sweep_tmp(wd.batches)
    fixed = []
    for plan in sorted((wd.batches / CLAIMING).glob("*.json")):
        data = json.loads(plan.read_text("utf-8"))
        moved = [e for e in data["entries"] if os.path.lexists(wd.root / e["path"])]
        _finish(wd, str(data["batch_id"]), moved)
        fixed.append(str(data["batch_id"]))
    return fixed


def read_manifest(wd: Workdir, batch_id: str) -> dict[str, Any]:
    """A batch's manifest with its entries; a claim a killed claimer left is finished first,
    and a manifest of an older docasset (``files``: names still in the inbox) is read as
    entries whose path is in the inbox."""
    path = _manifest_path(wd, batch_id)
    if not path.exists() and _plan_path(wd, batch_id).exists():
        with locked(wd.batches / CLAIM_LOCK):
            recover_claims(wd)
    data = read_json(
        path,
        f"restore {path} from a backup (the batch's files are in batches/{batch_id}/, or "
        "filed away as its ledger index/<batch>.jsonl records)",
    )
    if "entries" not in data:  # written before claims moved files
        data["entries"] = [
            {
                "entry": name,
                "source_name": display_name(name),
                "source_name_hex": name_hex(name),
                "kind": None,
                "path": f"inbox/{name}",
            }
            for name in data.get("files", [])
        ]
    return data
