"""Stage 3: ``predictions`` - fields from the production model plus rules, routed auto/review."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import polars as pl

from docasset.core.extraction.evidence import word_spans
from docasset.core.extraction.extract import predict_documents
from docasset.core.extraction.prediction_table import blocker_counts, documents, predictions_frame
from docasset.core.extraction.routing import Blocker
from docasset.core.intake.scan_table import document_problems
from docasset.core.ocr.text import document_text
from docasset.core.validation.memory import CorrectionMemory, vendor_history
from docasset.defs.partitions import batches
from docasset.defs.resources import DocassetHome
from docasset.defs.settings import Settings
from docasset.errors import ModelError


@dg.asset(
    partitions_def=batches,
    io_manager_key="frames_io",
    group_name="extraction",
    kinds={"spacy", "polars"},
    description="Per document and field: value, normalized value, calibrated confidence, "
    "source, field_status (accepted | to_check) and the correction-memory entry that filled or "
    "confirmed it; per document the route (auto = touchless, review) with its blockers (text "
    "and structured). Uses the model the registry's `production` alias points to at run time.",
)
def predictions(
    context, raw_scans: pl.DataFrame, ocr_text: pl.DataFrame, home: DocassetHome, settings: Settings
) -> pl.DataFrame:
    doctype = settings.doctype()
    bundle = home.registry().load("production")
    if bundle is not None and bundle.doctype.name != doctype.name:
        raise ModelError(
            f"production model is for {bundle.doctype.name!r}, settings say {doctype.name!r}"
        )
    ok = raw_scans.filter(pl.col("status") == "ok")
    doc_ids = ok.unique(subset=["doc_id"], keep="first", maintain_order=True)["doc_id"].to_list()
    groups = {k[0]: v for k, v in ocr_text.partition_by("doc_id", as_dict=True).items()}
    texts = {d: document_text(groups[d], d) if d in groups else "" for d in doc_ids}
    conf = dict(ocr_text.group_by("doc_id").agg(pl.col("conf").mean()).iter_rows())
    bad = document_problems(raw_scans, ocr_text, settings.quality_thresholds())
    extra = {d: [Blocker("bad_scan", None, ", ".join(p))] for d, p in bad.items()}
    entries = CorrectionMemory(home.workdir().memory).entries()
    history = {d: h for d, t in texts.items() if (h := vendor_history(t, entries)) is not None}
    preds = predict_documents(
        bundle,
        doctype,
        texts,
        extra,
        history,
        settings.routing_config(),
        word_spans(ocr_text.filter(pl.col("doc_id").is_in(doc_ids))),
    )
    info = {d: {"ocr_conf": conf.get(d), "bad_scan": d in bad} for d in doc_ids}
    df = predictions_frame(doctype, preds, context.partition_key, datetime.now(UTC), info)
    docs = documents(df)
    n_fields = int(df.height)
    accepted = int((df["field_status"] == "accepted").sum())
    n_auto = int((docs["route"] == "auto").sum())
    context.add_output_metadata(
        {
            "model_version": bundle.version if bundle else "(none)",
            "documents": docs.height,
            "auto": n_auto,
            "review": docs.height - n_auto,
            "touchless_rate": n_auto / docs.height if docs.height else 0.0,
            "automation_rate": n_auto / docs.height if docs.height else 0.0,
            "fields_accepted": accepted,
            "fields_to_check": n_fields - accepted,
            "field_automation": accepted / n_fields if n_fields else 0.0,
            "vendors_recognised": len(history),
            "memory_fields": int(df["memory_entry"].is_not_null().sum()),
            **{f"blocked_{k}": n for k, n in blocker_counts(df).items()},
            "dagster/row_count": df.height,
        }
    )
    return df
