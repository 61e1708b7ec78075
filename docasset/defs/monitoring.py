"""Stage 9: ``production_health`` - label-free statistics of the day's predictions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl

from docasset.core.files import atomic_write
from docasset.core.health import health_summary
from docasset.defs.partitions import days
from docasset.defs.resources import DocassetHome
from docasset.defs.training import ALL_BATCHES, _concat


@dg.asset(
    partitions_def=days,
    group_name="monitoring",
    ins={"predictions": dg.AssetIn(**ALL_BATCHES)},
    description="Per day: confidence distribution, predictions per document, share routed to "
    "review, missing required fields, mean OCR confidence, model versions in use.",
)
def production_health(context, predictions: dict[str, pl.DataFrame], home: DocassetHome) -> dict:
    day = datetime.strptime(context.partition_key, "%Y-%m-%d").replace(tzinfo=UTC)
    preds = _concat(predictions)
    window = (
        preds.filter(
            (pl.col("predicted_at") >= day) & (pl.col("predicted_at") < day + timedelta(days=1))
        )
        if preds is not None
        else pl.DataFrame()
    )
    ocr = (
        window.unique(subset=["doc_id"])["ocr_conf"].drop_nulls().to_list()
        if window.height
        else None
    )
    summary = health_summary(window, ocr)
    path = home.workdir().reports / f"health-{context.partition_key}.json"
    atomic_write(path, json.dumps(summary, indent=2).encode())
    meta: dict[str, object] = {
        "documents": summary["n_docs"],
        "report_path": dg.MetadataValue.path(str(path)),
    }
    for k in (
        "automation_rate",
        "review_share",
        "predictions_per_doc",
        "missing_required_share",
        "mean_field_confidence",
        "mean_ocr_confidence",
    ):
        if summary.get(k) is not None:
            meta[k] = float(summary[k])
    context.add_output_metadata(meta)
    return summary
