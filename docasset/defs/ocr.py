"""Stage 2: ``ocr_text`` (every page of every accepted document of a batch read by the
``ocr_engine`` resource), its non-blocking ``ocr_failures`` check (share of documents OCR
failed on), and ``documents`` (one row per document: text, OCR measures, the OCR engine of
its pages, bad-scan verdict, computed once)."""

from __future__ import annotations

import os
import threading
import time

import dagster as dg
import polars as pl

from docasset.core.extraction.extract import predict_text
from docasset.core.intake.index import OCR_STAGE
from docasset.core.intake.ledger import document_index
from docasset.core.intake.quality import failure_severity
from docasset.core.intake.scan_table import page_qualities, scan_file
from docasset.core.ocr.documents import documents_frame
from docasset.core.ocr.engine import ocr_documents, page_engines
from docasset.core.ocr.hybrid import ReviewPredicate
from docasset.core.ocr.words import empty_words, validate_words
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
    docs = raw_scans.filter(pl.col("status") == "ok").unique(
        subset=["doc_id"], keep="first", maintain_order=True
    )
    items = [
        (r["doc_id"], scan_file(wd, r | {"pages": _pages(raw_scans, r["doc_id"])}))
        for r in docs.iter_rows(named=True)
    ]
    started = time.perf_counter()
    frames: list[pl.DataFrame] = []
    failures: dict[str, str] = {}
    workers = settings.ocr_config().workers or os.cpu_count() or 1
    measured = page_qualities(raw_scans)  # raw_scans measured every page: no second pass
    for doc_id, out in ocr_documents(
        items,
        engine,
        limits=settings.intake_limits(),
        workers=workers,
        qualities=measured,
    ):
        if isinstance(out, pl.DataFrame):
            frames.append(out)
        else:  # that document's outcome (recorded, counted, checked), not the step's
            failures[doc_id] = f"{type(out).__name__}: {out}"
            context.log.error(f"OCR failed for {doc_id}: {out}")
    seconds = time.perf_counter() - started
    index = document_index(wd)
    for doc_id, why in failures.items():
        index.record_failure(doc_id, OCR_STAGE, context.partition_key, why)
    index.clear_failures(
        OCR_STAGE, context.partition_key, [d for d, _ in items if d not in failures]
    )
    words = validate_words(pl.concat(frames)) if frames else empty_words()
    n_pages = int(raw_scans.filter(pl.col("status") == "ok").height)
    context.add_output_metadata(
        {
            "documents": len(items),
            "ocr_failures": len(failures),
            "failures": dg.MetadataValue.json(failures),
            "words": words.height,
            "mean_word_confidence": float(words["conf"].mean()) if words.height else 0.0,  # type: ignore[arg-type]
            "ocr_engine": engine.name,
            "ocr_versions": dg.MetadataValue.json(engine.versions()),
            # Which engine produced each page's text (hybrid: re-read pages are rapidocr's).
            **{f"pages_{name}": n for name, n in page_engines(words).items()},
            "seconds": round(seconds, 2),
            "pages_per_second": round(n_pages / seconds, 3) if seconds > 0 else 0.0,
            "dagster/row_count": words.height,
        }
    )
    return words


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
    lock = threading.Lock()  # one spaCy pipeline, several OCR worker threads

    def would_review(doc_id: str, text: str) -> bool:
        with lock:
            return predict_text(bundle, doc_id, text).route == "review"

    return would_review


def _pages(raw_scans: pl.DataFrame, doc_id: str) -> list[dict[str, object]]:
    rows = raw_scans.filter((pl.col("doc_id") == doc_id) & (pl.col("status") == "ok")).sort("page")
    return [
        {"page": r["page"], "width": r["width"], "height": r["height"], "dpi": r["dpi"]}
        for r in rows.iter_rows(named=True)
    ]


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
