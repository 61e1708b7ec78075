"""Settling: an inbox file is claimed only once it is complete (real files, a real writer)."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

from PIL import Image

from docasset.core.intake.inbox import claim, claim_now, scan_inbox, settled
from docasset.core.intake.ledger import process_batch
from docasset.core.intake.scans import IntakeLimits
from docasset.core.workdir import Workdir


def _png_bytes(shade: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (300, 200), shade).save(buf, format="PNG", compress_level=0)
    return buf.getvalue()


def test_an_entry_settles_when_two_observations_agree_and_it_is_old_enough(
    tmp_path: Path,
) -> None:
    wd = Workdir(tmp_path)
    path = wd.inbox / "scan.png"
    path.write_bytes(_png_bytes(1)[:100])
    [first] = scan_inbox(wd)
    assert settled([first], {}, settle_seconds=0.01, now=time.time() + 1) == []  # first sight
    seen = {first.key: first.observation}
    with open(path, "ab") as fh:  # still growing
        fh.write(b"more")
    [grown] = scan_inbox(wd)
    assert settled([grown], seen, settle_seconds=0.01, now=time.time() + 1) == []
    seen = {grown.key: grown.observation}
    assert settled([grown], seen, settle_seconds=3600) == []  # unchanged, but too recent
    assert settled([grown], seen, settle_seconds=0.01, now=time.time() + 1) == [grown]
    assert settled([grown], {}, settle_seconds=0) == [grown]  # no settle wait asked


def test_a_file_still_being_written_is_not_claimed_and_is_ok_once_complete(
    tmp_path: Path,
) -> None:
    """Issue 11: a file still being written when the settle time passed was quarantined as
    corrupt, then completed inside the quarantine."""
    wd = Workdir(tmp_path)
    data = _png_bytes(7)
    with open(wd.inbox / "slow-upload.png", "wb") as writer:
        writer.write(data[: len(data) // 2])
        writer.flush()
        os.utime(writer.fileno(), (time.time() - 3600,) * 2)  # the writer paused for an hour
        [entry] = scan_inbox(wd)
        assert entry.writing is True
        seen = {entry.key: entry.observation}
        assert settled([entry], seen, settle_seconds=2.0) == []  # stable, old, but open
        assert claim_now(wd) == []  # docasset ingest leaves it too
        writer.write(data[len(data) // 2 :])
    [entry] = scan_inbox(wd)
    assert entry.writing is False
    [claimed] = claim_now(wd)
    [rec] = list(process_batch(wd, claimed.batch_id, IntakeLimits()))
    assert rec["status"] == "ok" and (wd.root / rec["stored_path"]).read_bytes() == data


def test_an_entry_that_changed_since_it_was_observed_is_left_for_later(tmp_path: Path) -> None:
    wd = Workdir(tmp_path)
    (wd.inbox / "a.png").write_bytes(_png_bytes(1))
    [entry] = scan_inbox(wd)
    (wd.inbox / "a.png").write_bytes(_png_bytes(2) + b"x")  # replaced after the observation
    assert claim(wd, [entry], 10) == []
    assert [e.display for e in scan_inbox(wd)] == ["a.png"]
    assert list(wd.batches.glob("*.json")) == []  # no empty batch is left behind


def test_dot_files_are_uploads_in_progress_and_left_alone(tmp_path: Path) -> None:
    wd = Workdir(tmp_path)
    (wd.inbox / ".scan.png.part").write_bytes(b"partial")
    (wd.inbox / "scan.png").write_bytes(_png_bytes(3))
    assert [e.display for e in scan_inbox(wd)] == ["scan.png"]
    claim_now(wd)
    assert [p.name for p in wd.inbox.iterdir()] == [".scan.png.part"]
