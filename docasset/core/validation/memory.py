"""Correction memory: "never the same mistake twice", before any retraining.

When an operator corrects a document, the vendor's exact company name and address are
remembered, scoped to that vendor (keyed by the corrected company name), and so is the keyword
its documents print before the total (``kind="anchor"``: the label of the line that carries the
corrected total, e.g. ``TOTAL RM`` or ``GRAND TOTAL``; learned when the corrected document's
OCR text is given). The memory is the vendor history of extraction
(``docasset.core.extraction.history``): :func:`vendor_history` recognises a document's vendor
from its top lines and returns the remembered values present in its OCR text (or, for an
anchor, the amount on the keyword's line), with how many corrections typed each (``support``),
plus every value the vendor's stable fields were typed with, so that extraction can accept a
field the history confirms and block one that contradicts it. Entries are append-only records
in ``entries.jsonl`` (who, which correction, when); a later correction typing the same value
appends a ``seen`` record (its support); removing an entry appends a tombstone, so the log
stays an audit.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from rapidfuzz import fuzz

from docasset.core.extraction.fields import parse_amount
from docasset.core.extraction.history import STABLE_FIELDS, HistoryHit, VendorHistory
from docasset.core.extraction.rules import AMOUNT_RE, NOT_TOTAL_RE
from docasset.core.extraction.vendor_keys import letters_and_digits
from docasset.core.files import append_line, read_jsonl
from docasset.core.ocr.text import lines_with_offsets
from docasset.core.validation.corrections import CorrectionRecord, latest_per_document
from docasset.errors import DocassetError, StoreError

MEMORY_FIELDS = STABLE_FIELDS
VENDOR_FIELDS = ("company", "vendor")
HEADER_LINES = 8  # where a vendor's name is printed
MATCH_SCORE = 90.0
ANCHOR_FIELDS = ("total",)
# Labels that can name a payable total (any language the fixtures and SROIE print); a line
# carrying the corrected amount under another label (CASH, ITEM ...) teaches no keyword.
TOTAL_LABEL_RE = re.compile(
    r"TOTAL|TOTAAL|AMOUNT|DUE|NETT?|PAYABLE|BALANCE|JUMLAH|GESAMT|SUMME|BETRAG|MONTANT|IMPORTE"
)


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
    kind: str = "value"  # value: the field's exact value | anchor: the label before it
    support: int = 1  # corrections that typed this value (the first one and later "seen")


def vendor_key(name: str) -> str:
    """A vendor's key: upper-case letters and digits of its name, single-spaced."""
    return letters_and_digits(name)


LEARNED = "learned"  # log op: a correction learn() has read (entries or not)
MEMORY_RECOVERY = (
    "restore {path} from a backup, or delete the damaged line (the memory entries it recorded "
    "are lost; docasset memory list shows what remains)"
)


