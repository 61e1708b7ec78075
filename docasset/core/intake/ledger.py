"""Inbox -> batches: manifests, the intake ledger, archive and quarantine.

Files are claimed into a batch by a manifest (the inbox sensor writes it) and leave the inbox
only after their outcome is recorded in the batch's ledger (``index/<batch>.jsonl``, one
fsync'd line per file): then they are moved to ``archive/`` (good and duplicate files) or
``quarantine/<batch>/`` (bad files, with a ``.reason.json`` beside). A crash mid-batch loses
nothing and a re-run finishes the moves and returns the same records (idempotent).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from docasset.core.files import append_line, atomic_write
from docasset.core.intake.scans import IntakeLimits, inspect_file
from docasset.core.tunable import tunable
from docasset.core.workdir import Workdir
from docasset.errors import ScanError


@dataclass(frozen=True)
class InboxConfig:
    """How the inbox is claimed into batches."""

    settle_seconds: float = tunable(
        2.0, "A file must be unchanged this long before intake claims it."
    )
    batch_max_files: int = tunable(500, "Most files one inbox batch takes.")


def _name(p: Path) -> str:
    """A file name as text, even when it is not valid UTF-8 (surrogate-escaped bytes shown)."""
    return os.fsdecode(p.name).encode("utf-8", "backslashreplace").decode("utf-8")


def claimed_names(batches: Path) -> set[str]:
    """Inbox file names already listed in a batch manifest."""
    out: set[str] = set()
    for m in batches.glob("*.json"):
        out.update(json.loads(m.read_text("utf-8"))["files"])
    return out


def pending_files(wd: Workdir, settle_seconds: float = 0.0, now: float | None = None) -> list[Path]:
    """Inbox files not yet claimed by a batch and unchanged for ``settle_seconds``
    (so a file still being copied in is not taken half-written)."""
    now = time.time() if now is None else now
    claimed = claimed_names(wd.batches)
    out = []
    for p in sorted(wd.inbox.iterdir()):
        if p.name.startswith(".") or os.fsdecode(p.name) in claimed:
            continue
        try:
            st = p.lstat()
        except OSError:
            continue
        if p.is_file() and now - st.st_mtime >= settle_seconds:
            out.append(p)
    return out


def new_batch_id(files: list[Path], now: datetime | None = None) -> str:
    """A sortable, unique batch id: UTC time plus a hash of the file names."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    digest = hashlib.sha256(
        "\n".join(os.fsdecode(f.name) for f in files).encode("utf-8", "surrogateescape")
    )
    return f"b{stamp}-{digest.hexdigest()[:6]}"


def write_manifest(wd: Workdir, batch_id: str, files: list[Path]) -> Path:
    """Claim ``files`` for ``batch_id`` (atomic write of ``batches/<batch_id>.json``)."""
    path = wd.batches / f"{batch_id}.json"
    data = {"batch_id": batch_id, "files": [os.fsdecode(f.name) for f in files]}
    # ensure_ascii escapes the surrogates of non-UTF-8 names, so they round-trip exactly.
    atomic_write(path, json.dumps(data, indent=1).encode())
    return path


def read_ledger(wd: Workdir, batch_id: str | None = None) -> list[dict[str, object]]:
    """Recorded intake outcomes: of one batch, or of all batches."""
    paths = [wd.index / f"{batch_id}.jsonl"] if batch_id else sorted(wd.index.glob("*.jsonl"))
    rows: list[dict[str, object]] = []
    for p in paths:
        if p.is_file():
            # A torn last line (crash mid-write) is ignored: its file is still in the inbox.
            for line in p.read_text("utf-8").splitlines():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return rows


def known_doc_ids(wd: Workdir) -> set[str]:
    """Ids of every document accepted so far (what corrections may refer to)."""
    return {str(r["doc_id"]) for r in read_ledger(wd) if r["status"] == "ok"}


def _move(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.exists():
        shutil.move(src, dst)


def process_batch(wd: Workdir, batch_id: str, limits: IntakeLimits) -> Iterator[dict[str, object]]:
    """Record and file away every file of a batch; yield one ledger record per file.

    Status is ``ok`` (archived as ``archive/<doc_id><suffix>``), ``duplicate`` (same bytes as
    a document seen before, in any batch; archived under ``archive/duplicates/``) or
    ``quarantined`` (with ``reason`` and ``detail`` from the ``ScanError``).
    """
    manifest = json.loads((wd.batches / f"{batch_id}.json").read_text("utf-8"))
    ledger = wd.index / f"{batch_id}.jsonl"
    done = {str(r["source_name"]): r for r in read_ledger(wd, batch_id)}
    seen = {
        str(r["doc_id"])
        for r in read_ledger(wd)
        if r["status"] == "ok" and r["batch_id"] != batch_id
    }
    seen |= {str(r["doc_id"]) for r in done.values() if r["status"] == "ok"}
    for name in manifest["files"]:
        src = wd.inbox / name
        if name in done:
            rec = done[name]
        else:
            rec = _record(src, name, batch_id, limits, seen)
            if rec["status"] == "ok":
                seen.add(str(rec["doc_id"]))
            append_line(ledger, json.dumps(rec))
        _move(src, wd.root / str(rec["stored_path"]))
        if rec["status"] == "quarantined":
            reason = wd.root / f"{rec['stored_path']}.reason.json"
            if not reason.exists():
                atomic_write(reason, json.dumps(rec, indent=1).encode())
        yield rec


def _record(
    src: Path, name: str, batch_id: str, limits: IntakeLimits, seen: set[str]
) -> dict[str, object]:
    base: dict[str, object] = {
        "batch_id": batch_id,
        "source_name": name,
        "recorded_at": datetime.now(UTC).isoformat(),
        "doc_id": None,
        "format": None,
        "size_bytes": None,
        "pages": [],
        "reason": None,
        "detail": None,
    }
    try:
        scan = inspect_file(src, limits)
    except ScanError as exc:
        return {
            **base,
            "status": "quarantined",
            "reason": exc.reason,
            "detail": exc.detail,
            "stored_path": f"quarantine/{batch_id}/{_name(src)}",
        }
    pages = [
        {"page": p.page, "width": p.width, "height": p.height, "dpi": p.dpi} for p in scan.pages
    ]
    common = {
        **base,
        "doc_id": scan.doc_id,
        "format": scan.format,
        "size_bytes": scan.size_bytes,
        "pages": pages,
    }
    suffix = {"jpeg": ".jpg", "png": ".png", "tiff": ".tif", "pdf": ".pdf"}[scan.format]
    if scan.doc_id in seen:
        return {
            **common,
            "status": "duplicate",
            "reason": "duplicate",
            "detail": f"same bytes as document {scan.doc_id}",
            "stored_path": f"archive/duplicates/{batch_id}-{_name(src)}",
        }
    return {**common, "status": "ok", "stored_path": f"archive/{scan.doc_id}{suffix}"}
