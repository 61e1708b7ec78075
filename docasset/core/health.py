"""Label-free production health statistics over a window of predictions."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from docasset.core.prediction_table import documents


def health_summary(preds: pl.DataFrame, ocr_conf: list[float] | None = None) -> dict[str, Any]:
    """Confidence distribution, predictions per document, review share, OCR confidence.

    ``preds`` is the long predictions frame of the window; ``ocr_conf`` the mean OCR word
    confidence of each document in the window (0..100), when known.
    """
    if preds.is_empty():
        return {"n_docs": 0}
    docs = documents(preds)
    n_docs = docs.height
    predicted = preds.filter(pl.col("value").is_not_null())
    per_field = (
        predicted.group_by("field")
        .agg(
            pl.col("confidence").mean().alias("mean_confidence"),
            pl.len().alias("n_predicted"),
        )
        .sort("field")
    )
    missing_required = (
        preds.filter(pl.col("required") & pl.col("value").is_null())
        .select(pl.col("doc_id").n_unique())
        .item()
    )
    conf = predicted["confidence"].to_numpy()
    hist, edges = (
        np.histogram(conf, bins=10, range=(0.0, 1.0))
        if conf.size
        else (np.zeros(10), np.linspace(0, 1, 11))
    )
    return {
        "n_docs": n_docs,
        "automation_rate": float((docs["route"] == "auto").mean()),
        "review_share": float((docs["route"] == "review").mean()),
        "predictions_per_doc": predicted.height / n_docs,
        "missing_required_share": missing_required / n_docs,
        "mean_field_confidence": float(conf.mean()) if conf.size else 0.0,
        "field_confidence": {
            r["field"]: r["mean_confidence"] for r in per_field.iter_rows(named=True)
        },
        "confidence_histogram": {
            f"{edges[i]:.1f}-{edges[i + 1]:.1f}": int(h) for i, h in enumerate(hist)
        },
        "mean_ocr_confidence": float(np.mean(ocr_conf)) if ocr_conf else None,
        "model_versions": sorted({v for v in docs["model_version"].to_list() if v}),
    }
