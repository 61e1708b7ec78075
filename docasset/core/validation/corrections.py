"""The corrections store: human-validated field values, append-only and atomic.

File format (JSONL, UTF-8, one correction per line)::

    {"doc_id": "3f2a9c0e1b7d4a55", "fields": {"company": "ACME SDN BHD", "total": "9.00"},
     "annotator": "alice", "timestamp": "2026-11-24T10:00:00Z", "verdict": null}

``doc_id`` is the document id docasset assigned at intake (content hash). ``fields`` maps schema
field names to the final value as printed, or ``null`` when the document does not have that
field. ``verdict`` is optional: ``"irrelevant"`` or ``"bad_scan"``. ``spans`` is optional:
field -> ``[start, end]`` character offsets in the document's OCR text.

Label Studio's JSON export (a list of tasks, see ``docasset.core.validation.ls_annotations``) is
accepted too: each (task, annotation) becomes one correction, with the same all-or-nothing
validation (its JSON-MIN and CSV exports are refused with a message saying to export JSON).

A file is validated whole: any problem rejects the whole file with line-level reasons and
nothing from it is stored. Accepted files become one immutable segment written to a temp file
and renamed into place (atomic); segments are never modified. Re-importing a file whose bytes
were imported before is a no-op, and records already stored are not stored twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from docasset.core.extraction.fields import DocType
from docasset.core.files import atomic_write
from docasset.core.validation.ls_annotations import corrections_from_export, non_json_export
from docasset.errors import CorrectionsError

VERDICTS = ("irrelevant", "bad_scan")
_UNKNOWN_ID = re.compile(r"unknown document id '([^']*)'")
STORE_COLUMNS = {
    "correction_id": pl.Utf8,
    "doc_id": pl.Utf8,
    "annotator": pl.Utf8,
    "timestamp": pl.Utf8,
    "verdict": pl.Utf8,
    "fields_json": pl.Utf8,
    "spans_json": pl.Utf8,
    "source_file": pl.Utf8,
    "imported_at": pl.Utf8,
}


@dataclass(frozen=True)
class ImportResult:
    """What an import did: ``stored`` new records, ``skipped`` ones already stored; ``segment``
    is the store segment holding the file (the earlier one when ``already_imported``)."""

    path: str
    file_sha: str
    stored: int
    skipped: int
    already_imported: bool
    segment: str | None


def _parse_time(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def validate_line(
    obj: object, doctype: DocType, known_ids: set[str] | None
) -> tuple[dict[str, object] | None, list[str]]:
    """One parsed line -> (canonical record, problems)."""
    if not isinstance(obj, dict):
        return None, ["not a JSON object"]
    problems: list[str] = []
    doc_id = obj.get("doc_id")
    if not isinstance(doc_id, str) or not doc_id:
        problems.append("missing doc_id")
    elif known_ids is not None and doc_id not in known_ids:
        problems.append(f"unknown document id {doc_id!r}")
    fields = obj.get("fields")
    if not isinstance(fields, dict):
        problems.append("'fields' must be an object")
        fields = {}
    for k, v in fields.items():
        if k not in doctype.names:
            problems.append(f"field {k!r} is not in the {doctype.name} schema")
        elif v is not None and not isinstance(v, str):
            problems.append(f"field {k!r} must be a string or null")
    annotator = obj.get("annotator")
    if not isinstance(annotator, str) or not annotator.strip():
        problems.append("missing annotator")
    ts = _parse_time(obj.get("timestamp"))
    if ts is None:
        problems.append("timestamp must be ISO 8601")
    verdict = obj.get("verdict")
    if verdict is not None and verdict not in VERDICTS:
        problems.append(f"verdict must be one of {VERDICTS} or null")
    spans = obj.get("spans") or {}
    if not isinstance(spans, dict) or not all(
        k in doctype.names and isinstance(v, list) and len(v) == 2 for k, v in spans.items()
    ):
        problems.append("'spans' must map schema fields to [start, end]")
        spans = {}
    if not fields and verdict is None:
        problems.append("a correction needs fields or a verdict")
    if unknown := set(obj) - {
        "doc_id",
        "fields",
        "annotator",
        "timestamp",
        "verdict",
        "doc_type",
        "spans",
    }:
        problems.append(f"unknown keys {sorted(unknown)}")
    if problems:
        return None, problems
    record = {
        "doc_id": doc_id,
        "annotator": annotator.strip(),  # type: ignore[union-attr]
        "timestamp": ts,
        "verdict": verdict,
        "fields_json": json.dumps(fields, sort_keys=True, ensure_ascii=False),
        "spans_json": json.dumps(spans, sort_keys=True) if spans else None,
    }
    record["correction_id"] = hashlib.sha256(
        json.dumps(record, sort_keys=True).encode()
    ).hexdigest()[:16]
    return record, []


def parse_file(path: Path, doctype: DocType, known_ids: set[str] | None) -> list[dict[str, object]]:
    """Validate a whole corrections file; raise ``CorrectionsError`` listing every problem."""
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except OSError as exc:
        raise CorrectionsError(str(path), [(0, f"unreadable: {exc}")]) from exc
    except UnicodeDecodeError as exc:
        raise CorrectionsError(str(path), [(0, f"not UTF-8: {exc}")]) from exc
    records: list[dict[str, object]] = []
    problems: list[tuple[int, str]] = []
    is_label_studio = text.lstrip().startswith("[")  # Label Studio exports a JSON list
    if is_label_studio:
        try:
            tasks = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CorrectionsError(str(path), [(exc.lineno, f"invalid JSON: {exc.msg}")]) from exc
        for n, (where, obj, errs) in enumerate(corrections_from_export(tasks, doctype), start=1):
            rec, more = validate_line(obj, doctype, known_ids) if obj is not None else (None, [])
            problems += [(n, f"{where}: {e}") for e in errs + more]
            if rec is not None and not errs:
                records.append(rec)
    hint = None if is_label_studio else non_json_export(text)
    if hint is not None:
        raise CorrectionsError(str(path), [(1, hint)])
    for n, line in enumerate([] if is_label_studio else text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append((n, f"invalid JSON: {exc.msg}"))
            continue
        rec, errs = validate_line(obj, doctype, known_ids)
        problems += [(n, e) for e in errs]
        if rec is not None:
            records.append(rec)
    if not records and not problems:
        problems.append((0, "no corrections in file"))
    unknown = sorted({m for _, why in problems for m in _UNKNOWN_ID.findall(why)})
    if unknown:
        problems.append((0, f"{len(unknown)} unknown document id(s): {', '.join(unknown)}"))
    if problems:
        raise CorrectionsError(str(path), problems)
    return records


def read_store(store: Path) -> pl.DataFrame:
    """Every stored correction, in import order."""
    rows: list[dict[str, object]] = []
    for seg in sorted(store.glob("seg-*.jsonl")) if store.is_dir() else []:
        rows += [json.loads(line) for line in seg.read_text("utf-8").splitlines() if line.strip()]
    if not rows:
        return pl.DataFrame(schema=STORE_COLUMNS)
    return pl.DataFrame(rows, schema=STORE_COLUMNS)


def import_file(
    path: Path,
    store: Path,
    doctype: DocType,
    known_ids: set[str] | None,
    now: datetime | None = None,
) -> ImportResult:
    """Validate and store one corrections file as a new segment (or do nothing if seen)."""
    store.mkdir(parents=True, exist_ok=True)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    seen = sorted(store.glob(f"seg-*-{sha}.jsonl"))
    if seen:
        return ImportResult(str(path), sha, 0, 0, True, seen[0].name)
    records = parse_file(path, doctype, known_ids)
    existing = set(read_store(store)["correction_id"].to_list())
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    new = []
    for rec in records:
        if rec["correction_id"] in existing:
            continue
        existing.add(rec["correction_id"])  # type: ignore[arg-type]
        new.append({**rec, "source_file": path.name, "imported_at": stamp})
    seg = store / f"seg-{stamp}-{sha}.jsonl"
    # An empty segment still marks the file as imported, so a re-import is a no-op.
    atomic_write(seg, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in new).encode())
    return ImportResult(str(path), sha, len(new), len(records) - len(new), False, seg.name)


def latest_per_document(store_df: pl.DataFrame) -> pl.DataFrame:
    """One row per document: its latest correction, with ``conflict`` set when annotators
    disagree (different field values from different annotators), never silently resolved."""
    if store_df.is_empty():
        return store_df.with_columns(
            pl.lit(False).alias("conflict"), pl.lit(0).alias("n_corrections")
        )
    per_doc = store_df.group_by("doc_id").agg(
        pl.col("fields_json").n_unique().alias("n_values"),
        pl.col("annotator").n_unique().alias("n_annotators"),
        pl.len().alias("n_corrections"),
    )
    latest = store_df.sort("timestamp").group_by("doc_id").last()
    return (
        latest.join(per_doc, on="doc_id")
        .with_columns(((pl.col("n_values") > 1) & (pl.col("n_annotators") > 1)).alias("conflict"))
        .drop("n_values", "n_annotators")
        .sort("doc_id")
    )


def iter_fields(store_row: dict[str, object]) -> Iterable[tuple[str, str | None]]:
    """The (field, value) pairs of a store row."""
    return json.loads(str(store_row["fields_json"])).items()
