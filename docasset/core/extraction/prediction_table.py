"""Predictions as a long polars frame (one row per document and field) and as JSON lines.

The frame is what the ``predictions`` asset stores; the JSON object is what
``docasset extract`` writes: ``{"doc", "fields", "normalized", "confidence", "field_status",
"route", "blockers", "blocker_details", ...}``.

Per document (repeated on its rows): ``route`` (``auto`` = touchless), ``blockers`` (the
human-readable reasons) and ``blocker_details`` (the same as structs ``{kind, field, detail}``:
count and filter by ``kind``, never parse the text), ``doc_confidence``. Per field:
``field_status`` (``accepted`` | ``to_check``: what Label Studio locks or asks), the value and
its evidence, ``memory_entry``/``history`` (the correction-memory entry that ``filled`` or
``confirmed`` it), ``span_ocr_conf`` (lowest OCR word confidence 0-1 under the value) and
``features`` (the confidence model's evidence, JSON, for the calibration store); per document
``vendor_id``/``vendor_key``: the vendor registry's match and the key that matched it
(``kind:value``; on an ambiguous match the key and no vendor); ``header_vendor``: the vendor
identifier the type reads from the header (its YAML ``vendor:``: an ad order's station
"KCNC-TV"), whether or not the registry knows it yet. Per field, ``customer_canonical``: a
customer field's (role ``customer``, an advertiser) canonical spelling under the type's
aliases, YAML and learned (``fields.canonical``; the value itself when no alias knows it).
Both are null when absent (no identifier, no value, not a customer field); frames written
before they existed lack them (optional columns).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pandera.polars as pa
import polars as pl
from polars._typing import PolarsDataType

from docasset.core.extraction.fields import DocType, canonical, normalize
from docasset.core.extraction.routing import (
    BLOCKER_KINDS,
    FIELD_STATUSES,
    HISTORY_USES,
    ROUTES,
    SOURCES,
    Blocker,
    DocPrediction,
    FieldPrediction,
)

BLOCKER_STRUCT = pl.Struct({"kind": pl.Utf8, "field": pl.Utf8, "detail": pl.Utf8})

PREDICTION_COLUMNS: dict[str, PolarsDataType] = {
    "doc_id": pl.Utf8,
    "batch_id": pl.Utf8,
    "doc_type": pl.Utf8,
    "model_version": pl.Utf8,
    "predicted_at": pl.Datetime("us", "UTC"),
    "route": pl.Utf8,
    "blockers": pl.List(pl.Utf8),
    "blocker_details": pl.List(BLOCKER_STRUCT),
    "doc_confidence": pl.Float64,
    "vendor_id": pl.Utf8,
    "vendor_key": pl.Utf8,
    "header_vendor": pl.Utf8,
    "field": pl.Utf8,
    "required": pl.Boolean,
    "value": pl.Utf8,
    "normalized": pl.Utf8,
    "customer_canonical": pl.Utf8,
    "confidence": pl.Float64,
    "source": pl.Utf8,
    "start": pl.Int32,
    "end": pl.Int32,
    "ocr_conf": pl.Float64,
    "bad_scan": pl.Boolean,
    "field_status": pl.Utf8,
    "memory_entry": pl.Utf8,
    "history": pl.Utf8,
    "span_ocr_conf": pl.Float64,
    "features": pl.Utf8,
}

PREDICTIONS_SCHEMA = pa.DataFrameSchema(
    {
        "doc_id": pa.Column(pl.Utf8, nullable=False),
        "batch_id": pa.Column(pl.Utf8, nullable=False),
        "doc_type": pa.Column(pl.Utf8, nullable=False),
        "model_version": pa.Column(pl.Utf8, nullable=True),
        "predicted_at": pa.Column(pl.Datetime("us", "UTC"), nullable=False),
        "route": pa.Column(pl.Utf8, pa.Check.isin(list(ROUTES))),
        "blockers": pa.Column(pl.List(pl.Utf8)),
        "blocker_details": pa.Column(pl.List(BLOCKER_STRUCT)),
        "doc_confidence": pa.Column(pl.Float64, pa.Check.in_range(0.0, 1.0)),
        "vendor_id": pa.Column(pl.Utf8, nullable=True),
        "vendor_key": pa.Column(pl.Utf8, nullable=True),
        # Optional: partitions written before the columns existed are still read.
        "header_vendor": pa.Column(pl.Utf8, nullable=True, required=False),
        "field": pa.Column(pl.Utf8, nullable=False),
        "required": pa.Column(pl.Boolean),
        "value": pa.Column(pl.Utf8, nullable=True),
        "normalized": pa.Column(pl.Utf8, nullable=True),
        "customer_canonical": pa.Column(pl.Utf8, nullable=True, required=False),
        "confidence": pa.Column(pl.Float64, pa.Check.in_range(0.0, 1.0)),
        "source": pa.Column(pl.Utf8, pa.Check.isin(list(SOURCES))),
        "start": pa.Column(pl.Int32, pa.Check.ge(0)),
        "end": pa.Column(pl.Int32, pa.Check.ge(0)),
        "ocr_conf": pa.Column(pl.Float64, nullable=True),
        "bad_scan": pa.Column(pl.Boolean, nullable=False),
        "field_status": pa.Column(pl.Utf8, pa.Check.isin(list(FIELD_STATUSES)), nullable=False),
        "memory_entry": pa.Column(pl.Utf8, nullable=True),
        "history": pa.Column(pl.Utf8, pa.Check.isin(list(HISTORY_USES)), nullable=True),
        "span_ocr_conf": pa.Column(pl.Float64, nullable=True),
        # The confidence model's evidence (JSON): what the calibration store re-scores.
        "features": pa.Column(pl.Utf8, nullable=True),
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
    """The validated long frame for a batch; ``doc_info`` gives ``ocr_conf``/``bad_scan``;
    ``doctype``'s aliases (with those learned: ``VendorStore.customer_aliases``) give
    ``customer_canonical``."""
    rows: list[dict[str, Any]] = []
    customers = set(doctype.role_fields("customer"))
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
                    "blockers": p.blocker_texts,
                    "blocker_details": [b.as_dict() for b in p.blockers],
                    "doc_confidence": float(p.doc_confidence),
                    "vendor_id": p.vendor_id,
                    "vendor_key": p.vendor_key,
                    "header_vendor": p.header_vendor,
                    "field": spec.name,
                    "required": spec.required,
                    "value": f.value,
                    "normalized": normalize(spec, f.value),
                    "customer_canonical": (
                        canonical(doctype, spec.name, f.value) if spec.name in customers else None
                    ),
                    "confidence": float(f.confidence),
                    "source": f.source,
                    "start": f.start,
                    "end": f.end,
                    "ocr_conf": info.get("ocr_conf"),
                    "bad_scan": bool(info.get("bad_scan", False)),
                    "field_status": f.status,
                    "memory_entry": f.memory_entry,
                    "history": f.history,
                    "span_ocr_conf": f.ocr_conf,
                    "features": json.dumps(f.features, sort_keys=True) if f.features else None,
                }
            )
    df = (
        pl.DataFrame(rows, schema=PREDICTION_COLUMNS)
        if rows
        else pl.DataFrame(schema=PREDICTION_COLUMNS)
    )
    return PREDICTIONS_SCHEMA.validate(df)


def to_json(doctype: DocType, p: DocPrediction, doc_name: str | None = None) -> dict[str, Any]:
    """The ``docasset extract`` JSON object of one prediction; a type with customer fields
    (role ``customer``) adds their canonical spellings under its aliases (``customers``)."""
    customers = {
        n: canonical(doctype, n, p.fields[n].value) for n in doctype.role_fields("customer")
    }
    return (
        {
            "doc": doc_name or p.doc_id,
            "fields": {s.name: p.fields[s.name].value for s in doctype.fields},
            "normalized": {s.name: normalize(s, p.fields[s.name].value) for s in doctype.fields},
            "confidence": {s.name: p.fields[s.name].confidence for s in doctype.fields},
            "field_status": {s.name: p.fields[s.name].status for s in doctype.fields},
            "memory_entry": {
                s.name: p.fields[s.name].memory_entry
                for s in doctype.fields
                if p.fields[s.name].memory_entry
            },
            "route": p.route,
            "blockers": p.blocker_texts,
            "blocker_details": [b.as_dict() for b in p.blockers],
            "doc_confidence": p.doc_confidence,
            "model_version": p.model_version,
            "vendor_id": p.vendor_id,
            "vendor_key": p.vendor_key,
        }
        | ({"customers": customers} if customers else {})
        | ({"header_vendor": p.header_vendor} if doctype.vendor is not None else {})
    )


def documents(preds: pl.DataFrame) -> pl.DataFrame:
    """One row per document: route, blockers (text and structs), model version, time, and the
    number of fields accepted and to check."""
    return preds.group_by("doc_id", maintain_order=True).agg(
        pl.col("batch_id").first(),
        pl.col("route").first(),
        pl.col("blockers").first(),
        pl.col("blocker_details").first(),
        pl.col("model_version").first(),
        pl.col("vendor_id").first(),
        pl.col("vendor_key").first(),
        *([pl.col("header_vendor").first()] if "header_vendor" in preds.columns else []),
        pl.col("predicted_at").first(),
        (pl.col("field_status") == "accepted").sum().alias("fields_accepted"),
        (pl.col("field_status") == "to_check").sum().alias("fields_to_check"),
    )


def blocker_counts(preds: pl.DataFrame) -> dict[str, int]:
    """Documents per blocker kind (a document counts once per kind), every kind listed."""
    per_doc = documents(preds)["blocker_details"].to_list()
    return {k: sum(any(b["kind"] == k for b in bl) for bl in per_doc) for k in BLOCKER_KINDS}


def from_frame(preds: pl.DataFrame) -> list[DocPrediction]:
    """Rebuild :class:`DocPrediction` objects from the long frame (one per document)."""
    out = []
    for (doc_id,), rows in preds.partition_by("doc_id", as_dict=True, maintain_order=True).items():
        first = rows.row(0, named=True)
        fields = {
            r["field"]: FieldPrediction(
                r["value"],
                r["start"],
                r["end"],
                r["source"],
                "",
                r["confidence"],
                status=r["field_status"],
                memory_entry=r["memory_entry"],
                history=r["history"],
                ocr_conf=r["span_ocr_conf"],
            )
            for r in rows.iter_rows(named=True)
        }
        blockers = [
            Blocker(b["kind"], b["field"], b["detail"] or "") for b in first["blocker_details"]
        ]
        out.append(
            DocPrediction(
                str(doc_id),
                fields,
                first["route"],
                blockers,
                first["model_version"],
                first["doc_confidence"],
                first.get("vendor_id"),
                first.get("vendor_key"),
                first.get("header_vendor"),
                {
                    r["field"]: r["customer_canonical"]
                    for r in rows.iter_rows(named=True)
                    if r.get("customer_canonical") is not None
                },
            )
        )
    return out
