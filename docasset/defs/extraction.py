"""Stage 3: ``predictions`` - fields from the production model plus rules, routed auto/review."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import dagster as dg
import polars as pl

from docasset.core.extraction.extract import EXTRACTION_FAILED, predict_documents
from docasset.core.extraction.prediction_table import documents, predictions_frame
from docasset.core.intake.index import OCR_STAGE
from docasset.core.intake.ledger import document_index
from docasset.core.intake.scan_table import document_problems
from docasset.core.ocr.text import document_text
from docasset.core.validation.memory import CorrectionMemory, recall
from docasset.defs.partitions import batches
from docasset.defs.resources import DocassetHome
from docasset.defs.settings import Settings
from docasset.errors import ModelError


@dg.asset(
    partitions_def=batches,
    io_manager_key="frames_io",
    group_name="extraction",
    kinds={"spacy", "polars"},
    description="Per document and field: value, normalized value, calibrated confidence and "
    "source, and the document's route (auto/review) with its automation blockers. Uses the "
    "model the registry's `production` alias points to at run time.",
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
    extra = {d: [f"bad scan: {', '.join(p)}"] for d, p in bad.items()}
    # A document OCR failed on is predicted from no text; review must say why.
    ocr_failed = document_index(home.workdir()).failures(context.partition_key, OCR_STAGE)
    for d, why in ocr_failed.items():
        extra.setdefault(d, []).insert(0, f"OCR failed: {why}")
    entries = CorrectionMemory(home.workdir().memory).entries()
    hits = {d: {f: h[:3] for f, h in recall(t, entries).items()} for d, t in texts.items()}
    hits = {d: h for d, h in hits.items() if h}
    preds = predict_documents(
        bundle, doctype, texts, extra, hits, settings.routing_config().memory_confidence
    )
    info = {d: {"ocr_conf": conf.get(d), "bad_scan": d in bad} for d in doc_ids}
    df = predictions_frame(doctype, preds, context.partition_key, datetime.now(UTC), info)
    docs = documents(df)
    blockers = Counter(b.split(" (")[0] for bl in docs["blockers"].to_list() for b in bl)
    failed = {p.doc_id: b for p in preds for b in p.blockers if b.startswith(EXTRACTION_FAILED)}
    context.add_output_metadata(
        {
            "model_version": bundle.version if bundle else "(none)",
            "documents": docs.height,
            "auto": int((docs["route"] == "auto").sum()),
            "review": int((docs["route"] == "review").sum()),
            "automation_rate": float((docs["route"] == "auto").mean()) if docs.height else 0.0,
            "memory_hits": len(hits),
            "ocr_failures": len(ocr_failed),
            "extraction_failures": len(failed),
            "failures": dg.MetadataValue.json(dict(sorted(failed.items())[:50])),
            "blockers": dg.MetadataValue.json(dict(blockers.most_common(20))),
            "dagster/row_count": df.height,
        }
    )
    return df
