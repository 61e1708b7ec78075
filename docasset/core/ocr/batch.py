"""One batch's OCR: the ``ocr_text`` asset's work, and the numbers it reports.

:func:`read_batch` reads every document with an engine (``docasset.core.ocr.engine``); a
document the engine fails on is that document's outcome (its reason in ``failures``), never
the batch's. :func:`ocr_summary` counts what the step metadata shows.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from docasset.core.crash import crashpoint
from docasset.core.intake.scans import IntakeLimits, PageQuality, ScanFile
from docasset.core.ocr.engine import Engine, ocr_documents, page_engines
from docasset.core.ocr.pdf_text import page_reasons
from docasset.core.ocr.words import empty_words, validate_words
from docasset.core.progress import Progress


@dataclass
class OcrBatch:
    """The word table of a batch's documents, why OCR failed on the others, the wall time."""

    words: pl.DataFrame
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def read_batch(
    items: Sequence[tuple[str, ScanFile]],
    engine: Engine,
    limits: IntakeLimits,
    workers: int,
    qualities: Mapping[str, Sequence[PageQuality | None]] | None = None,
) -> OcrBatch:
    """OCR ``(doc_id, scan)`` items in parallel (``qualities``: pages already measured)."""
    started = time.perf_counter()
    frames: list[pl.DataFrame] = []
    failures: dict[str, str] = {}
    progress = Progress("ocr", len(items))
    for doc_id, out in ocr_documents(
        items, engine, limits=limits, workers=workers, qualities=qualities
    ):
        crashpoint("ocr")
        if isinstance(out, pl.DataFrame):
            frames.append(out)
        else:  # that document's outcome (recorded, counted, checked), not the step's
            failures[doc_id] = f"{type(out).__name__}: {out}"
        progress.step(note=f"{len(failures)} failed" if failures else "")
    # diagonal: a page_reason column is present when the engine reads text layers.
    words = validate_words(pl.concat(frames, how="diagonal")) if frames else empty_words()
    return OcrBatch(words, failures, time.perf_counter() - started)


def ocr_summary(batch: OcrBatch, engine: Engine, documents: int, pages: int) -> dict[str, Any]:
    """Documents, failures, words, confidence, engine, pages per engine and speed."""
    w = batch.words
    conf = w["conf"].mean() if w.height else None
    return {
        "documents": documents,
        "ocr_failures": len(batch.failures),
        "failures": batch.failures,
        "words": w.height,
        "mean_word_confidence": float(conf) if isinstance(conf, int | float) else 0.0,
        "ocr_engine": engine.name,
        "ocr_versions": engine.versions(),
        # Which engine produced each page's text (hybrid: re-read pages are rapidocr's).
        **{f"pages_{name}": n for name, n in page_engines(w).items()},
        # Why each page was read so (text layer, or the reason it was OCR'd).
        **{f"pages_reason_{why}": n for why, n in page_reasons(w).items()},
        "seconds": round(batch.seconds, 2),
        "pages_per_second": round(pages / batch.seconds, 3) if batch.seconds > 0 else 0.0,
    }
