"""The documents index: doc id -> batch, status, stored path, source name (SQLite, WAL).

``index/documents.sqlite`` in the working directory. It is where duplicates are decided: a
document is accepted by :meth:`DocumentIndex.claim`, one ``INSERT`` on a ``UNIQUE`` doc id,
so of two processes that meet the same bytes at once exactly one owns them (the other gets
``duplicate``) - no check-then-act. Later stages look documents up here in O(1) instead of
reading every batch's ledger, and record per-document failures (``failures`` table).

The per-batch ledgers (``index/<batch>.jsonl``) stay the record of every outcome; the index
is rebuilt from them when it is missing (first use of a working directory written by an
older docasset, or a deleted index). The working directory must be on a local file system
(SQLite's WAL and ``flock`` need one).

API (every method opens its own short connection, so one object is safe across threads and
processes)::

    ix = DocumentIndex.for_root(wd.root)
    owner = ix.claim(doc_id, batch_id, entry, source_name, stored_path)  # -> Owner
    ix.set_status(doc_id, "ok")             # pending -> ok | quarantined
    doc_id in ix                            # accepted (status ok)?
    ix.get(doc_id) -> IndexedDoc | None
    ix.accepted_ids() -> set[str]
    ix.batches_of(doc_ids) -> {doc_id: batch_id}
    ix.record_failure(doc_id, stage, batch_id, reason) / ix.clear_failures(stage, batch_id, ids)
    ix.failures(batch_id, stage) -> {doc_id: reason}
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from docasset.core.files import locked, store_errors

INDEX_FILE = "documents.sqlite"
STATUSES = ("pending", "ok", "quarantined")
OCR_STAGE = "ocr"  # the stage name OCR failures are recorded under
_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    batch_id TEXT NOT NULL,
    entry TEXT NOT NULL,
    source_name TEXT NOT NULL,
    stored_path TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_batch ON documents (batch_id);
CREATE TABLE IF NOT EXISTS failures (
    doc_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (doc_id, stage, batch_id)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Owner:
    """Who holds a doc id after :meth:`DocumentIndex.claim`; ``mine``: the caller does."""

    doc_id: str
    batch_id: str
    entry: str
    mine: bool


@dataclass(frozen=True)
class IndexedDoc:
    """One row of the documents table."""

    doc_id: str
    batch_id: str
    entry: str
    source_name: str
    stored_path: str
    status: str
    reason: str | None


def _now() -> str:
    return datetime.now(UTC).isoformat()


class DocumentIndex:
    """The documents index of one working directory (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # One process creates the schema and backfills from the ledgers; the others wait.
        with locked(path.with_name(path.name + ".lock")), self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            done = db.execute("SELECT value FROM meta WHERE key='backfilled'").fetchone()
            if done is None:
                db.execute("BEGIN IMMEDIATE")
                self._backfill(db, path.parent)
                db.execute("INSERT INTO meta VALUES ('backfilled', ?)", (_now(),))
                db.execute("COMMIT")

    @classmethod
    def for_root(cls, root: Path) -> DocumentIndex:
        """The index of the working directory at ``root`` (``index/documents.sqlite``)."""
        return cls(root / "index" / INDEX_FILE)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # Autocommit; writers use BEGIN IMMEDIATE. busy_timeout waits out the other writers.
        # A damaged file or a full disk is a typed error naming the file and the way back.
        recovery = (
            f"delete {self.path} (and its -wal/-shm files beside it): docasset rebuilds the "
            f"index from the batch ledgers {self.path.parent}/*.jsonl at the next use"
        )
        with (
            store_errors(self.path, recovery),
            closing(sqlite3.connect(self.path, timeout=60.0, isolation_level=None)) as db,
        ):
            db.execute("PRAGMA busy_timeout=60000")
            yield db

    @staticmethod
    def _backfill(db: sqlite3.Connection, ledgers: Path) -> None:
        """Accepted documents of every ledger, oldest batch first (its first claim wins)."""
        for ledger in sorted(ledgers.glob("*.jsonl")):
            for line in ledger.read_text("utf-8").splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn last line: its file was not filed away either
                if not isinstance(rec, dict) or rec.get("status") != "ok" or not rec.get("doc_id"):
                    continue
                db.execute(
                    "INSERT OR IGNORE INTO documents VALUES (?, ?, ?, ?, ?, 'ok', NULL, ?)",
                    (
                        str(rec["doc_id"]),
                        str(rec.get("batch_id") or ledger.stem),
                        str(rec.get("entry") or rec.get("source_name") or ""),
                        str(rec.get("source_name") or ""),
                        str(rec.get("stored_path") or ""),
                        str(rec.get("recorded_at") or _now()),
                    ),
                )

    def claim(
        self, doc_id: str, batch_id: str, entry: str, source_name: str, stored_path: str
    ) -> Owner:
        """Accept ``doc_id`` for ``(batch_id, entry)`` unless someone holds it already.

        Atomic: of concurrent claims of one doc id exactly one gets ``mine=True``. A repeated
        claim by the same batch entry (a re-run) is ``mine`` again."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "INSERT OR IGNORE INTO documents VALUES (?, ?, ?, ?, ?, 'pending', NULL, ?)",
                    (doc_id, batch_id, entry, source_name, stored_path, _now()),
                )
                row = db.execute(
                    "SELECT batch_id, entry FROM documents WHERE doc_id = ?", (doc_id,)
                ).fetchone()
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return Owner(doc_id, row[0], row[1], (row[0], row[1]) == (batch_id, entry))

    def set_status(self, doc_id: str, status: str, reason: str | None = None) -> None:
        """Move a document to ``status`` (``ok`` once filed away; ``quarantined`` when a later
        stage found it cannot be decoded after all)."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        with self._connect() as db:
            db.execute(
                "UPDATE documents SET status = ?, reason = ? WHERE doc_id = ?",
                (status, reason, doc_id),
            )

    def get(self, doc_id: str) -> IndexedDoc | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT doc_id, batch_id, entry, source_name, stored_path, status, reason "
                "FROM documents WHERE doc_id = ?",
                (doc_id,),
            ).fetchone()
        return IndexedDoc(*row) if row else None

    def of_entry(self, batch_id: str, entry: str) -> IndexedDoc | None:
        """The document a batch entry was accepted as (None: not accepted by that entry)."""
        with self._connect() as db:
            row = db.execute(
                "SELECT doc_id, batch_id, entry, source_name, stored_path, status, reason "
                "FROM documents WHERE batch_id = ? AND entry = ?",
                (batch_id, entry),
            ).fetchone()
        return IndexedDoc(*row) if row else None

    def __contains__(self, doc_id: object) -> bool:
        """Whether ``doc_id`` is an accepted document (what corrections may refer to)."""
        if not isinstance(doc_id, str):
            return False
        with self._connect() as db:
            row = db.execute(
                "SELECT 1 FROM documents WHERE doc_id = ? AND status = 'ok'", (doc_id,)
            ).fetchone()
        return row is not None

    def batches_of(self, doc_ids: Iterable[str]) -> dict[str, str]:
        """Doc id -> the batch that holds it, for the ids the index knows (one query per 500
        ids: what lets a stage read only the batches its documents are in)."""
        ids = list(dict.fromkeys(doc_ids))
        out: dict[str, str] = {}
        with self._connect() as db:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT doc_id, batch_id FROM documents WHERE doc_id IN ({marks})", chunk
                )
                out.update(dict(rows.fetchall()))
        return out

    def accepted_ids(self) -> set[str]:
        with self._connect() as db:
            return {r[0] for r in db.execute("SELECT doc_id FROM documents WHERE status='ok'")}

    def record_failure(self, doc_id: str, stage: str, batch_id: str, reason: str) -> None:
        """Record that ``stage`` failed on a document of ``batch_id`` (replaces an older one)."""
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?, ?)",
                (doc_id, stage, batch_id, reason, _now()),
            )

    def clear_failures(self, stage: str, batch_id: str, doc_ids: Iterable[str]) -> None:
        """Forget failures of documents that ``stage`` has now processed (a re-run fixed them)."""
        with self._connect() as db:
            db.executemany(
                "DELETE FROM failures WHERE doc_id = ? AND stage = ? AND batch_id = ?",
                [(d, stage, batch_id) for d in doc_ids],
            )

    def failures(self, batch_id: str, stage: str) -> dict[str, str]:
        """Doc id -> reason of the documents of a batch that ``stage`` failed on."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT doc_id, reason FROM failures WHERE batch_id = ? AND stage = ?",
                (batch_id, stage),
            ).fetchall()
        return dict(rows)
