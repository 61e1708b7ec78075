"""Inbox claims, the ledger, archive and quarantine, and the documents index (real files)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from docasset.core.intake.inbox import claim_now, read_manifest, recover_claims, scan_inbox
from docasset.core.intake.index import DocumentIndex
from docasset.core.intake.ledger import (
    known_doc_ids,
    process_batch,
    read_ledger,
    unfinished_batches,
)
from docasset.core.intake.scans import IntakeLimits
from docasset.core.workdir import Workdir


def _png(path: Path | str, shade: int) -> None:
    img = Image.new("L", (200, 100), 255)
    ImageDraw.Draw(img).text((10, 40), f"shade {shade}", fill=shade)
    img.save(path, format="PNG")


def _batch(wd: Workdir) -> str:
    [claimed] = claim_now(wd)
    return claimed.batch_id


def _process(wd: Workdir, bid: str) -> list[dict]:
    return list(process_batch(wd, bid, IntakeLimits()))


def test_mixed_batch_keeps_everything(tmp_path: Path) -> None:
    wd = Workdir(tmp_path)
    _png(wd.inbox / "good.png", 200)
    _png(wd.inbox / "other.png", 100)
    shutil.copy(wd.inbox / "good.png", wd.inbox / "copy of good.png")
    (wd.inbox / "empty.jpg").write_bytes(b"")
    (wd.inbox / "notes.png").write_text("not an image")
    _png(os.fsdecode(os.fsencode(str(wd.inbox)) + b"/scan\xff.png"), 50)
    bid = _batch(wd)
    assert scan_inbox(wd) == [] and list(wd.inbox.iterdir()) == []  # claimed = moved out
    recs = {r["source_name"]: r for r in _process(wd, bid)}
    assert len(recs) == 6
    statuses = sorted(r["status"] for r in recs.values())
    assert statuses == ["duplicate", "ok", "ok", "ok", "quarantined", "quarantined"]
    assert recs["empty.jpg"]["reason"] == "zero_bytes"
    assert recs["notes.png"]["reason"] == "unsupported_format"
    # Entries are processed in name order: the first of two equal files is the document.
    assert (recs["copy of good.png"]["status"], recs["good.png"]["status"]) == ("ok", "duplicate")
    for r in recs.values():  # every entry went where its record says
        assert os.path.lexists(wd.root / str(r["stored_path"]))
    assert (wd.root / f"{recs['empty.jpg']['stored_path']}.reason.json").exists()
    assert list((wd.batches / bid).iterdir()) == []
    assert len(known_doc_ids(wd).accepted_ids()) == 3


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
    assert unfinished_batches(wd) == [bid]
    again = _process(wd, bid)
    assert [r["source_name"] for r in again] == ["s0.png", "s1.png", "s2.png"]
    assert again[0]["recorded_at"] == first["recorded_at"]  # not recorded twice
    assert [r["status"] for r in again] == ["ok", "ok", "ok"]  # its own claim, not a duplicate
    assert _process(wd, bid) == again
    assert len(read_ledger(wd, bid)) == 3 and unfinished_batches(wd) == []


def test_duplicate_across_batches(tmp_path: Path) -> None:
    wd = Workdir(tmp_path)
    _png(wd.inbox / "a.png", 10)
    _process(wd, _batch(wd))
    _png(wd.inbox / "a-again.png", 10)
    recs = _process(wd, _batch(wd))
    assert recs[0]["status"] == "duplicate"
    assert json.loads(json.dumps(recs[0]))["detail"].startswith("same bytes")


def test_a_new_file_with_an_old_name_is_a_new_document(tmp_path: Path) -> None:
    """Issue 11: ``scan.png`` sent again with new content was never ingested nor recorded."""
    wd = Workdir(tmp_path)
    _png(wd.inbox / "scan.png", 1)
    [first] = _process(wd, _batch(wd))
    _png(wd.inbox / "scan.png", 2)  # next week, same name, new bytes
    [second] = _process(wd, _batch(wd))
    assert second["status"] == "ok" and second["doc_id"] != first["doc_id"]
    _png(wd.inbox / "scan.png", 2)  # and the same bytes again: a recorded duplicate
    [third] = _process(wd, _batch(wd))
    assert third["status"] == "duplicate" and third["doc_id"] == second["doc_id"]
    assert {first["doc_id"], second["doc_id"]} == known_doc_ids(wd).accepted_ids()


def test_long_names_are_bounded_on_disk_and_kept_as_metadata(tmp_path: Path) -> None:
    """Issue 11: a 250-byte name made ``File name too long`` for duplicates and quarantine."""
    wd = Workdir(tmp_path)
    names = ["x" * 246 + ".png", "y" * 246 + ".png", "z" * 246 + ".jpg"]
    _png(wd.inbox / names[0], 5)
    shutil.copy(wd.inbox / names[0], wd.inbox / names[1])
    (wd.inbox / names[2]).write_bytes(b"")
    recs = _process(wd, _batch(wd))
    assert [r["status"] for r in recs] == ["ok", "duplicate", "quarantined"]
    assert [r["source_name"] for r in recs] == names  # the name as found, whole
    for r in recs:
        for part in Path(r["stored_path"]).parts:
            assert len(part.encode()) <= 200
        assert (wd.root / r["stored_path"]).is_file()
    assert (wd.root / f"{recs[2]['stored_path']}.reason.json").is_file()


def test_non_utf8_names_are_stored_losslessly(tmp_path: Path) -> None:
    wd = Workdir(tmp_path)
    raw = b"re\xe7u \xff.png"
    _png(os.fsdecode(os.path.join(os.fsencode(wd.inbox), raw)), 7)
    [rec] = _process(wd, _batch(wd))
    assert rec["status"] == "ok" and rec["source_name"] == "re\\xe7u \\xff.png"
    assert bytes.fromhex(rec["source_name_hex"]) == raw
    json.dumps(rec).encode("utf-8")  # valid text everywhere (no lone surrogates)


def test_symlinks_and_special_files_are_refused_as_themselves(tmp_path: Path) -> None:
    """Issue 11: a symlink to /etc/passwd was read into the ledger; a link to an image outside
    was OCR'd and the archive kept the link, not the bytes."""
    wd = Workdir(tmp_path / "work")
    outside = tmp_path / "outside.png"
    _png(outside, 9)
    os.symlink("/etc/passwd", wd.inbox / "passwd.png")
    os.symlink(outside, wd.inbox / "outside.png")
    os.mkfifo(wd.inbox / "pipe.png")
    (wd.inbox / "folder").mkdir()
    recs = {r["source_name"]: r for r in _process(wd, _batch(wd))}
    assert {r["status"] for r in recs.values()} == {"quarantined"}
    assert {r["reason"] for r in recs.values()} == {"not_regular_file"}
    assert "root:" not in json.dumps(recs) and "/etc/passwd" in recs["passwd.png"]["detail"]
    assert "fifo" in recs["pipe.png"]["detail"] and "directory" in recs["folder"]["detail"]
    link = wd.root / recs["outside.png"]["stored_path"]
    assert link.is_symlink() and os.readlink(link) == str(outside)  # kept as itself
    assert (wd.root / recs["pipe.png"]["stored_path"]).is_fifo()
    assert list(wd.archive.iterdir()) == [] and known_doc_ids(wd).accepted_ids() == set()


