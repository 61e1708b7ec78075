"""One batch's predictions: the ``predictions`` asset's work, and the numbers it reports.

:func:`predict_batch` turns a batch's ``documents`` table (``docasset.core.ocr.documents``)
into the long predictions frame: a bad scan or a document OCR failed on is routed to review
with that blocker, every other document goes through :func:`predict_documents` with its vendor
history and OCR word confidences. :func:`batch_summary` counts what the step metadata shows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import polars as pl

from docasset.core.extraction.dates import DateContext
from docasset.core.extraction.extract import EXTRACTION_FAILED, ModelBundle, predict_documents
from docasset.core.extraction.fields import DocType, alias_key
from docasset.core.extraction.history import VendorHistory
from docasset.core.extraction.prediction_table import blocker_counts, predictions_frame
from docasset.core.extraction.prediction_table import documents as document_routes
from docasset.core.extraction.routing import Blocker, DocPrediction, RoutingConfig
from docasset.core.extraction.vendors import VendorMatch
from docasset.core.ocr.documents import ocr_errors, second_texts_of, texts_of, word_confs_of


@dataclass(frozen=True)
class BatchPredictions:
    """The predictions frame of a batch, its predictions, and the documents OCR failed on."""

    frame: pl.DataFrame
    predictions: list[DocPrediction]
    ocr_failed: dict[str, str]


def document_blockers(documents: pl.DataFrame) -> dict[str, list[Blocker]]:
    """Blockers known before extraction: a bad scan, and OCR failures (first: review must
    say why a document was predicted from no text)."""
    extra = {
        r["doc_id"]: [Blocker("bad_scan", None, ", ".join(r["problems"]))]
        for r in documents.filter(pl.col("bad_scan")).iter_rows(named=True)
    }
    for d, why in ocr_errors(documents).items():
        extra.setdefault(d, []).insert(0, Blocker("ocr_failed", None, why))
    return extra


def predict_batch(
    bundle: ModelBundle | None,
    doctype: DocType,
    documents: pl.DataFrame,
    history: dict[str, VendorHistory],
    routing: RoutingConfig,
    batch_id: str,
    now: datetime,
    vendors: dict[str, VendorMatch] | None = None,
) -> BatchPredictions:
    """Predict every document of a batch (``history``: the vendor history per document;
    ``vendors``: the registry's match per document). The batch arrived ``now``: its dates
    are checked against it (``docasset.core.extraction.dates``)."""
    arrival = DateContext(arrival=now.date())
    texts = texts_of(documents)
    second = second_texts_of(documents)  # pages two OCR engines read: a check of dates/amounts
    preds = predict_documents(
        bundle,
        doctype,
        texts,
        document_blockers(documents),
        history,
        routing,
        word_confs_of(documents),
        vendors,
        {d: replace(arrival, other_reading=second.get(d)) for d in texts},
    )
    info = {
        r["doc_id"]: {"ocr_conf": r["ocr_conf"], "bad_scan": r["bad_scan"]}
        for r in documents.iter_rows(named=True)
    }
    frame = predictions_frame(doctype, preds, batch_id, now, info)
    return BatchPredictions(frame, preds, ocr_errors(documents))


def batch_summary(batch: BatchPredictions, vendors_recognised: int) -> dict[str, Any]:
    """Documents, routes, field automation, blockers per kind and failures of a batch."""
    df = batch.frame
    docs = document_routes(df)
    n_fields = int(df.height)
    accepted = int((df["field_status"] == "accepted").sum())
    n_auto = int((docs["route"] == "auto").sum())
    failed = {
        p.doc_id: b.text
        for p in batch.predictions
        for b in p.blockers
        if b.kind == EXTRACTION_FAILED
    }
    return {
        "documents": docs.height,
        "auto": n_auto,
        "review": docs.height - n_auto,
        "touchless_rate": n_auto / docs.height if docs.height else 0.0,
        "automation_rate": n_auto / docs.height if docs.height else 0.0,
        "fields_accepted": accepted,
        "fields_to_check": n_fields - accepted,
        "field_automation": accepted / n_fields if n_fields else 0.0,
        "vendors_recognised": vendors_recognised,
        "memory_fields": int(df["memory_entry"].is_not_null().sum()),
        "vendors_matched": int(docs["vendor_id"].is_not_null().sum()),
        **{f"blocked_{k}": n for k, n in blocker_counts(df).items()},
        "ocr_failures": len(batch.ocr_failed),
        "extraction_failures": len(failed),
        "failures": dict(sorted(failed.items())[:50]),
    }


def customers_recognised(doctype: DocType, predictions: list[DocPrediction]) -> int:
    """Customer-field values (role ``customer``) whose spelling the type's aliases know:
    repeat customers recognised under their canonical name (``fields.canonical``)."""
    tables = {name: {k for k, _ in t} for name, t in doctype.aliases}
    return sum(
        1
        for p in predictions
        for name in doctype.role_fields("customer")
        if (v := p.fields[name].value) is not None and alias_key(v) in tables.get(name, set())
    )