class CorrectionMemory:
    """The memory store under a directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / "entries.jsonl"

    def _log(self) -> list[dict[str, Any]]:
        # A torn last line (a killed append) is left out with a warning; damage elsewhere
        # is a StoreError naming the line.
        recs = read_jsonl(self.path, MEMORY_RECOVERY.format(path=self.path))
        bad = next(
            (n for n, r in enumerate(recs, 1) if not isinstance(r, dict) or "op" not in r), None
        )
        if bad is not None:
            raise StoreError(
                str(self.path),
                f"record {bad} is not a memory log record",
                MEMORY_RECOVERY.format(path=self.path),
            )
        return recs

    def entries(self, log: list[dict[str, Any]] | None = None) -> list[MemoryEntry]:
        """Live entries (added and not removed), newest last (from ``log`` when the caller
        has read it already)."""
        live: dict[str, MemoryEntry] = {}
        seen: dict[str, set[str]] = {}
        for rec in self._log() if log is None else log:
            if rec["op"] == LEARNED:
                continue
            ident = str(rec["id"])
            if rec["op"] == "add":
                fields = {k: rec[k] for k in MemoryEntry.__annotations__ if k in rec}
                fields.pop("support", None)
                live[ident] = MemoryEntry(**fields)
                seen[ident] = {str(rec["source_correction"])}
            elif rec["op"] == "seen":
                seen.setdefault(ident, set()).add(str(rec["correction"]))
            elif rec["op"] == "remove":
                live.pop(ident, None)
        return [replace(e, support=len(seen.get(e.id, ()))) for e in live.values()]

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

    def learned(self, log: list[dict[str, Any]] | None = None) -> set[str]:
        """Ids of the corrections :meth:`learn` has read (whether or not they taught an
        entry): what the next learning can skip, so it reads only new corrections."""
        out: set[str] = set()
        for rec in self._log() if log is None else log:
            if rec["op"] == "add":
                out.add(str(rec["source_correction"]))
            elif rec["op"] in ("seen", LEARNED):
                out.add(str(rec["correction"]))
        return out

    def learn(
        self, corrections: pl.DataFrame, texts: dict[str, str] | None = None
    ) -> list[MemoryEntry]:
        """Add entries from the latest, unconflicted corrections (total keywords only for
        documents whose OCR text is in ``texts``); returns the new entries."""
        log = self._log()  # read once: entries, counts and what was learned all come from it
        known = {(e.vendor, e.field, e.kind, e.value): e.id for e in self.entries(log)}
        removed = {str(r["id"]) for r in log if r["op"] == "remove"}
        counted = {(str(r["id"]), str(r["source_correction"])) for r in log if r["op"] == "add"}
        counted |= {(str(r["id"]), str(r["correction"])) for r in log if r["op"] == "seen"}
        added = []
        done = self.learned(log)
        for row in latest_per_document(corrections).iter_rows(named=True):
            if row["correction_id"] in done:
                continue
            added += self._learn_one(row, texts, known, removed, counted)
            append_line(self.path, json.dumps({"op": LEARNED, "correction": row["correction_id"]}))
        return added

    def _learn_one(
        self,
        row: dict[str, Any],
        texts: dict[str, str] | None,
        known: dict[tuple[str, str, str, str], str],
        removed: set[str],
        counted: set[tuple[str, str]],
    ) -> list[MemoryEntry]:
        added: list[MemoryEntry] = []
        if row["conflict"] or row["verdict"]:
            return added
        fields = CorrectionRecord.from_row(row).fields
        name = next((fields[f] for f in VENDOR_FIELDS if fields.get(f)), None)
        if not name or not vendor_key(name):
            return added
        found = [(f, "value", fields.get(f)) for f in MEMORY_FIELDS]
        text = (texts or {}).get(row["doc_id"])
        if text:
            found += [(f, "anchor", total_keyword(text, fields.get(f))) for f in ANCHOR_FIELDS]
        for f, kind, value in found:
            if not value:
                continue
            key = (vendor_key(name), f, kind, value)
            if key in known:  # typed again by another correction: one more support
                if (known[key], row["correction_id"]) not in counted:
                    rec = {"op": "seen", "id": known[key], "correction": row["correction_id"]}
                    append_line(self.path, json.dumps(rec))
                    counted.add((known[key], row["correction_id"]))
                continue
            # Value entries keep their historical id (no kind in the hash).
            ident = json.dumps(key if kind != "value" else (key[0], f, value))
            entry_id = hashlib.sha256(ident.encode()).hexdigest()[:12]
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
                kind,
            )
            rec = {"op": "add", **{k: v for k, v in asdict(entry).items() if k != "support"}}
            append_line(self.path, json.dumps(rec))
            known[key] = entry_id
            counted.add((entry_id, row["correction_id"]))
            added.append(entry)
        return added


def _label(line: str) -> str:
    """A line label as compared: upper-case letters and digits, single-spaced."""
    return " ".join(re.sub(r"[^A-Z0-9]+", " ", line.upper()).split())


def total_keyword(text: str, total: str | None) -> str | None:
    """The label printed before the corrected total in ``text`` (same line, or the line above
    when the amount stands alone), if it names a payable total: the last such line, since a
    subtotal of the same amount comes first; subtotal, cash and tax lines never teach one."""
    want = parse_amount(total) if total else None
    if want is None:
        return None
    lines = lines_with_offsets(text)
    found = None
    for i, (_, line) in enumerate(lines):
        for m in AMOUNT_RE.finditer(line):
            if parse_amount(m.group(0)) != want:
                continue
            raw = line[: m.start()]
            if not _label(raw) and i > 0 and not AMOUNT_RE.search(lines[i - 1][1]):
                raw = lines[i - 1][1]
            label = _label(raw)
            if label and TOTAL_LABEL_RE.search(label) and not NOT_TOTAL_RE.search(raw):
                found = label
    return found


def anchored_amount(text: str, keyword: str) -> tuple[str, int, int] | None:
    """The amount printed after ``keyword`` (a line whose label matches it, >= 90), the largest
    when several lines match (the payable total bounds the partial sums)."""
    best: tuple[str, int, int] | None = None
    lines = lines_with_offsets(text)
    for i, (start, line) in enumerate(lines):
        m = AMOUNT_RE.search(line)
        label = _label(line[: m.start()] if m else line)
        if not label or fuzz.ratio(label, keyword) < MATCH_SCORE:
            continue
        if m is None and i + 1 < len(lines):  # the amount on the line below the keyword
            start, line = lines[i + 1]
            m = AMOUNT_RE.search(line)
            if m is None or _label(line[: m.start()]):
                continue
        if m is None:
            continue
        cand = (m.group(0), start + m.start(), start + m.end())
        if best is None or (parse_amount(cand[0]) or 0) > (parse_amount(best[0]) or 0):
            best = cand
    return best


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


def _continues(text: str, end: int) -> bool:
    """Whether the printed line goes on after a recalled value's match: then the value is the
    start of a longer one (a chain's other branch: "... 41150 KLANG, SELANGOR 1245-DESA SRI
    HARTAMAS" after the remembered "... 41150 KLANG, SELANGOR"), not this document's value."""
    rest = text[end:].split("\n", 1)[0]
    return sum(ch.isalnum() for ch in rest) >= 3


def recall(
    text: str, entries: list[MemoryEntry], vendor: str | None = None
) -> dict[str, tuple[str, int, int, str]]:
    """Field -> (value, start, end, entry id) for the document's vendor (``vendor``, else the
    one named in the header): a remembered value present in the text (exactly, ignoring case
    and spacing, or fuzzily >= 90; the best match when the vendor has several, e.g. branch
    addresses), or the amount after a remembered total keyword."""
    vendor = vendor or find_vendor(text, entries)
    if vendor is None:
        return {}
    out: dict[str, tuple[str, int, int, str]] = {}
    scores: dict[str, float] = {}
    flat = text.upper().replace("\n", " ")
    for e in entries:
        if e.vendor != vendor:
            continue
        if e.kind == "anchor":
            hit = anchored_amount(text, e.value)
            # An anchor ranks below any remembered value found in the text.
            score = MATCH_SCORE - 1.0 if hit else 0.0
        else:
            res = fuzz.partial_ratio_alignment(e.value.upper(), flat)
            hit = (e.value, res.dest_start, res.dest_end) if res is not None else None
            score = res.score if res is not None and res.score >= MATCH_SCORE else 0.0
            if hit is not None and _continues(text, res.dest_end):  # type: ignore[union-attr]
                score = 0.0
        if hit is not None and score > scores.get(e.field, 0.0):
            out[e.field] = (*hit, e.id)
            scores[e.field] = score
    return out


def _squash(s: str) -> str:
    return "".join(s.split()).lower()


def vendor_history(
    text: str, entries: list[MemoryEntry], vendor: str | None = None
) -> VendorHistory | None:
    """The document's vendor history: its recalled values (with their entries' support) and
    every value typed for the vendor's stable fields; None when no remembered vendor shows.
    ``vendor``: the memory's vendor the vendor registry matched by the document's printed keys
    (``docasset.core.extraction.vendors``), used when the memory knows it; otherwise the
    vendor is found by its name in the header lines."""
    if vendor is None or not any(e.vendor == vendor for e in entries):
        vendor = find_vendor(text, entries)
    if vendor is None:
        return None
    mine = [e for e in entries if e.vendor == vendor]
    by_id = {e.id: e for e in mine}
    flat = _squash(text)
    hits = {
        f: HistoryHit(
            f, v, s, e, ident, by_id[ident].support, by_id[ident].kind, _squash(v) in flat
        )
        for f, (v, s, e, ident) in recall(text, mine, vendor).items()
    }
    known: dict[str, dict[str, int]] = {}
    for e in mine:
        if e.kind == "value" and e.field in STABLE_FIELDS:
            known.setdefault(e.field, {})[e.value] = e.support
    return VendorHistory(vendor, hits, known)


def history_entries(
    docs: list[tuple[str, dict[str, str], str]],
) -> list[tuple[MemoryEntry, frozenset[str]]]:
    """The entries the memory would hold after correcting ``docs`` (doc id, typed fields, OCR
    text), each with the ids of the documents that typed it; for fitting routing on held-out
    documents with the history the other documents give them (leave one out)."""
    found: dict[tuple[str, str, str, str], set[str]] = {}
    for doc_id, fields, text in docs:
        name = next((fields[f] for f in VENDOR_FIELDS if fields.get(f)), None)
        if not name or not vendor_key(name):
            continue
        vendor = vendor_key(name)
        values = [(f, "value", fields.get(f)) for f in MEMORY_FIELDS]
        values += [(f, "anchor", total_keyword(text, fields.get(f))) for f in ANCHOR_FIELDS]
        for f, kind, value in values:
            if value:
                found.setdefault((vendor, f, kind, value), set()).add(doc_id)
    out = []
    for (vendor, f, kind, value), ids in found.items():
        ident = hashlib.sha256(json.dumps([vendor, f, kind, value]).encode()).hexdigest()[:12]
        entry = MemoryEntry(ident, vendor, f, value, "", "", "", kind, len(ids))
        out.append((entry, frozenset(ids)))
    return out