def test_a_hard_link_is_archived_as_a_private_copy(tmp_path: Path) -> None:
    wd = Workdir(tmp_path / "work")
    outside = tmp_path / "kept-elsewhere.png"
    _png(outside, 3)
    os.link(outside, wd.inbox / "linked.png")
    [rec] = _process(wd, _batch(wd))
    archived = wd.root / rec["stored_path"]
    assert rec["status"] == "ok" and archived.stat().st_nlink == 1
    assert archived.read_bytes() == outside.read_bytes() and outside.stat().st_nlink == 1


def _claim_in_child(root: str, q: mp.Queue) -> None:
    q.put([c.batch_id for c in claim_now(Workdir(Path(root)))])


def test_two_claimers_never_take_the_same_file(tmp_path: Path) -> None:
    wd = Workdir(tmp_path)
    for i in range(40):
        _png(wd.inbox / f"s{i:02d}.png", i)
    ctx = mp.get_context("fork")
    q: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=_claim_in_child, args=(str(tmp_path), q)) for _ in range(2)]
    for p in procs:
        p.start()
    batches = [b for _ in procs for b in q.get(timeout=60)]
    for p in procs:
        p.join()
    names = [e["source_name"] for b in batches for e in read_manifest(wd, b)["entries"]]
    assert sorted(names) == [f"s{i:02d}.png" for i in range(40)]  # each once, none lost


def _process_slowly(root: str, batch_id: str, q: mp.Queue) -> None:
    import time

    import docasset.core.intake.ledger as ledger

    real = ledger.inspect_file

    def slow(*args: object, **kwargs: object) -> object:
        time.sleep(0.5)  # both processes have inspected before either decides
        return real(*args, **kwargs)

    ledger.inspect_file = slow  # type: ignore[assignment]
    q.put([r["status"] for r in process_batch(Workdir(Path(root)), batch_id, IntakeLimits())])


def test_concurrent_batches_accept_the_same_bytes_once(tmp_path: Path) -> None:
    """Issue 11: two ingest runs at once accepted an identical document in both batches."""
    wd = Workdir(tmp_path)
    _png(wd.inbox / "a.png", 5)
    b1 = _batch(wd)
    shutil.copy(wd.batches / b1 / os.listdir(wd.batches / b1)[0], wd.inbox / "a-copy.png")
    b2 = _batch(wd)
    ctx = mp.get_context("fork")
    q: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=_process_slowly, args=(str(tmp_path), b, q)) for b in (b1, b2)]
    for p in procs:
        p.start()
    got = sorted(s for _ in procs for s in q.get(timeout=60))
    for p in procs:
        p.join()
    assert got == ["duplicate", "ok"]
    assert len(known_doc_ids(wd).accepted_ids()) == 1


