"""Correction memory: "never the same mistake twice", before any retraining.

When an operator corrects a document, the vendor's exact company name and address are
remembered, scoped to that vendor (keyed by the corrected company name). The next document
whose top lines show that vendor gets those fields from memory, provided the remembered value
is actually present in its OCR text. Entries are append-only records in ``entries.jsonl``
(who, which correction, when); removing an entry appends a tombstone, so the log stays an audit.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from rapidfuzz import fuzz

from docasset.core.corrections import latest_per_document
from docasset.core.files import append_line
from docasset.errors import DocassetError

MEMORY_FIELDS = ("company", "address", "vendor")
VENDOR_FIELDS = ("company", "vendor")
HEADER_LINES = 8  # where a vendor's name is printed
MATCH_SCORE = 90.0


@dataclass(frozen=True)
class MemoryEntry:
    """One remembered value: ``field`` of vendor ``vendor`` is ``value``."""

    id: str
    vendor: str
    field: str
    value: str
    source_correction: str
    annotator: str
    created_at: str


def vendor_key(name: str) -> str:
    """A vendor's key: upper-case letters and digits of its name, single-spaced."""
    return " ".join(re.sub(r"[^A-Z0-9]+", " ", name.upper()).split())


class CorrectionMemory:
    """The memory store under a directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / "entries.jsonl"

    def _log(self) -> list[dict[str, object]]:
        if not self.path.is_file():
            return []
        return [json.loads(x) for x in self.path.read_text("utf-8").splitlines() if x.strip()]

    def entries(self) -> list[MemoryEntry]:
        """Live entries (added and not removed), newest last."""
        live: dict[str, MemoryEntry] = {}
        for rec in self._log():
            if rec["op"] == "add":
                live[str(rec["id"])] = MemoryEntry(
                    **{k: rec[k] for k in MemoryEntry.__annotations__}
                )  # type: ignore[arg-type]
            else:
                live.pop(str(rec["id"]), None)
        return list(live.values())

    def remove(self, entry_id: str, reason: str, actor: str = "docasset") -> None:
        """Remove an entry (a tombstone is appended; the log keeps the history)."""
        if entry_id not in {e.id for e in self.entries()}:
            raise DocassetError(f"no live memory entry {entry_id!r}")
        rec = {
            "op": "remove",
            "id": entry_id,
            "reason": reason,
            "actor": actor,
            "at": datetime.now(UTC).isoformat(),
        }
        append_line(self.path, json.dumps(rec))

    def learn(self, corrections: pl.DataFrame) -> list[MemoryEntry]:
        """Add entries from the latest, unconflicted corrections; returns the new entries."""
        known = {(e.vendor, e.field, e.value) for e in self.entries()}
        removed = {str(r["id"]) for r in self._log() if r["op"] == "remove"}
        added = []
        for row in latest_per_document(corrections).iter_rows(named=True):
            if row["conflict"] or row["verdict"]:
                continue
            fields = json.loads(row["fields_json"])
            name = next((fields[f] for f in VENDOR_FIELDS if fields.get(f)), None)
            if not name or not vendor_key(name):
                continue
            for f in MEMORY_FIELDS:
                value = fields.get(f)
                key = (vendor_key(name), f, value)
                if not value or key in known:
                    continue
                entry_id = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:12]
                if entry_id in removed:
                    continue  # removed on purpose: do not learn it back
                entry = MemoryEntry(
                    entry_id,
                    key[0],
                    f,
                    value,
                    row["correction_id"],
                    row["annotator"],
                    datetime.now(UTC).isoformat(),
                )
                append_line(self.path, json.dumps({"op": "add", **entry.__dict__}))
                known.add(key)
                added.append(entry)
        return added


def find_vendor(text: str, entries: list[MemoryEntry]) -> str | None:
    """The remembered vendor whose name appears in the document's header lines, if any."""
    header = " ".join(text.split("\n")[:HEADER_LINES]).upper()
    best, best_score = None, MATCH_SCORE
    for e in entries:
        if e.field not in VENDOR_FIELDS:
            continue
        score = fuzz.partial_ratio(e.vendor, vendor_key(header)) if e.vendor else 0.0
        if score >= best_score:
            best, best_score = e.vendor, score
    return best


def recall(text: str, entries: list[MemoryEntry]) -> dict[str, tuple[str, int, int, str]]:
    """Field -> (value, start, end, entry id) for the document's vendor, when the remembered
    value is present in the text (exactly, ignoring case and spacing, or fuzzily >= 90)."""
    vendor = find_vendor(text, entries)
    if vendor is None:
        return {}
    out: dict[str, tuple[str, int, int, str]] = {}
    for e in entries:
        if e.vendor != vendor:
            continue
        res = fuzz.partial_ratio_alignment(e.value.upper(), text.upper().replace("\n", " "))
        if res is not None and res.score >= MATCH_SCORE:
            out[e.field] = (e.value, res.dest_start, res.dest_end, e.id)
    return out
