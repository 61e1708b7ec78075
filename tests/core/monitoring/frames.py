"""Synthetic frames for the monitoring tests: long predictions, a reference, word tables."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl

from docasset.core.extraction.fields import load_doctype
from docasset.core.extraction.prediction_table import PREDICTION_COLUMNS
from docasset.core.monitoring.assessment import HealthAssessment
from docasset.core.monitoring.drift import DriftResult
from docasset.core.monitoring.health import assess, window_features
from docasset.core.monitoring.thresholds import HealthThresholds
from docasset.core.ocr.words import WORD_DTYPES
from docasset.core.training.health_reference import Reference, document_features

RECEIPT = load_doctype("receipt")
DAY = date(2026, 3, 4)
T = HealthThresholds()
TEXT = "ACME SDN BHD\nNO 1 JALAN SATU\n04/03/2026 10:00\nTOTAL 9.00\n"


def long_preds(docs: dict[str, dict[str, tuple[str | None, float]]], **kw: object) -> pl.DataFrame:
    """A long predictions frame: doc id -> field -> (value, confidence)."""
    rows = []
    for doc_id, fields in docs.items():
        conf_ok = all(v is not None and c >= 0.9 for v, c in fields.values())
        for spec in RECEIPT.fields:
            value, conf = fields.get(spec.name, (None, 0.0))
            rows.append(
                {
                    "doc_id": doc_id,
                    "batch_id": "b1",
                    "doc_type": "receipt",
                    "model_version": "v0001",
                    "predicted_at": datetime(2026, 3, 4, 10, tzinfo=UTC),
                    "route": kw.get("route") or ("auto" if conf_ok else "review"),
                    "blockers": [],
                    "field": spec.name,
                    "required": spec.required,
                    "value": value,
                    "normalized": None,
                    "confidence": conf,
                    "source": "memory" if kw.get("memory") == spec.name else "model",
                    "start": 0,
                    "end": 0,
                    "ocr_conf": 90.0,
                    "bad_scan": False,
                }
            )
    return pl.DataFrame(rows, schema=PREDICTION_COLUMNS)


def doc(company: str = "ACME SDN BHD", d: str = "04/03/2026", conf: float = 0.95) -> dict:
    return {
        "company": (company, conf),
        "date": (d, conf),
        "address": ("NO 1 JALAN SATU", conf),
        "total": ("9.00", conf),
    }


def reference(n: int = 12) -> Reference:
    feats = document_features({f"r{i}": TEXT for i in range(n)}).with_columns(
        pl.lit(0.95).alias("conf_company"),
        pl.lit(0.95).alias("conf_date"),
        pl.lit(0.95).alias("conf_address"),
        pl.lit(0.95).alias("conf_total"),
        pl.lit(4.0).alias("n_predicted"),
        pl.lit(0.0).alias("missing_required"),
        pl.lit("auto").alias("route"),
        pl.Series("split", ["dev" if i % 2 else "train" for i in range(n)]),
    )
    return Reference(
        model_version="v0001",
        doc_type="receipt",
        fields=RECEIPT.names,
        required=RECEIPT.required,
        features=feats,
        vendors=["acmesdnbhd", "kedairuncitsrimawarsdnbhd"],
        date_formats=["9/9/9"],
        months=[1, 2, 3],
        labels=sorted(RECEIPT.labels),
        n_docs={"train": n // 2, "dev": n - n // 2},
        confidence=dict.fromkeys(RECEIPT.names, 0.95),
        accuracy=dict.fromkeys(RECEIPT.names, 0.95),
        automation_rate=0.9,
        predictions_per_doc=4.0,
    )


def assess_window(
    preds: pl.DataFrame,
    problems: dict | None = None,
    truths: dict | None = None,
    ref: Reference | None = None,
    drift: DriftResult | None = None,
    with_reference: bool = True,
    thresholds: HealthThresholds = T,
) -> HealthAssessment:
    """The assessment of a window of ``preds`` whose documents all read ``TEXT``, against
    :func:`reference` (or ``ref``; none with ``with_reference=False``)."""
    if ref is None and with_reference:
        ref = reference()
    feats = window_features(
        RECEIPT, preds, document_features(dict.fromkeys(preds["doc_id"].unique(), TEXT))
    )
    return assess(
        day=DAY,
        doctype=RECEIPT,
        window=preds,
        features=feats,
        problems=problems or {},
        ref=ref,
        ref_features=ref.features if ref is not None else None,
        truths=truths or {},
        drift=drift,
        trend=(),
        thresholds=thresholds,
    )


def words(texts: dict[str, str], conf: float = 90.0) -> pl.DataFrame:
    """A word table with one line per text line, every word at confidence ``conf``."""
    rows = []
    for doc_id, text in texts.items():
        for ln, line in enumerate(text.splitlines(), start=1):
            for wn, word in enumerate(line.split(), start=1):
                rows.append(
                    {
                        "doc_id": doc_id,
                        "page": 0,
                        "block": 1,
                        "par": 1,
                        "line": ln,
                        "word": wn,
                        "left": 10 * wn,
                        "top": 20 * ln,
                        "width": 8,
                        "height": 12,
                        "conf": conf,
                        "text": word,
                    }
                )
    return pl.DataFrame(rows, schema=WORD_DTYPES)