def test_a_claim_killed_between_its_moves_is_finished(tmp_path: Path) -> None:
    wd = Workdir(tmp_path)
    for i in range(3):
        _png(wd.inbox / f"s{i}.png", i)
    bid = _batch(wd)
    manifest = json.loads((wd.batches / f"{bid}.json").read_text())
    # As if the claimer died after moving two of three files: its plan is all that exists.
    third = manifest["entries"][2]
    os.rename(wd.root / third["path"], wd.inbox / "s2.png")
    (wd.batches / ".claiming").mkdir(exist_ok=True)
    (wd.batches / ".claiming" / f"{bid}.json").write_text(json.dumps(manifest))
    (wd.batches / f"{bid}.json").unlink()
    (wd.batches / ".open" / bid).unlink()
    assert [e["source_name"] for e in read_manifest(wd, bid)["entries"]] == ["s0.png", "s1.png"]
    assert recover_claims(wd) == [] and unfinished_batches(wd) == [bid]
    assert [e.display for e in scan_inbox(wd)] == ["s2.png"]  # left for the next claim
    assert [r["status"] for r in _process(wd, bid)] == ["ok", "ok"]
    assert unfinished_batches(wd) == []


def test_the_index_is_rebuilt_from_the_ledgers(tmp_path: Path) -> None:
    wd = Workdir(tmp_path)
    for i in range(3):
        _png(wd.inbox / f"s{i}.png", i)
    _process(wd, _batch(wd))
    before = known_doc_ids(wd).accepted_ids()
    for p in wd.index.glob("documents.sqlite*"):
        p.unlink()
    rebuilt = DocumentIndex.for_root(wd.root)
    assert rebuilt.accepted_ids() == before and len(before) == 3
    assert all(d in rebuilt for d in before) and "ffff000000000000" not in rebuilt


def test_a_manifest_of_an_older_docasset_is_still_processed(tmp_path: Path) -> None:
    wd = Workdir(tmp_path)
    _png(wd.inbox / "old.png", 4)
    (wd.batches / "b20260101T000000-abcdef.json").write_text(
        json.dumps({"batch_id": "b20260101T000000-abcdef", "files": ["old.png"]})
    )
    [rec] = _process(wd, "b20260101T000000-abcdef")
    assert rec["status"] == "ok" and not (wd.inbox / "old.png").exists()


def test_an_unexpected_exception_on_one_file_is_its_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per-document isolation in intake: whatever one file raises, the others go on."""
    import docasset.core.intake.ledger as ledger

    wd = Workdir(tmp_path)
    _png(wd.inbox / "a.png", 1)
    _png(wd.inbox / "b.png", 2)
    real = ledger.inspect_file

    def flaky(path: Path, limits: IntakeLimits) -> object:
        if Path(path).name.endswith("a.png"):
            raise RecursionError("maximum recursion depth exceeded in a decoder")
        return real(path, limits)

    monkeypatch.setattr(ledger, "inspect_file", flaky)
    a, b = _process(wd, _batch(wd))
    assert (a["status"], a["reason"]) == ("quarantined", "unexpected_error")
    assert a["detail"].startswith("RecursionError: maximum recursion")
    assert b["status"] == "ok"


def test_a_deleted_ledger_is_rebuilt_from_where_its_entries_were_filed(tmp_path: Path) -> None:
    """Issue 23 defect 14: ``index/<batch>.jsonl`` deleted and the partition re-run recorded
    every accepted document ``quarantined: unreadable`` (its file had left the batch)."""
    wd = Workdir(tmp_path)
    _png(wd.inbox / "a.png", 10)
    _png(wd.inbox / "b.png", 90)
    _png(wd.inbox / "b-again.png", 90)
    (wd.inbox / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 40)
    bid = _batch(wd)
    first = _process(wd, bid)
    (wd.index / f"{bid}.jsonl").unlink()
    again = _process(wd, bid)
    key = ("source_name", "status", "doc_id", "reason", "stored_path")
    assert [[r[k] for k in key] for r in again] == [[r[k] for k in key] for r in first]
    assert sorted(r["status"] for r in again) == ["duplicate", "ok", "ok", "quarantined"]
    assert all(r.get("rebuilt_from") for r in again)  # said, for the audit
    assert len(read_ledger(wd, bid)) == 4 and _process(wd, bid) == again
    assert DocumentIndex.for_root(wd.root).accepted_ids() == {
        r["doc_id"] for r in first if r["status"] == "ok"
    }
