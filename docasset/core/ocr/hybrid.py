"""The ``hybrid`` engine: Tesseract first, RapidOCR only for pages the cheap evidence says
are hard.

Evidence (:class:`EscalationConfig`), all of it already at hand after the Tesseract pass:

- **page**: the mean Tesseract word confidence of the page is below ``min_page_conf``, or
  Tesseract found no word on a page that is not blank;
- **document** (a ``hard_document`` predicate over the Tesseract text): every page of the
  document not re-read yet is re-read. What makes a text hard is extraction's knowledge (a
  required field without a rule/layout candidate): the predicate, and :func:`make_engine`,
  the one place an engine name becomes an engine, live in
  ``docasset.core.extraction.ocr_escalation``, so OCR imports nothing from the stages after it;
- **review** (off unless a ``review`` predicate is given and ``on_review`` is set): the
  production model would route the Tesseract text to review.

A re-read page takes RapidOCR's words unless RapidOCR found none (then Tesseract's stay);
the word table's ``engine`` column records which engine produced each page, and its
``second_reading`` column keeps Tesseract's text of a re-read page: two engines disagreeing
on a date or an amount is evidence the extraction stage checks (``ocr_engines_disagree``).
The policy was chosen on the SROIE training half (``evals/README.md``, *OCR engines*).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl
from PIL import Image

from docasset.core.intake.scans import IntakeLimits, PageQuality, ScanFile, iter_pages, page_quality
from docasset.core.ocr.engine import Engine, page_measure
from docasset.core.ocr.rapid import RapidEngine
from docasset.core.ocr.tesseract import TesseractEngine
from docasset.core.ocr.text import document_text
from docasset.core.ocr.words import SECOND_READING, empty_words
from docasset.core.tunable import tunable

ReviewPredicate = Callable[[str, str], bool]  # (doc_id, text) -> would be routed to review
TextPredicate = Callable[[str], bool]  # document text -> re-read the document


@dataclass(frozen=True)
class EscalationConfig:
    """When the hybrid engine re-reads a Tesseract page with RapidOCR.

    Chosen on the SROIE training half (``python -m evals.escalation``, ids 000-099): page
    confidence below 70 or a required field without a candidate re-reads half the pages
    (estimated OCR CPU 2.5x Tesseract's) and lifted micro F1 (trained on 60, scored on 40)
    from 0.615 to 0.696; below 75 scored 0.703 at 2.9x, within noise and too close to the 3x
    budget; candidate strength thresholds cost more for less. The production model's routing
    is no evidence yet: it sent every held-out document to review (``on_review`` would re-read
    everything, 4x).
    """

    min_page_conf: float = tunable(
        70.0,
        "Re-read a page whose mean Tesseract word confidence is below this (0: never; 101: "
        "every page).",
        ge=0,
        le=101,
    )
    min_field_strength: float = tunable(
        0.0,
        "Re-read a document when a required field's best rule/layout candidate in the "
        "Tesseract text is weaker than this (0: only when a required field has none).",
        ge=0,
        le=1,
    )
    on_missing_fields: bool = tunable(
        True, "Re-read a document whose Tesseract text lacks a required field's candidate."
    )
    on_review: bool = tunable(
        False,
        "Re-read a document the production model would route to review (the graph only; "
        "with no production model every document would be re-read).",
    )


def page_is_hard(words: pl.DataFrame, quality: PageQuality, config: EscalationConfig) -> bool:
    """Page evidence: low mean word confidence, or no words on a page that is not blank."""
    if quality.blank:
        return False
    if words.is_empty():
        return config.min_page_conf > 0
    return float(words["conf"].mean()) < config.min_page_conf  # type: ignore[arg-type]


class HybridEngine(Engine):
    """Tesseract on every page; RapidOCR on the pages the evidence says are hard."""

    name = "hybrid"

    def __init__(
        self,
        tesseract: TesseractEngine,
        rapid: RapidEngine,
        config: EscalationConfig = EscalationConfig(),
        hard_document: TextPredicate | None = None,
        review: ReviewPredicate | None = None,
    ) -> None:
        self.tesseract = tesseract
        self.rapid = rapid
        self.config = config
        self.hard_document = hard_document
        self.review = review if config.on_review else None

    def versions(self) -> dict[str, str]:
        return {**self.tesseract.versions(), **self.rapid.versions()}

    def warm_up(self) -> None:
        self.rapid.warm_up()

    def _rapid(self, img: Image.Image, doc_id: str, page: int, dpi: float | None) -> pl.DataFrame:
        return self.rapid.read_page(img, doc_id=doc_id, page=page, dpi=dpi, quality=None)

    def read_document(
        self, scan: ScanFile, limits: IntakeLimits, qualities: Sequence[PageQuality | None] | None
    ) -> pl.DataFrame:
        tess: dict[int, pl.DataFrame] = {}
        rapid: dict[int, pl.DataFrame] = {}
        blank: set[int] = set()
        last: tuple[int, float | None, Image.Image] | None = None
        for info, img in iter_pages(scan, limits):  # one page image in memory at a time
            quality = page_measure(qualities, info.page) or page_quality(img, info.dpi)
            words = self.tesseract.read_page(
                img, doc_id=scan.doc_id, page=info.page, dpi=info.dpi, quality=quality
            )
            tess[info.page] = words
            if quality.blank:
                blank.add(info.page)
            if page_is_hard(words, quality, self.config):
                rapid[info.page] = self._rapid(img, scan.doc_id, info.page, info.dpi)
            last = (info.page, info.dpi, img)
        text = document_text(combine_pages(tess, rapid), scan.doc_id)
        rest = [p for p in tess if p not in rapid and p not in blank]
        if rest and (
            (self.hard_document is not None and self.hard_document(text))
            or (self.review is not None and self.review(scan.doc_id, text))
        ):
            if last is not None and rest == [last[0]]:  # the usual one-page scan: in hand
                rapid[last[0]] = self._rapid(last[2], scan.doc_id, last[0], last[1])
            else:
                for info, img in iter_pages(scan, limits):
                    if info.page in rest:
                        rapid[info.page] = self._rapid(img, scan.doc_id, info.page, info.dpi)
        return combine_pages(tess, rapid)


def combine_pages(tess: dict[int, pl.DataFrame], rapid: dict[int, pl.DataFrame]) -> pl.DataFrame:
    """Per page RapidOCR's words when it re-read the page and found any (with Tesseract's
    text of the page as its ``second_reading``, "" when Tesseract found no word), else
    Tesseract's."""
    frames = []
    for p in sorted(tess):
        if p in rapid and rapid[p].height:
            doc_id = str(rapid[p]["doc_id"][0])
            other = document_text(tess[p], doc_id) if tess[p].height else ""
            frames.append(rapid[p].with_columns(pl.lit(other, dtype=pl.Utf8).alias(SECOND_READING)))
        elif tess[p].height:
            frames.append(tess[p])
    return pl.concat(frames, how="diagonal") if frames else empty_words()
