"""OCR engines: the one interface every stage reads pages through, and the parallel driver.

An :class:`Engine` turns a scan into the word table (``docasset.core.ocr.words``), one row
per word with the ``engine`` that read its page. Three exist: ``tesseract``
(``docasset.core.ocr.tesseract``), ``rapidocr`` (PP-OCR on ONNX Runtime,
``docasset.core.ocr.rapid``) and ``hybrid`` (Tesseract first, RapidOCR for the pages the
evidence says are hard, ``docasset.core.ocr.hybrid``). Nothing here imports Dagster; the
``OcrEngine`` resources in ``docasset.defs.ocr_engines`` wrap these.

A model is versioned with the engine its training text came from: :meth:`Engine.identity`
is what ``model.json`` records, and :func:`engine_mismatch` says when text from another
engine is about to be predicted with it.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import polars as pl
from PIL import Image

from docasset.core.intake.scans import IntakeLimits, PageQuality, ScanFile, iter_pages
from docasset.core.isolation import isolated
from docasset.core.ocr.words import empty_words
from docasset.errors import DocumentError, OcrError, ScanError

DEFAULT_LIMITS = IntakeLimits()
OCR_META = "ocr"  # model.json / registry key of the engine identity

OcrOutcome = pl.DataFrame | OcrError | ScanError | DocumentError


class Engine(ABC):
    """Reads a scan into the word table; one instance serves every worker thread."""

    name: str

    @abstractmethod
    def versions(self) -> dict[str, str]:
        """Page engine -> its version and settings that change what it reads."""

    def identity(self) -> dict[str, Any]:
        """What a model records about the OCR of its training text."""
        return {"engine": self.name, "versions": self.versions()}

    def warm_up(self) -> None:  # noqa: B027 - optional hook, nothing to load by default
        """Load models now rather than on the first page (no-op unless overridden)."""

    @abstractmethod
    def read_document(
        self, scan: ScanFile, limits: IntakeLimits, qualities: Sequence[PageQuality | None] | None
    ) -> pl.DataFrame:
        """Every page of ``scan`` as one validated word table; raises OcrError/ScanError.

        ``qualities`` (one per page, as ``raw_scans`` measured them) spares measuring the
        pages again."""


class PageEngine(Engine):
    """An engine that reads one page at a time (Tesseract, RapidOCR)."""

    @abstractmethod
    def read_page(
        self,
        img: Image.Image,
        *,
        doc_id: str,
        page: int,
        dpi: float | None,
        quality: PageQuality | None,
    ) -> pl.DataFrame:
        """One grayscale page as a validated word table (empty when no text was found)."""

    def read_document(
        self, scan: ScanFile, limits: IntakeLimits, qualities: Sequence[PageQuality | None] | None
    ) -> pl.DataFrame:
        frames = [
            self.read_page(
                img,
                doc_id=scan.doc_id,
                page=info.page,
                dpi=info.dpi,
                quality=page_measure(qualities, info.page),
            )
            for info, img in iter_pages(scan, limits)  # one page image in memory at a time
        ]
        frames = [f for f in frames if f.height]
        return pl.concat(frames) if frames else empty_words()


def page_measure(qualities: Sequence[PageQuality | None] | None, page: int) -> PageQuality | None:
    """The measure of ``page`` when an earlier stage took it, else None."""
    return qualities[page] if qualities and page < len(qualities) else None


def _outcome(
    engine: Engine,
    scan: ScanFile,
    limits: IntakeLimits,
    qualities: Sequence[PageQuality | None] | None,
) -> OcrOutcome:
    # Whatever one document raises is its outcome (docasset.core.isolation); only
    # infrastructure errors propagate out of ocr_documents.
    try:
        return isolated(scan.doc_id, engine.read_document, scan, limits, qualities)
    except (OcrError, ScanError) as exc:
        return exc


def ocr_documents(
    items: Iterable[tuple[str, ScanFile]],
    engine: Engine,
    *,
    limits: IntakeLimits = DEFAULT_LIMITS,
    workers: int | None = None,
    qualities: Mapping[str, Sequence[PageQuality | None]] | None = None,
) -> Iterator[tuple[str, OcrOutcome]]:
    """OCR documents in parallel with ``engine``; yield ``(key, words | error)`` in input order.

    Each worker handles one document at a time and holds one page image, and at most
    ``2 * workers`` documents are submitted ahead of the consumer, so memory stays flat however
    long ``items`` is. A failing document yields its :class:`OcrError`/:class:`ScanError`, or
    a :class:`DocumentError` for any other exception it caused; the others go on. Threads
    suffice: Tesseract works in a subprocess and ONNX Runtime releases the GIL while it
    computes. ``qualities`` maps a key to its pages' measures when an earlier
    stage already took them.
    """
    n = workers if workers is not None else (os.cpu_count() or 1)
    if n < 1:
        raise ValueError(f"workers must be >= 1, got {n}")
    pending: deque[tuple[str, Future[OcrOutcome]]] = deque()
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="ocr") as pool:
        try:
            for key, scan in items:
                measured = (qualities or {}).get(key)
                pending.append((key, pool.submit(_outcome, engine, scan, limits, measured)))
                if len(pending) >= 2 * n:
                    key0, future = pending.popleft()
                    yield key0, future.result()
            while pending:
                key0, future = pending.popleft()
                yield key0, future.result()
        finally:  # consumer stopped early: drop queued work, let running pages finish
            for _, future in pending:
                future.cancel()


def page_engines(words: pl.DataFrame) -> dict[str, int]:
    """Page engine -> number of pages of ``words`` it read (pages with text only)."""
    pages = words.select("doc_id", "page", "engine").unique()
    return dict(sorted(pages.group_by("engine").len().iter_rows()))


def engine_mismatch(trained: Mapping[str, Any] | None, current: Mapping[str, Any]) -> str | None:
    """Why text from ``current`` does not match the OCR a model was trained on, or None.

    ``trained`` is the model's recorded :meth:`Engine.identity` (None for a model that
    recorded none); engines differ, or one of the page engines both use has another version.
    """
    if not trained:
        return (
            f"the model records no OCR engine; this text comes from {current['engine']} "
            "(models trained before engines were recorded read Tesseract text)"
        )
    if trained.get("engine") != current.get("engine"):
        return (
            f"the model was trained on {trained.get('engine')} text, this text comes from "
            f"{current.get('engine')}: extraction accuracy and calibration may not hold"
        )
    old, new = trained.get("versions") or {}, current.get("versions") or {}
    changed = sorted(k for k in set(old) & set(new) if old[k] != new[k])
    if changed:
        return "OCR engine version changed since training: " + "; ".join(
            f"{k} {old[k]} -> {new[k]}" for k in changed
        )
    return None
