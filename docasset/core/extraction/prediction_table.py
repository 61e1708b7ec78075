"""Predictions as a long polars frame (one row per document and field) and as JSON lines.

The frame is what the ``predictions`` asset stores; the JSON object is what
``docasset extract`` writes: ``{"doc", "fields", "normalized", "confidence", "route", "blockers"}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandera.polars as pa
import polars as pl

from docasset.core.extraction.extract import DocPrediction, FieldPrediction
from docasset.core.extraction.fields import DocType, normalize

PREDICTION_COLUMNS = {
    "doc_id": pl.Utf8,
    "batch_id": pl.Utf8,
    "doc_type": pl.Utf8,
    "model_version": pl.Utf8,
    "predicted_at": pl.Datetime("us", "UTC"),
    "route": pl.Utf8,
    "blockers": pl.List(pl.Utf8),
    "field": pl.Utf8,
    "required": pl.Boolean,
    "value": pl.Utf8,
    "normalized": pl.Utf8,
    "confidence": pl.Float64,
    "source": pl.Utf8,
    "start": pl.Int32,
    "end": pl.Int32,
    "ocr_conf": pl.Float64,
    "bad_scan": pl.Boolean,
}

PREDICTIONS_SCHEMA = pa.DataFrameSchema(
    {
        "doc_id": pa.Column(pl.Utf8, nullable=False),
        "batch_id": pa.Column(pl.Utf8, nullable=False),
        "doc_type": pa.Column(pl.Utf8, nullable=False),
        "model_version": pa.Column(pl.Utf8, nullable=True),
        "predicted_at": pa.Column(pl.Datetime("us", "UTC"), nullable=False),
        "route": pa.Column(pl.Utf8, pa.Check.isin(["auto", "review"])),
        "blockers": pa.Column(pl.List(pl.Utf8)),
        "field": pa.Column(pl.Utf8, nullable=False),
        "required": pa.Column(pl.Boolean),
        "value": pa.Column(pl.Utf8, nullable=True),
        "normalized": pa.Column(pl.Utf8, nullable=True),
        "confidence": pa.Column(pl.Float64, pa.Check.in_range(0.0, 1.0)),
        "source": pa.Column(pl.Utf8, pa.Check.isin(["model", "rule", "both", "none", "memory"])),
        "start": pa.Column(pl.Int32, pa.Check.ge(0)),
        "end": pa.Column(pl.Int32, pa.Check.ge(0)),
        "ocr_conf": pa.Column(pl.Float64, nullable=True),
        "bad_scan": pa.Column(pl.Boolean, nullable=False),
    },
    strict=True,
    unique=["doc_id", "field"],
)


def predictions_frame(
    doctype: DocType,
    preds: list[DocPrediction],
    batch_id: str,
    predicted_at: datetime,
    doc_info: dict[str, dict[str, Any]] | None = None,
) -> pl.DataFrame:
    """The validated long frame for a batch; ``doc_info`` gives ``ocr_conf``/``bad_scan``."""
    rows: list[dict[str, Any]] = []
    for p in preds:
        info = (doc_info or {}).get(p.doc_id, {})
        for spec in doctype.fields:
            f = p.fields[spec.name]
            rows.append(
                {
                    "doc_id": p.doc_id,
                    "batch_id": batch_id,
                    "doc_type": doctype.name,
                    "model_version": p.model_version,
                    "predicted_at": predicted_at,
                    "route": p.route,
                    "blockers": p.blockers,
                    "field": spec.name,
                    "required": spec.required,
                    "value": f.value,
                    "normalized": normalize(spec, f.value),
                    "confidence": float(f.confidence),
                    "source": f.source,
                    "start": f.start,
                    "end": f.end,
                    "ocr_conf": info.get("ocr_conf"),
                    "bad_scan": bool(info.get("bad_scan", False)),
                }
            )
    df = (
        pl.DataFrame(rows, schema=PREDICTION_COLUMNS)
        if rows
        else pl.DataFrame(schema=PREDICTION_COLUMNS)
    )
    return PREDICTIONS_SCHEMA.validate(df)


def to_json(doctype: DocType, p: DocPrediction, doc_name: str | None = None) -> dict[str, Any]:
    """The ``docasset extract`` JSON object of one prediction."""
    return {
        "doc": doc_name or p.doc_id,
        "fields": {s.name: p.fields[s.name].value for s in doctype.fields},
        "normalized": {s.name: normalize(s, p.fields[s.name].value) for s in doctype.fields},
        "confidence": {s.name: p.fields[s.name].confidence for s in doctype.fields},
        "route": p.route,
        "blockers": p.blockers,
        "model_version": p.model_version,
    }


def documents(preds: pl.DataFrame) -> pl.DataFrame:
    """One row per document: route, blockers, model version, time."""
    return preds.group_by("doc_id", maintain_order=True).agg(
        pl.col("batch_id").first(),
        pl.col("route").first(),
        pl.col("blockers").first(),
        pl.col("model_version").first(),
        pl.col("predicted_at").first(),
    )


def from_frame(preds: pl.DataFrame) -> list[DocPrediction]:
    """Rebuild :class:`DocPrediction` objects from the long frame (one per document)."""
    out = []
    for (doc_id,), rows in preds.partition_by("doc_id", as_dict=True, maintain_order=True).items():
        first = rows.row(0, named=True)
        fields = {
            r["field"]: FieldPrediction(
                r["value"], r["start"], r["end"], r["source"], "", r["confidence"]
            )
            for r in rows.iter_rows(named=True)
        }
        out.append(
            DocPrediction(
                str(doc_id), fields, first["route"], list(first["blockers"]), first["model_version"]
            )
        )
    return out
