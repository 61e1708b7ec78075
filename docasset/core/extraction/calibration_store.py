"""The calibration store: every checked value of a field, pooled across retrains and production.

One row per value a model reported for a field and someone (or something) checked: ``field``,
``doc_id``, the evidence ``bin`` and ``features`` (JSON) the confidence model scores,
the ``confidence`` it had then, ``correct`` (under :func:`fields.equivalent`) and ``strict``
(exact match), ``acceptable`` (routing could have accepted it on its confidence: valid, no
evidence check against it, read clearly by the OCR), ``source`` (``fold``: out of fold in a
retrain's calibration; ``qa``: an accepted field asked blind in the QA sample; ``check``: a
field the model proposed and an operator checked), ``model_version`` and ``recorded_at``.

Append-only: each append is one Parquet segment under ``models/calibration/`` written
atomically, named by its label and content (re-running an append writes nothing new). A
segment that cannot be read is reported and skipped, never silently lost from the others.

Pooling across model versions (:func:`pooled_evidence`): a confidence is a score of *one*
confidence model; 0.9 under v2 is not 0.9 under v3. So stored rows are **re-scored** with the
new model's confidence model from their stored features (the features are evidence on the
page - position, rule agreement, OCR confidence, arithmetic - that does not depend on which
model scores them). A row without features can only serve the version that scored it. A
document with several rows for a field counts once: its latest row (a retrain's fresh
out-of-fold row replaces older ones; QA and operator checks replace a fold row of the same
document), so re-fitting on the same curated documents never multiplies the evidence.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import polars as pl

from docasset.core.files import atomic_write, stored_name

SOURCES = ("fold", "qa", "check")
EVIDENCE_COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    "field": pl.Utf8,
    "doc_id": pl.Utf8,
    "bin": pl.Utf8,
    "features": pl.Utf8,
    "confidence": pl.Float64,
    "correct": pl.Boolean,
    "strict": pl.Boolean,
    "acceptable": pl.Boolean,
    "source": pl.Utf8,
    "model_version": pl.Utf8,
    "recorded_at": pl.Datetime("us", "UTC"),
}
STORE_DIR = "calibration"

# Re-scores a stored row: (field, bin, features) -> the new model's confidence.
Scorer = Callable[[str, str, dict[str, float]], float]


def store_dir(models: Path) -> Path:
    """The store's directory under a registry's root (``models/calibration``)."""
    return models / STORE_DIR


def evidence_frame(rows: list[dict]) -> pl.DataFrame:
    """Rows as a frame with the store's columns (``features`` given as a dict or JSON)."""
    fixed = [
        {
            **r,
            "features": r["features"]
            if isinstance(r.get("features"), str | None)
            else json.dumps(r["features"], sort_keys=True),
        }
        for r in rows
    ]
    for r in fixed:
        if r["source"] not in SOURCES:
            raise ValueError(f"calibration evidence source {r['source']!r} not in {SOURCES}")
    return pl.DataFrame(
        [{c: r.get(c) for c in EVIDENCE_COLUMNS} for r in fixed], schema=EVIDENCE_COLUMNS
    )


def append_evidence(directory: Path, frame: pl.DataFrame, label: str) -> Path | None:
    """Append ``frame`` as one segment named by ``label`` and its content; None when empty or
    when the same segment is already stored (a re-run appends nothing twice)."""
    if frame.is_empty():
        return None
    frame = frame.select(list(EVIDENCE_COLUMNS)).cast(EVIDENCE_COLUMNS)  # type: ignore[arg-type]
    buf = io.BytesIO()
    frame.write_parquet(buf)
    key = frame.drop("recorded_at").sort("doc_id", "field", "source").write_csv()
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stored_name(label, 80)}-{digest}.parquet"
    if path.exists():
        return None
    atomic_write(path, buf.getvalue())
    return path


def read_evidence(directory: Path) -> tuple[pl.DataFrame, dict[str, str]]:
    """Every stored row, and the segments that could not be read (name -> why)."""
    frames, problems = [], {}
    for p in sorted(directory.glob("*.parquet")) if directory.is_dir() else []:
        try:
            frames.append(pl.read_parquet(p).select(list(EVIDENCE_COLUMNS)).cast(EVIDENCE_COLUMNS))  # type: ignore[arg-type]
        except (OSError, pl.exceptions.PolarsError) as exc:  # one damaged segment, reported
            problems[p.name] = f"{type(exc).__name__}: {exc}"
    if not frames:
        return pl.DataFrame(schema=EVIDENCE_COLUMNS), problems
    return pl.concat(frames), problems


def latest_per_value(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per (document, field): the latest recorded (a document counts once)."""
    if frame.is_empty():
        return frame
    return frame.sort("recorded_at").unique(["doc_id", "field"], keep="last", maintain_order=True)


def pooled_evidence(
    frame: pl.DataFrame, version: str | None, score: Scorer, exclude: set[tuple[str, str]]
) -> list[tuple[str, float, bool, str]]:
    """``(field, confidence, correct, source)`` of the stored acceptable values, re-scored by
    ``score`` (the new confidence model) from their features; rows without features only when
    ``version`` scored them. ``exclude``: (doc_id, field) already given fresher evidence."""
    out = []
    for r in latest_per_value(frame).iter_rows(named=True):
        if not r["acceptable"] or (r["doc_id"], r["field"]) in exclude:
            continue
        if r["features"]:
            conf = score(r["field"], r["bin"], json.loads(r["features"]))
        elif version is not None and r["model_version"] == version:
            conf = r["confidence"]
        else:
            continue  # a confidence of another model's scale: not comparable
        out.append((r["field"], conf, bool(r["correct"]), r["source"]))
    return out


def stamp(rows: list[dict], source: str, version: str | None, at: datetime) -> list[dict]:
    """Rows with their source, model version and time."""
    return [{**r, "source": source, "model_version": version, "recorded_at": at} for r in rows]
