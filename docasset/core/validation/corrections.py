"""The corrections store: human-validated field values, append-only and atomic.

File format (JSONL, UTF-8, one correction per line)::

    {"doc_id": "3f2a9c0e1b7d4a55", "fields": {"company": "ACME SDN BHD", "total": "9.00"},
     "annotator": "alice", "timestamp": "2026-11-24T10:00:00Z", "verdict": null}

``doc_id`` is the document id docasset assigned at intake (content hash). ``fields`` maps schema
field names to the final value as printed, or ``null`` when the document does not have that
field. ``verdict`` is optional: ``"irrelevant"`` or ``"bad_scan"``. ``spans`` is optional:
field -> ``[start, end]`` character offsets in the document's OCR text (integers,
``0 <= start < end``). ``timestamp`` is ISO 8601 (UTC when no zone is given), not before
``CorrectionsConfig.min_year`` and not after the import time plus
``CorrectionsConfig.max_future_seconds``. A value must suit its field's type (an amount
parses, a date is plausible: ``docasset.core.extraction.fields.validate_field``), whatever
the source, so a slip is refused at import, not found later at curation.

Label Studio's JSON export (a list of tasks, see ``docasset.core.validation.ls_annotations``) is
accepted too: each (task, annotation) becomes one correction, with the same all-or-nothing
validation (its JSON-MIN and CSV exports are refused with a message saying to export JSON).

Import is total: a file is validated whole and either stored whole or rejected whole with
line-level reasons (:class:`~docasset.errors.CorrectionsError`); nothing else is raised for
what the file contains (``docasset.core.validation.strict_json`` guards the parser: duplicate
keys, huge numbers, deep nesting, NaN). Accepted files become one immutable segment written to
a temp file and renamed into place (atomic); segments are never modified. Imports hold an
exclusive lock on the store, so concurrent imports of one file store it once; re-importing a
file whose bytes were imported before is a no-op, and records already stored are not stored
twice. Temp files a killed import left are swept under the lock.

Reading is total too: a stored record that cannot be used (written by an older docasset that
validated less, or damaged) is kept out of :func:`latest_per_document` with its reason in the
``problem`` column, so it never crashes curation, the memory or the sensors.

Each segment starts with a header line ``{"segment": 2, "records": N, "sha256": ...}`` (the
checksum of the record lines after it). A segment whose records do not match it (truncated,
overwritten) is reported as a problem row naming the segment and the archived original to
re-import (``corrections/archive/<sha>-<name>``); re-importing that original replaces the
damaged segment instead of being a no-op. Segments of an older docasset have no header and
are read line by line (a line that does not parse is a problem row, never skipped silently).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Container, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from docasset.core.extraction.fields import DocType, validate_field
from docasset.core.files import atomic_write, display_name, locked, store_errors, sweep_tmp
from docasset.core.tunable import tunable
from docasset.core.validation.ls_annotations import corrections_from_export, non_json_export
from docasset.core.validation.strict_json import JsonRefused, loads
from docasset.errors import CorrectionsError

VERDICTS = ("irrelevant", "bad_scan")
DAMAGED_DIR = "damaged"  # beside the store: damaged segments replaced by a re-import, kept
KEYS = ("doc_id", "fields", "annotator", "timestamp", "verdict", "doc_type", "spans")
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
    "problem": pl.Utf8,  # why a stored record cannot be used (None: usable); not stored
}
_RECORD_KEYS = [k for k in STORE_COLUMNS if k != "problem"]


@dataclass(frozen=True)
class CorrectionRecord:
    """One stored correction, decoded. The store keeps ``fields`` and ``spans`` as JSON text
    columns (``fields_json``, ``spans_json``); :meth:`from_row` is the one place they are
    decoded for curation, the correction memory, QA and monitoring. Rows come from
    :func:`usable` (or :func:`latest_per_document`): :func:`stored_problem` found their JSON
    usable at read time."""

    correction_id: str
    doc_id: str
    annotator: str
    timestamp: str
    verdict: str | None
    fields: dict[str, str | None]  # a field left null: "not on this document"
    spans: dict[str, list[int]]  # field -> [start, end] in the OCR text

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> CorrectionRecord:
        """The record of a store row (``STORE_COLUMNS``)."""
        spans_json = row.get("spans_json")
        return cls(
            correction_id=str(row.get("correction_id") or ""),
            doc_id=str(row["doc_id"]),
            annotator=str(row.get("annotator") or ""),
            timestamp=str(row.get("timestamp") or ""),
            verdict=row.get("verdict"),
            fields=json.loads(str(row["fields_json"])),
            spans=json.loads(str(spans_json)) if spans_json else {},
        )

    @property
    def values(self) -> dict[str, str]:
        """The fields given a value (null and empty values left out)."""
        return {k: v for k, v in self.fields.items() if v}


@dataclass(frozen=True)
class CorrectionsConfig:
    """What a corrections file may contain, and how the corrections inbox is worked."""

    max_file_bytes: int = tunable(64 * 1024 * 1024, "Larger corrections files are rejected.", ge=1)
    max_value_chars: int = tunable(10_000, "Longer field values are rejected.", ge=1)
    max_span_offset: int = tunable(10_000_000, "Span offsets beyond this are rejected.", ge=1)
    min_year: int = tunable(2000, "Timestamps before this year are rejected.", ge=1900, le=9999)
    max_future_seconds: float = tunable(
        86_400.0,
        "Timestamps later than the import time plus this are rejected (clock skew).",
        ge=0,
    )
    stale_tmp_seconds: float = tunable(
        3_600.0,
        "Temp files (.tmp-*) older than this in the corrections inbox are swept.",
        ge=0,
    )
    import_retries: int = tunable(
        3,
        "Times the corrections sensor retries an inbox state whose import run failed.",
        ge=0,
    )


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


def _parse_time(value: object, now: datetime, cfg: CorrectionsConfig) -> tuple[str | None, str]:
    """(canonical UTC ISO timestamp or None, the problem)."""
    if not isinstance(value, str):
        return None, "timestamp must be ISO 8601"
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
        t = (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)
    except ValueError:
        return None, "timestamp must be ISO 8601"
    except OverflowError:
        return None, f"timestamp {value!r} is out of range"
    if t.year < cfg.min_year:
        return None, f"timestamp {value!r} is before {cfg.min_year}"
    if t > now + timedelta(seconds=cfg.max_future_seconds):
        return None, f"timestamp {value!r} is in the future (imported at {now.isoformat()})"
    return t.isoformat(), ""


def span_problem(name: str, span: object, max_offset: int) -> str | None:
    """Why ``span`` is not a ``[start, end]`` pair of integers with ``0 <= start < end``."""
    if not (
        isinstance(span, list)
        and len(span) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) for x in span)
    ):
        return f"span of {name!r} must be [start, end] with integer offsets"
    start: int = span[0]
    end: int = span[1]
    if not 0 <= start < end <= max_offset:
        return f"span of {name!r} must have 0 <= start < end <= {max_offset}, got [{start}, {end}]"
    return None


def _text_problem(what: str, value: object, max_chars: int) -> str | None:
    if not isinstance(value, str):
        return f"{what} must be a string"
    if len(value) > max_chars:
        return f"{what} is longer than {max_chars} characters"
    return None


def validate_line(
    obj: object,
    doctype: DocType,
    known_ids: Container[str] | None,
    now: datetime | None = None,
    cfg: CorrectionsConfig = CorrectionsConfig(),
) -> tuple[dict[str, object] | None, list[str]]:
    """One parsed line -> (canonical record, problems). Total: any value gives an answer."""
    if not isinstance(obj, dict):
        return None, ["not a JSON object"]
    now = now or datetime.now(UTC)
    problems: list[str] = []
    if unknown := set(obj) - set(KEYS):
        problems.append(f"unknown keys {sorted(unknown)}")
    if obj.get("doc_type") not in (None, doctype.name):
        problems.append(f"doc_type {obj['doc_type']!r} is not {doctype.name!r}")
    doc_id = obj.get("doc_id")
    if not isinstance(doc_id, str) or not doc_id or len(doc_id) > 64:
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
        elif v is not None and (p := _text_problem(f"field {k!r}", v, cfg.max_value_chars)):
            problems.append(p)
        else:  # what the field's type needs: an amount parses, a date is plausible, ...
            problems += validate_field(doctype.spec(k), v)
    annotator = obj.get("annotator")
    if not isinstance(annotator, str) or not annotator.strip():
        problems.append("missing annotator")
    elif p := _text_problem("annotator", annotator, 200):
        problems.append(p)
    ts, why = _parse_time(obj.get("timestamp"), now, cfg)
    if ts is None:
        problems.append(why)
    verdict = obj.get("verdict")
    if verdict is not None and (not isinstance(verdict, str) or verdict not in VERDICTS):
        problems.append(f"verdict must be one of {VERDICTS} or null")
    spans = obj.get("spans")
    if spans is None:
        spans = {}
    if not isinstance(spans, dict):
        problems.append("'spans' must map schema fields to [start, end]")
        spans = {}
    for k, span in spans.items():
        if k not in doctype.names:
            problems.append(f"span of {k!r}: not a field of the {doctype.name} schema")
        elif p := span_problem(k, span, cfg.max_span_offset):
            problems.append(p)
    if not fields and verdict is None:
        problems.append("a correction needs fields or a verdict")
    if problems:
        return None, problems
    record: dict[str, object] = {
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


def parse_bytes(
    raw: bytes,
    where: str,
    doctype: DocType,
    known_ids: Container[str] | None,
    now: datetime | None = None,
    cfg: CorrectionsConfig = CorrectionsConfig(),
) -> list[dict[str, object]]:
    """Validate a whole corrections file's bytes; raise ``CorrectionsError`` listing every
    problem (and nothing else, whatever the bytes)."""
    now = now or datetime.now(UTC)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorrectionsError(where, [(0, f"not UTF-8: {exc}")]) from exc
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors write
    records: list[dict[str, object]] = []
    problems: list[tuple[int, str]] = []
    if text.lstrip().startswith("["):  # Label Studio exports a JSON list
        try:
            tasks = loads(text)
        except JsonRefused as exc:
            raise CorrectionsError(where, [(exc.line, exc.reason)]) from None
        for n, (loc, obj, errs) in enumerate(corrections_from_export(tasks, doctype), start=1):
            rec, more = validate_line(obj, doctype, known_ids, now, cfg) if obj else (None, [])
            problems += [(n, f"{loc}: {e}") for e in errs + more]
            if rec is not None and not errs:
                records.append(rec)
    else:
        hint = non_json_export(text)  # a Label Studio CSV export: say to export JSON
        if hint is not None:
            raise CorrectionsError(where, [(1, hint)])
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = loads(line, n)
            except JsonRefused as exc:
                problems.append((n, exc.reason))
                continue
            rec, errs = validate_line(obj, doctype, known_ids, now, cfg)
            problems += [(n, e) for e in errs]
            if rec is not None:
                records.append(rec)
    if not records and not problems:
        problems.append((0, "no corrections in file"))
    unknown = sorted({m for _, why in problems for m in _UNKNOWN_ID.findall(why)})
    if unknown:
        problems.append((0, f"{len(unknown)} unknown document id(s): {', '.join(unknown)}"))
    if problems:
        raise CorrectionsError(where, problems)
    return records


def read_input(path: Path, cfg: CorrectionsConfig, follow_symlinks: bool) -> bytes:
    """The bytes of a corrections file; ``CorrectionsError`` when it is not a readable regular
    file within the size limit (a FIFO or device is never opened)."""
    where = str(path)
    try:
        st = os.stat(path) if follow_symlinks else os.lstat(path)
    except OSError as exc:
        raise CorrectionsError(where, [(0, f"unreadable: {exc.strerror or exc}")]) from exc
    if not stat.S_ISREG(st.st_mode):
        kind = "a symlink" if stat.S_ISLNK(st.st_mode) else "not a regular file"
        raise CorrectionsError(where, [(0, f"{kind}: only regular files are imported")])
    if st.st_size > cfg.max_file_bytes:
        raise CorrectionsError(
            where, [(0, f"file is {st.st_size} bytes, more than {cfg.max_file_bytes}")]
        )
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise CorrectionsError(where, [(0, "not a regular file")])
            return fh.read(cfg.max_file_bytes + 1)
    except OSError as exc:
        raise CorrectionsError(where, [(0, f"unreadable: {exc.strerror or exc}")]) from exc


def parse_file(
    path: Path,
    doctype: DocType,
    known_ids: Container[str] | None,
    now: datetime | None = None,
    cfg: CorrectionsConfig = CorrectionsConfig(),
) -> list[dict[str, object]]:
    """Validate a whole corrections file; raise ``CorrectionsError`` listing every problem."""
    return parse_bytes(read_input(path, cfg, True), str(path), doctype, known_ids, now, cfg)


# --- the store ---------------------------------------------------------------------------------


def stored_problem(rec: dict[str, Any], cfg: CorrectionsConfig = CorrectionsConfig()) -> str | None:
    """Why a stored record cannot be used (None: it can). Checks what curation, the memory
    and QA read: the value and span JSON, the verdict and the timestamp."""
    for k in _RECORD_KEYS:
        v = rec.get(k)
        if v is not None and not isinstance(v, str):
            return f"{k} is not text"
    if not rec.get("doc_id") or not rec.get("correction_id"):
        return "no doc_id or correction_id"
    try:
        fields = loads(str(rec.get("fields_json")))
        spans = loads(str(rec["spans_json"])) if rec.get("spans_json") else {}
    except JsonRefused as exc:
        return f"stored JSON is unusable: {exc.reason}"
    if not isinstance(fields, dict) or not all(
        isinstance(v, str) or v is None for v in fields.values()
    ):
        return "fields are not a map of text values"
    if not isinstance(spans, dict):
        return "spans are not a map"
    for name, span in spans.items():
        if p := span_problem(name, span, cfg.max_span_offset):
            return p
    if rec.get("verdict") is not None and rec["verdict"] not in VERDICTS:
        return f"unknown verdict {rec['verdict']!r}"
    try:
        t = datetime.fromisoformat(str(rec.get("timestamp")))
        imported = rec.get("imported_at")
        at = datetime.strptime(str(imported), "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    except ValueError:
        return "timestamp or import time is not ISO 8601"
    if t.tzinfo is None or t > at + timedelta(seconds=cfg.max_future_seconds):
        return f"timestamp {rec['timestamp']} is after its import ({imported})"
    return None


SEGMENT_FORMAT = 2


def segment_bytes(records: list[dict[str, Any]]) -> bytes:
    """A segment's content: the checksum header, then one JSON record per line."""
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    head = {
        "segment": SEGMENT_FORMAT,
        "records": len(records),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    return (json.dumps(head) + "\n").encode() + body


def segment_damage(seg: Path) -> str | None:
    """What is wrong with a stored segment (None: intact, or an older segment without a
    checksum whose lines all parse)."""
    return _read_segment(seg)[1]


def reimport_hint(seg: Path) -> str:
    """How to bring a damaged segment's records back: re-import the archived original."""
    sha = seg.stem.rsplit("-", 1)[-1]
    archive = seg.parent.parent / "archive"
    found = sorted(archive.glob(f"{sha}-*")) if archive.is_dir() else []
    src = str(found[0]) if found else f"{archive}/{sha}-<name> (the original, if kept elsewhere)"
    return f"re-import its original: docasset corrections import {src}"


def _read_segment(seg: Path) -> tuple[list[dict[str, Any]], str | None]:
    raw = seg.read_bytes()
    head_line, _, body = raw.partition(b"\n")
    try:
        head = json.loads(head_line) if head_line.strip() else None
    except (ValueError, RecursionError):
        head = None
    if isinstance(head, dict) and head.get("segment") == SEGMENT_FORMAT:
        lines = body.split(b"\n")
    else:
        head, lines = None, raw.split(b"\n")  # an older segment: no checksum
    recs: list[dict[str, Any]] = []
    bad = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            rec = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            bad += 1
            continue
        if isinstance(rec, dict):
            recs.append(rec)
        else:
            bad += 1
    if head is not None:
        if hashlib.sha256(body).hexdigest() != head.get("sha256") or len(recs) != head.get(
            "records"
        ):
            return recs, (
                f"segment {seg.name} is damaged (checksum mismatch: {len(recs)} of "
                f"{head.get('records')} records readable, {bad} damaged line(s)); "
                + reimport_hint(seg)
            )
    elif bad:
        return recs, (
            f"segment {seg.name} is damaged ({bad} line(s) are not records); " + reimport_hint(seg)
        )
    return recs, None


def read_store(store: Path) -> pl.DataFrame:
    """Every stored correction, in import order; unusable ones carry their ``problem``; a
    damaged segment adds one row (no correction id) whose ``problem`` names it and the
    archived original to re-import, besides the records still readable in it."""
    rows: list[dict[str, object]] = []
    for seg in sorted(store.glob("seg-*.jsonl")) if store.is_dir() else []:
        recs, damage = _read_segment(seg)
        for rec in recs:
            problem = stored_problem(rec)
            row = {k: rec.get(k) for k in _RECORD_KEYS}
            if problem and any(v is not None and not isinstance(v, str) for v in row.values()):
                row = {k: (v if isinstance(v, str) else None) for k, v in row.items()}
            rows.append({**row, "problem": problem})
        if damage:
            rows.append({**dict.fromkeys(_RECORD_KEYS), "source_file": seg.name, "problem": damage})
    if not rows:
        return pl.DataFrame(schema=STORE_COLUMNS)
    return pl.DataFrame(rows, schema=STORE_COLUMNS)


@contextmanager
def store_lock(store: Path) -> Iterator[None]:
    """Exclusive lock on the store for an import (not re-entrant). The lock file sits beside
    the store, which holds nothing but segments."""
    store.mkdir(parents=True, exist_ok=True)
    with locked(store.parent / f".{store.name}.lock"):
        yield


def import_file(
    path: Path,
    store: Path,
    doctype: DocType,
    known_ids: Container[str] | None,
    now: datetime | None = None,
    cfg: CorrectionsConfig = CorrectionsConfig(),
    follow_symlinks: bool = True,
) -> ImportResult:
    """Validate and store one corrections file as a new segment (or do nothing if seen).

    Raises ``CorrectionsError`` (file rejected whole, nothing stored) or an ``OSError`` of the
    store itself (disk full...: infrastructure)."""
    with store_lock(store):
        return import_locked(path, store, doctype, known_ids, now, cfg, follow_symlinks)


def import_locked(
    path: Path,
    store: Path,
    doctype: DocType,
    known_ids: Container[str] | None,
    now: datetime | None = None,
    cfg: CorrectionsConfig = CorrectionsConfig(),
    follow_symlinks: bool = True,
) -> ImportResult:
    """:func:`import_file` for a caller that holds :func:`store_lock`."""
    sweep_tmp(store)  # under the lock, every temp file is a killed import's
    now = now or datetime.now(UTC)
    raw = read_input(path, cfg, follow_symlinks)
    sha = hashlib.sha256(raw).hexdigest()[:16]
    seen = sorted(store.glob(f"seg-*-{sha}.jsonl"))
    intact = [s for s in seen if segment_damage(s) is None]
    if intact:
        return ImportResult(str(path), sha, 0, 0, True, intact[0].name)
    records = parse_bytes(raw, str(path), doctype, known_ids, now, cfg)
    # A damaged segment of this very file is replaced: its records are stored again.
    damaged = store.parent / DAMAGED_DIR
    for s in seen:
        damaged.mkdir(exist_ok=True)
        os.replace(s, damaged / s.name)
    existing = set(read_store(store)["correction_id"].to_list())
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    new = []
    for rec in records:
        if rec["correction_id"] in existing:
            continue
        existing.add(rec["correction_id"])
        new.append({**rec, "source_file": display_name(path.name), "imported_at": stamp})
    seg = store / f"seg-{stamp}-{sha}.jsonl"
    # An empty segment still marks the file as imported, so a re-import is a no-op.
    with store_errors(seg, "free space on its file system, then import the file again"):
        atomic_write(seg, segment_bytes(new))
    return ImportResult(str(path), sha, len(new), len(records) - len(new), False, seg.name)


# --- reading the store ---------------------------------------------------------------------------


def _verdict_key(rec: CorrectionRecord) -> str:
    """What a correction says, normalized: the verdict and its non-null field values (so
    "irrelevant" with every field null and "irrelevant" with ``{}`` say the same)."""
    said = {k: v for k, v in sorted(rec.fields.items()) if v is not None}
    return json.dumps([rec.verdict, said], ensure_ascii=False)


def usable(store_df: pl.DataFrame) -> pl.DataFrame:
    """The stored corrections that can be used (frames of an older docasset: all)."""
    if "problem" not in store_df.columns:
        return store_df
    return store_df.filter(pl.col("problem").is_null())


def unusable_documents(store_df: pl.DataFrame) -> dict[str, tuple[str, str]]:
    """Doc id -> (correction id, problem) of documents whose every correction is unusable."""
    if "problem" not in store_df.columns:
        return {}
    good = set(usable(store_df)["doc_id"].to_list())
    bad = store_df.filter(pl.col("problem").is_not_null() & pl.col("doc_id").is_not_null())
    return {
        str(r["doc_id"]): (str(r["correction_id"]), str(r["problem"]))
        for r in bad.iter_rows(named=True)
        if r["doc_id"] not in good
    }


def latest_per_document(store_df: pl.DataFrame) -> pl.DataFrame:
    """One row per document: its latest usable correction, with ``conflict`` set when
    annotators disagree (different verdicts or values from different annotators), never
    silently resolved."""
    df = usable(store_df)
    if df.is_empty():
        return df.with_columns(pl.lit(False).alias("conflict"), pl.lit(0).alias("n_corrections"))
    said = [_verdict_key(CorrectionRecord.from_row(r)) for r in df.iter_rows(named=True)]
    per_doc = (
        df.with_columns(pl.Series("_said", said, dtype=pl.Utf8))
        .group_by("doc_id")
        .agg(
            pl.col("_said").n_unique().alias("n_values"),
            pl.col("annotator").n_unique().alias("n_annotators"),
            pl.len().alias("n_corrections"),
        )
    )
    latest = df.sort("timestamp").group_by("doc_id").last()
    return (
        latest.join(per_doc, on="doc_id")
        .with_columns(((pl.col("n_values") > 1) & (pl.col("n_annotators") > 1)).alias("conflict"))
        .drop("n_values", "n_annotators")
        .sort("doc_id")
    )


def iter_fields(store_row: dict[str, object]) -> Iterable[tuple[str, str | None]]:
    """The (field, value) pairs of a store row."""
    return CorrectionRecord.from_row(store_row).fields.items()
