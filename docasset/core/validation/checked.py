"""Checked values: what operators were asked about the model's values, and what they answered.

The review queue records, per batch, every model value an operator is asked (``to_check``
with a value from the model or the rules, and accepted fields asked blind as QA) under
``models/calibration/asked/``. When a document's correction arrives, each asked value becomes
calibration evidence (``extraction.calibration_store``): source ``qa`` for a QA field (an
accepted value checked blind: what accepted-field accuracy really is), ``check`` for a value
the model proposed below its threshold. Right means :func:`fields.equivalent` to the
corrected value; ``strict`` is exact match beside it.

:func:`qa_accuracy` turns the ``qa`` rows into the realized accepted-field accuracy with its
Clopper-Pearson interval (``production_health``, the simulation).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from docasset.core.extraction.calibration_store import (
    EVIDENCE_COLUMNS,
    append_evidence,
    evidence_frame,
    read_evidence,
    store_dir,
)
from docasset.core.extraction.certify import precision_interval
from docasset.core.extraction.fields import DocType, equivalent, strict_match
from docasset.core.extraction.routing import DOC_KINDS
from docasset.core.files import atomic_write, stored_name
from docasset.core.validation.corrections import CorrectionRecord, latest_per_document

MODEL_SOURCES = ("model", "rule", "both")  # memory values are the operators' own, not a model's
ASKED_COLUMNS = [
    "doc_id",
    "field",
    "value",
    "confidence",
    "features",
    "model_version",
    "qa",
    "acceptable",
    "predicted_at",
]


def asked_dir(models: Path) -> Path:
    """Where the review queue records what operators are asked (``models/calibration/asked``)."""
    return store_dir(models) / "asked"


def asked_values(queued: pl.DataFrame) -> pl.DataFrame:
    """The model values of a review queue (``review_queue_frame``) an operator is asked, with
    ``acceptable``: routing could have accepted the value on its confidence (no check other
    than a low confidence against it, no document-level blocker)."""
    rows = []
    for r in queued.iter_rows(named=True):
        if r["field_status"] != "to_check" or r["value"] is None:
            continue
        if r["source"] not in MODEL_SOURCES:
            continue
        kinds = {
            b["kind"]
            for b in r["blocker_details"] or []
            if b["field"] == r["field"] or b["kind"] in DOC_KINDS
        }
        rows.append(
            {
                **{c: r.get(c) for c in ASKED_COLUMNS if c not in ("qa", "acceptable")},
                "qa": bool(r.get("qa")),
                "acceptable": bool(r.get("qa")) or kinds <= {"low_confidence"},
            }
        )
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        "doc_id": pl.Utf8,
        "field": pl.Utf8,
        "value": pl.Utf8,
        "confidence": pl.Float64,
        "features": pl.Utf8,
        "model_version": pl.Utf8,
        "qa": pl.Boolean,
        "acceptable": pl.Boolean,
        "predicted_at": pl.Datetime("us", "UTC"),
    }
    return pl.DataFrame(rows, schema=schema)


def record_asked(directory: Path, batch: str, queued: pl.DataFrame) -> int:
    """Write the batch's asked values (``<batch>.parquet``, replaced whole by a re-run of the
    same batch); returns how many."""
    frame = asked_values(queued)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stored_name(batch, 120)}.parquet"
    if frame.is_empty() and not path.exists():
        return 0
    buf = io.BytesIO()
    frame.write_parquet(buf)
    atomic_write(path, buf.getvalue())
    return frame.height


def read_asked(directory: Path) -> tuple[pl.DataFrame, dict[str, str]]:
    """Every recorded asked value, and the files that could not be read (name -> why)."""
    frames, problems = [], {}
    for p in sorted(directory.glob("*.parquet")) if directory.is_dir() else []:
        try:
            frames.append(pl.read_parquet(p))
        except (OSError, pl.exceptions.PolarsError) as exc:
            problems[p.name] = f"{type(exc).__name__}: {exc}"
    return (pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()), problems


def checked_evidence(
    doctype: DocType,
    asked: pl.DataFrame,
    corrections: pl.DataFrame,
    done: set[tuple[str, str, str | None]],
    now: datetime,
) -> list[dict[str, Any]]:
    """Calibration-store rows of the asked values whose document has a usable correction
    (latest, no verdict, no annotator conflict), skipping ``done`` (doc, field, version)."""
    if asked.is_empty():
        return []
    latest = {
        r["doc_id"]: CorrectionRecord.from_row(r).fields
        for r in latest_per_document(corrections).iter_rows(named=True)
        if not r["verdict"] and not r["conflict"]
    }
    out = []
    for r in asked.iter_rows(named=True):
        truth_fields = latest.get(r["doc_id"])
        if truth_fields is None or r["field"] not in doctype.names:
            continue
        if (r["doc_id"], r["field"], r["model_version"]) in done:
            continue
        spec = doctype.spec(r["field"])
        truth = truth_fields.get(r["field"]) or None
        out.append(
            {
                "field": r["field"],
                "doc_id": r["doc_id"],
                "bin": "",
                "features": r["features"],
                "confidence": r["confidence"],
                "correct": equivalent(spec, r["value"], truth),
                "strict": strict_match(spec, r["value"], truth),
                "acceptable": r["acceptable"],
                "source": "qa" if r["qa"] else "check",
                "model_version": r["model_version"],
                "recorded_at": now,
            }
        )
    return out


def record_checks(models: Path, doctype: DocType, corrections: pl.DataFrame) -> int:
    """Append the answered asked values to the calibration store (once each); returns how
    many rows were added."""
    asked, _ = read_asked(asked_dir(models))
    stored, _ = read_evidence(store_dir(models))
    done = {
        (d, f, v)
        for d, f, v, s in stored.select("doc_id", "field", "model_version", "source").iter_rows()
        if s in ("qa", "check")
    }
    now = datetime.now(UTC)
    rows = checked_evidence(doctype, asked, corrections, done, now)
    if not rows:
        return 0
    label = f"checked-{now.strftime('%Y%m%dT%H%M%S%f')}"
    append_evidence(store_dir(models), evidence_frame(rows), label)
    return len(rows)


def qa_accuracy(evidence: pl.DataFrame, since: datetime | None = None) -> dict[str, Any]:
    """Accepted-field accuracy measured by the blind QA sample (store rows of source ``qa``,
    one per document and field; ``since``: only those recorded from then): counts, accuracy
    under ``equivalent`` and ``strict``, their 95 % Clopper-Pearson intervals, and per field.
    Accuracy is None (absent, not 0) with no QA answer."""
    qa = evidence.filter(pl.col("source") == "qa") if evidence.height else evidence
    if since is not None and qa.height:
        qa = qa.filter(pl.col("recorded_at") >= since)
    if qa.height:
        qa = qa.sort("recorded_at").unique(["doc_id", "field"], keep="last")

    def figures(frame: pl.DataFrame) -> dict[str, Any]:
        n = frame.height
        ok = int(frame["correct"].sum()) if n else 0
        strict = int(frame["strict"].sum()) if n else 0
        return {
            "n": n,
            "right": ok,
            "accuracy": ok / n if n else None,
            "interval": precision_interval(ok, n),
            "strict_accuracy": strict / n if n else None,
            "strict_interval": precision_interval(strict, n),
        }

    fields = sorted(set(qa["field"].to_list())) if qa.height else []
    return {
        **figures(qa if qa.height else pl.DataFrame(schema=EVIDENCE_COLUMNS)),
        "fields": {f: figures(qa.filter(pl.col("field") == f)) for f in fields},
    }
