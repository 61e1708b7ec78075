"""A damaged documents index and a full disk are typed errors naming the file and the way
back (issue 23 defects 11 and 18)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from docasset.core.files import store_errors
from docasset.core.intake.index import DocumentIndex
from docasset.errors import NoSpaceError, StoreError


def test_a_damaged_index_says_to_delete_it_and_deleting_it_rebuilds(tmp_path: Path) -> None:
    (tmp_path / "index").mkdir()
    # The ledger is the record the index is rebuilt from.
    (tmp_path / "index" / "b20260101T000000-abcdef.jsonl").write_text(
        '{"doc_id": "d1", "status": "ok", "batch_id": "b20260101T000000-abcdef",'
        ' "entry": "e", "source_name": "s", "stored_path": "archive/d1.png"}\n'
    )
    index = DocumentIndex.for_root(tmp_path)
    assert "d1" in index
    db = tmp_path / "index" / "documents.sqlite"
    for extra in ("-wal", "-shm"):
        Path(f"{db}{extra}").unlink(missing_ok=True)
    db.write_bytes(b"this is not a database" * 300)
    with pytest.raises(StoreError) as err:
        DocumentIndex.for_root(tmp_path)
    assert err.value.path == str(db) and "damaged" in err.value.problem
    assert f"delete {db}" in err.value.recovery and "rebuilds" in err.value.recovery
    db.unlink()  # what the message says to do
    assert "d1" in DocumentIndex.for_root(tmp_path)


def test_a_full_disk_is_no_space_left_on_device(tmp_path: Path) -> None:
    # A real ENOSPC: /dev/full refuses every write with it.
    with (
        pytest.raises(NoSpaceError, match="no space left on device"),
        store_errors(Path("/dev/full"), "x"),
        open("/dev/full", "wb") as fh,
    ):
        fh.write(b"x" * 10)
        fh.flush()
    # SQLite's "database or disk is full" (SQLITE_FULL), here from a page limit.
    db = tmp_path / "full.sqlite"
    with pytest.raises(NoSpaceError) as err, store_errors(db, "x"):
        con = sqlite3.connect(db)
        con.execute("PRAGMA max_page_count=2")
        con.execute("CREATE TABLE t (x TEXT)")
        con.executemany("INSERT INTO t VALUES (?)", [("y" * 1000,)] * 100)
    assert str(err.value).startswith(f"{db}: no space left on device")
