from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from PIL import Image

from docasset.core.intake.ledger import (
    known_doc_ids,
    new_batch_id,
    pending_files,
    process_batch,
    read_ledger,
    write_manifest,
)
from docasset.core.intake.scans import IntakeLimits
from docasset.core.workdir import Workdir


def _png(path: Path, shade: int) -> None:
    Image.new("L", (200, 100), shade).save(path)


def _batch(wd: Workdir) -> str:
    files = pending_files(wd)
    bid = new_batch_id(files)
    write_manifest(wd, bid, files)
    return bid


def test_mixed_batch_keeps_everything(tmp_path: Path) -> None:
    wd = Workdir(tmp_path)
    _png(wd.inbox / "good.png", 200)
    _png(wd.inbox / "other.png", 100)
    shutil.copy(wd.inbox / "good.png", wd.inbox / "copy of good.png")
    (wd.inbox / "empty.jpg").write_bytes(b"")
    (wd.inbox / "notes.png").write_text("not an image")
    odd = os.fsencode(str(wd.inbox)) + b"/scan\xff.png"
    _png(Path(os.fsdecode(odd)), 50)
    bid = _batch(wd)
    assert pending_files(wd) == []  # claimed by the manifest
    recs = {r["source_name"]: r for r in process_batch(wd, bid, IntakeLimits())}
    assert len(recs) == 6
    statuses = sorted(r["status"] for r in recs.values())
    assert statuses == ["duplicate", "ok", "ok", "ok", "quarantined", "quarantined"]
    assert recs["empty.jpg"]["reason"] == "zero_bytes"
    assert recs["notes.png"]["reason"] == "unsupported_format"
    assert list(wd.inbox.iterdir()) == []  # every file left the inbox ...
    for r in recs.values():  # ... to where its record says
        assert (wd.root / str(r["stored_path"])).exists()
    assert (wd.root / f"{recs['empty.jpg']['stored_path']}.reason.json").exists()
    assert len(known_doc_ids(wd)) == 3


def test_rerun_is_idempotent_and_resumes_after_a_crash(tmp_path: Path) -> None:
    wd = Workdir(tmp_path)
    for i in range(3):
        _png(wd.inbox / f"s{i}.png", 60 * i)
    bid = _batch(wd)
    # Simulate a crash after the first file was recorded but before it was moved.
    gen = process_batch(wd, bid, IntakeLimits())
    first = next(gen)
    gen.close()
    ledger = read_ledger(wd, bid)
    assert len(ledger) == 1 and first["status"] == "ok"
    again = list(process_batch(wd, bid, IntakeLimits()))
    assert [r["source_name"] for r in again] == ["s0.png", "s1.png", "s2.png"]
    assert again[0]["recorded_at"] == first["recorded_at"]  # not recorded twice
    assert list(process_batch(wd, bid, IntakeLimits())) == again
    assert len(read_ledger(wd, bid)) == 3


def test_duplicate_across_batches(tmp_path: Path) -> None:
    wd = Workdir(tmp_path)
    _png(wd.inbox / "a.png", 10)
    list(process_batch(wd, _batch(wd), IntakeLimits()))
    _png(wd.inbox / "a-again.png", 10)
    recs = list(process_batch(wd, _batch(wd), IntakeLimits()))
    assert recs[0]["status"] == "duplicate"
    assert json.loads(json.dumps(recs[0]))["detail"].startswith("same bytes")
