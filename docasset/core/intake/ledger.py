"""Batches -> outcomes: the intake ledger, archive and quarantine.

A claimed batch (``docasset.core.intake.inbox``) is processed entry by entry: each outcome is
recorded in the batch's ledger (``index/<batch>.jsonl``, one fsync'd line per entry) before
the entry leaves the batch directory for ``archive/`` (good and duplicate files) or
``quarantine/<batch>/`` (everything else, as itself, with a ``.reason.json`` beside). Whether
a document is new or a duplicate is decided by one atomic claim of its content hash in the
documents index (``docasset.core.intake.index``), so concurrent batches never both accept the
same bytes. An exception on one entry is that entry's outcome (``unexpected_error``), never
the batch's. A crash mid-batch loses nothing: a re-run finishes the moves and returns the
same records (idempotent); one process at a time works on a batch (a lock).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from docasset.core.crash import crashpoint
from docasset.core.files import append_line, atomic_write, confined, locked, read_jsonl
from docasset.core.intake.inbox import (
    OPEN,
    InboxConfig,
    check_batch_id,
    open_marker,
    read_manifest,
)
from docasset.core.intake.index import DocumentIndex
from docasset.core.intake.scans import IntakeLimits, ScanFile, inspect_file
from docasset.core.isolation import isolated
from docasset.core.workdir import Workdir
from docasset.errors import DocumentError, ScanError

__all__ = ["InboxConfig", "known_doc_ids", "process_batch", "read_ledger", "unfinished_batches"]
_SUFFIX = {"jpeg": ".jpg", "png": ".png", "tiff": ".tif", "pdf": ".pdf"}


def read_ledger(wd: Workdir, batch_id: str | None = None) -> list[dict[str, Any]]:
    """Recorded intake outcomes: of one batch, or of all batches."""
    paths = [_ledger_path(wd, batch_id)] if batch_id else sorted(wd.index.glob("*.jsonl"))
    rows: list[dict[str, Any]] = []
    for p in paths:
        # A torn last line (crash mid-write) is left out with a warning: its entry was not
        # filed away, and the batch's re-run records it. Damage elsewhere is a StoreError.
        recovery = (
            f"delete the damaged line of {p}, then re-materialize raw_scans partition "
            f"{p.stem} (its re-run records that entry again)"
        )
        rows.extend(rec for rec in read_jsonl(p, recovery) if isinstance(rec, dict))
    return rows


def _ledger_path(wd: Workdir, batch_id: str) -> Path:
    return confined(wd.root, "index", f"{check_batch_id(batch_id)}.jsonl")


def document_index(wd: Workdir) -> DocumentIndex:
    """The documents index of a working directory."""
    return DocumentIndex.for_root(wd.root)


def known_doc_ids(wd: Workdir) -> DocumentIndex:
    """Every document accepted so far (what corrections may refer to): the documents index,
    which answers ``doc_id in known`` with one lookup."""
    return document_index(wd)


def _entry_key(rec: dict[str, Any]) -> str:
    # Ledgers of an older docasset have no entry: their source name was the key.
    return str(rec.get("entry") or rec["source_name"])


def _file_away(src: Path, dst: Path) -> None:
    """Move an entry to where its record says (a no-op once done: re-runs)."""
    if os.path.lexists(src):
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)


def process_batch(wd: Workdir, batch_id: str, limits: IntakeLimits) -> Iterator[dict[str, Any]]:
    """Record and file away every entry of a batch; yield one ledger record per entry.

    Status is ``ok`` (archived as ``archive/<doc_id><suffix>``), ``duplicate`` (same bytes as
    a document accepted before, in any batch; archived under ``archive/duplicates/<batch>/``)
    or ``quarantined`` (with ``reason`` and ``detail``).
    """
    manifest = read_manifest(wd, batch_id)
    ledger = _ledger_path(wd, batch_id)
    index = document_index(wd)
    with locked(wd.batches / f".{batch_id}.lock"):
        done = {_entry_key(r): r for r in read_ledger(wd, batch_id)}
        for entry in manifest["entries"]:
            src = confined(wd.root, str(entry["path"]))
            rec = done.get(str(entry["entry"]))
            if rec is None:
                filed = None if os.path.lexists(src) else _filed(wd, batch_id, entry, index)
                rec = _record(filed or src, entry, batch_id, limits, index)
                if filed is not None:  # the ledger was lost after the entry was filed away
                    rec["rebuilt_from"] = str(filed.relative_to(wd.root))
                append_line(ledger, json.dumps(rec))
            _file_away(src, confined(wd.root, str(rec["stored_path"])))
            crashpoint("file_away")
            if rec["status"] == "quarantined":
                reason = wd.root / f"{rec['stored_path']}.reason.json"
                if not reason.exists():
                    atomic_write(reason, json.dumps(rec, indent=1).encode())
            elif rec["status"] == "ok":
                index.set_status(str(rec["doc_id"]), "ok")
            yield rec
        open_marker(wd, batch_id).unlink(missing_ok=True)  # intake of the batch is complete


def _filed(wd: Workdir, batch_id: str, entry: dict[str, Any], index: DocumentIndex) -> Path | None:
    """Where an entry missing from its batch directory was filed away by an earlier run whose
    ledger line is lost (a deleted or damaged ledger): its quarantine record's file, the
    archived document the documents index names for this batch entry, or its duplicate copy.
    None when it is nowhere (then it is recorded as unreadable, as before)."""
    name = str(entry["entry"])
    quarantined = wd.quarantine / batch_id / name
    if os.path.lexists(quarantined):
        return quarantined
    doc = index.of_entry(batch_id, name)
    if doc is not None and os.path.lexists(wd.root / doc.stored_path):
        return wd.root / doc.stored_path
    duplicate = wd.archive / "duplicates" / batch_id / name
    return duplicate if os.path.lexists(duplicate) else None


def unfinished_batches(wd: Workdir) -> list[str]:
    """Batches whose intake has not completed (claimed, then never or not fully processed),
    oldest first; O(such batches), whatever the history."""
    markers = wd.batches / OPEN
    return sorted(p.name for p in markers.iterdir()) if markers.is_dir() else []


def _record(
    src: Path,
    entry: dict[str, Any],
    batch_id: str,
    limits: IntakeLimits,
    index: DocumentIndex,
) -> dict[str, Any]:
    base: dict[str, Any] = {
        "batch_id": batch_id,
        "entry": entry["entry"],
        "source_name": entry["source_name"],
        "source_name_hex": entry.get("source_name_hex"),
        "recorded_at": datetime.now(UTC).isoformat(),
        "doc_id": None,
        "format": None,
        "size_bytes": None,
        "pages": [],
        "reason": None,
        "detail": None,
    }
    quarantine = f"quarantine/{batch_id}/{entry['entry']}"
    scan = isolated(f"{batch_id}/{entry['entry']}", _inspect, src, limits)
    if isinstance(scan, ScanError | DocumentError):
        reason, detail = (
            (scan.reason, scan.detail)
            if isinstance(scan, ScanError)
            else ("unexpected_error", scan.cause)
        )
        return {
            **base,
            "status": "quarantined",
            "reason": reason,
            "detail": detail,
            "stored_path": quarantine,
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
    stored = f"archive/{scan.doc_id}{_SUFFIX[scan.format]}"
    owner = index.claim(scan.doc_id, batch_id, str(entry["entry"]), entry["source_name"], stored)
    crashpoint("index_claim")
    if not owner.mine:
        return {
            **common,
            "status": "duplicate",
            "reason": "duplicate",
            "detail": f"same bytes as document {scan.doc_id} (batch {owner.batch_id})",
            "stored_path": f"archive/duplicates/{batch_id}/{entry['entry']}",
        }
    return {**common, "status": "ok", "stored_path": stored}


def _inspect(src: Path, limits: IntakeLimits) -> ScanFile | ScanError:
    try:
        return inspect_file(src, limits)
    except ScanError as exc:
        return exc
