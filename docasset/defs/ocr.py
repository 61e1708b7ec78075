"""Stage 2: ``ocr_text`` (one OCR pass per page of every accepted document of a batch) and
``documents`` (one row per document: text, OCR measures, bad-scan verdict, computed once)."""

from __future__ import annotations

import os
import time

import dagster as dg
import polars as pl

from docasset.core.intake.scan_table import page_qualities, scan_file
from docasset.core.ocr.documents import documents_frame
from docasset.core.ocr.tesseract import ocr_documents
from docasset.core.ocr.words import empty_words, validate_words
from docasset.defs.partitions import batches
from docasset.defs.resources import DocassetHome
from docasset.defs.settings import Settings


@dg.asset(
    partitions_def=batches,
    io_manager_key="frames_io",
    group_name="ocr",
    kinds={"tesseract", "polars"},
    description="Word-level OCR (text, box, confidence, block/paragraph/line/word ids) of every "
    "accepted document of the batch, validated by the words schema.",
)
def ocr_text(
    context, raw_scans: pl.DataFrame, home: DocassetHome, settings: Settings
) -> pl.DataFrame:
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
        config=settings.ocr_config(),
        limits=settings.intake_limits(),
        workers=workers,
        qualities=measured,
    ):
        if isinstance(out, pl.DataFrame):
            frames.append(out)
        else:
            failures[doc_id] = str(out)
            context.log.error(f"OCR failed for {doc_id}: {out}")
    seconds = time.perf_counter() - started
    words = validate_words(pl.concat(frames)) if frames else empty_words()
    n_pages = int(raw_scans.filter(pl.col("status") == "ok").height)
    context.add_output_metadata(
        {
            "documents": len(items),
            "ocr_failures": len(failures),
            "failures": dg.MetadataValue.json(failures),
            "words": words.height,
            "mean_word_confidence": float(words["conf"].mean()) if words.height else 0.0,
            "seconds": round(seconds, 2),
            "pages_per_second": round(n_pages / seconds, 3) if seconds > 0 else 0.0,
            "dagster/row_count": words.height,
        }
    )
    return words


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
    context, raw_scans: pl.DataFrame, ocr_text: pl.DataFrame, settings: Settings
) -> pl.DataFrame:
    df = documents_frame(raw_scans, ocr_text, settings.quality_thresholds())
    context.add_output_metadata(
        {
            "documents": df.height,
            "bad_scans": int(df["bad_scan"].sum()),
            "without_text": int((df["n_words"] == 0).sum()),
            "dagster/row_count": df.height,
        }
    )
    return df
