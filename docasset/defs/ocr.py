"""Stage 2: ``ocr_text`` (every page of every accepted document of a batch read by the
``ocr_engine`` resource), its non-blocking ``ocr_failures`` check (share of documents OCR
failed on), and ``documents`` (one row per document: text, OCR measures, the OCR engine of
its pages, bad-scan verdict, computed once)."""

from __future__ import annotations

import os

import dagster as dg
import polars as pl

from docasset.core.extraction.extract import predict_text
from docasset.core.intake.index import OCR_STAGE
from docasset.core.intake.ledger import document_index
from docasset.core.intake.quality import failure_severity
from docasset.core.intake.scan_table import accepted_scans, page_qualities
from docasset.core.ocr.batch import ocr_summary, read_batch
from docasset.core.ocr.documents import documents_frame
from docasset.core.ocr.hybrid import ReviewPredicate
from docasset.defs.ocr_engines import OcrEngine
from docasset.defs.partitions import batches
from docasset.defs.resources import DocassetHome, ModelRegistry
from docasset.defs.settings import Settings


@dg.asset(
    partitions_def=batches,
    io_manager_key="frames_io",
    group_name="ocr",
    kinds={"tesseract", "polars"},
    description="Word-level OCR (text, box, confidence, block/paragraph/line/word ids, and the "
    "engine that read the page) of every accepted document of the batch, by the `ocr_engine` "
    "resource (tesseract, rapidocr or hybrid), validated by the words schema.",
)
def ocr_text(
    context,
    raw_scans: pl.DataFrame,
    home: DocassetHome,
    settings: Settings,
    ocr_engine: OcrEngine,
    registry: ModelRegistry,
) -> pl.DataFrame:
    engine = ocr_engine.engine(settings, _review_predicate(registry, settings))
    wd = home.workdir()
    items = accepted_scans(wd, raw_scans)
    batch = read_batch(
        items,
        engine,
        settings.intake_limits(),
        settings.ocr_config().workers or os.cpu_count() or 1,
        page_qualities(raw_scans),  # raw_scans measured every page: no second pass
    )
    index = document_index(wd)
    for doc_id, why in batch.failures.items():
        context.log.error(f"OCR failed for {doc_id}: {why}")
        index.record_failure(doc_id, OCR_STAGE, context.partition_key, why)
    index.clear_failures(
        OCR_STAGE, context.partition_key, [d for d, _ in items if d not in batch.failures]
    )
    n_pages = int(raw_scans.filter(pl.col("status") == "ok").height)
    summary = ocr_summary(batch, engine, len(items), n_pages)
    for key in ("failures", "ocr_versions"):
        summary[key] = dg.MetadataValue.json(summary[key])
    context.add_output_metadata({**summary, "dagster/row_count": batch.words.height})
    return batch.words


@dg.asset_check(
    asset=ocr_text,
    blocking=False,
    partitions_def=batches,
    additional_ins={"raw_scans": dg.AssetIn()},
    description="Warns when OCR failed on more than settings.quality.ocr_failure_warn_share "
    "of the batch's documents, errors above ocr_failure_error_share (the failed documents go "
    "to review with the reason; the step itself succeeds).",
)
def ocr_failures(
    context, raw_scans: pl.DataFrame, home: DocassetHome, settings: Settings
) -> dg.AssetCheckResult:
    failed = document_index(home.workdir()).failures(context.partition_key, OCR_STAGE)
    documents = raw_scans.filter(pl.col("status") == "ok")["doc_id"].n_unique()
    severity = failure_severity(len(failed), documents, settings.quality_thresholds())
    return dg.AssetCheckResult(
        passed=severity is None,
        severity=dg.AssetCheckSeverity.ERROR if severity == "error" else dg.AssetCheckSeverity.WARN,
        metadata={
            "documents": documents,
            "failed": len(failed),
            "failed_share": (
                float(len(failed) / documents) if documents else dg.MetadataValue.null()
            ),
            "warn_above": settings.quality_thresholds().ocr_failure_warn_share,
            "error_above": settings.quality_thresholds().ocr_failure_error_share,
            "failures": dg.MetadataValue.json(dict(sorted(failed.items())[:50])),
        },
    )


def _review_predicate(registry: ModelRegistry, settings: Settings) -> ReviewPredicate | None:
    """Whether the production model would route a text to review: the hybrid engine's
    ``on_review`` evidence. None when that evidence is off or no production model exists (then
    every document would be "review", and re-reading everything is the rapidocr engine)."""
    if settings.ocr_config().engine != "hybrid" or not settings.escalation_config().on_review:
        return None
    bundle = registry.store().load("production")
    if bundle is None:
        return None

    def would_review(doc_id: str, text: str) -> bool:
        with bundle.lock:  # one spaCy pipeline, several OCR worker threads
            return predict_text(bundle, doc_id, text).route == "review"

    return would_review


@dg.asset(
    partitions_def=batches,
    io_manager_key="frames_io",
    group_name="ocr",
    kinds={"polars"},
    description="One row per accepted document of the batch: OCR text, word count, mean word "
    "confidence, scan/OCR problems and the bad-scan verdict (the one definition every stage "
    "uses), source name and archived image path.",
)
def documents(
    context,
    raw_scans: pl.DataFrame,
    ocr_text: pl.DataFrame,
    home: DocassetHome,
    settings: Settings,
) -> pl.DataFrame:
    # What ocr_text failed on (recorded in the documents index), so predictions say why.
    failed = document_index(home.workdir()).failures(context.partition_key, OCR_STAGE)
    df = documents_frame(raw_scans, ocr_text, settings.quality_thresholds(), failed)
    context.add_output_metadata(
        {
            "documents": df.height,
            "bad_scans": int(df["bad_scan"].sum()),
            "without_text": int((df["n_words"] == 0).sum()),
            "ocr_failures": int(df["ocr_error"].is_not_null().sum()),
            "dagster/row_count": df.height,
        }
    )
    return df
