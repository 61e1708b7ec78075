"""The text-layer decision: born-digital pages read from their text, scans OCR'd, a garbled
or contradicted layer detected; hand-written PDFs, real PDFium, real Tesseract samples."""

from __future__ import annotations

from pathlib import Path

import pandera.errors
import polars as pl
import pytest
from PIL import Image

from docasset.core.intake.scans import IntakeLimits, PageQuality, inspect_file, pdf_page_dpi
from docasset.core.ocr.engine import PageEngine
from docasset.core.ocr.pdf_text import (
    DISAGREES,
    GARBLED,
    LOW_COVERAGE,
    MODE_NEVER,
    NO_TEXT_LAYER,
    NOT_PDF,
    PDF_TEXT,
    TEXT_LAYER,
    TextLayerConfig,
    TextLayerEngine,
    decide_document,
    layer_recall,
    page_reasons,
)
from docasset.core.ocr.tesseract import OcrConfig, TesseractEngine
from docasset.core.ocr.text import document_text
from docasset.core.ocr.words import empty_words, validate_words
from tests.core.ocr.pdfs import LINES, Page, Text, line_y, text_image, write_pdf

LIMITS = IntakeLimits()


class RecordingOcr(PageEngine):
    """Unit-test stand-in for an OCR engine: one word per page, remembers what it read (real
    Tesseract reads the scans in the sample tests below and in tests/core/ocr/test_ocr.py)."""

    name = "tesseract"

    def __init__(self) -> None:
        self.pages: list[int] = []

    def versions(self) -> dict[str, str]:
        return {"tesseract": "test"}

    def read_page(
        self,
        img: Image.Image,
        *,
        doc_id: str,
        page: int,
        dpi: float | None,
        quality: PageQuality | None,
    ) -> pl.DataFrame:
        self.pages.append(page)
        row = {
            "doc_id": doc_id,
            "page": page,
            "block": 1,
            "par": 1,
            "line": 1,
            "word": 1,
            "left": 1,
            "top": 1,
            "width": 5,
            "height": 5,
            "conf": 90.0,
            "text": "ocr",
            "engine": "tesseract",
        }
        return validate_words(pl.DataFrame([row], schema=empty_words().schema))


def born_digital(path: Path) -> Path:
    return write_pdf(path, [Page(texts=[Text(72, 700 - 20 * i, s) for i, s in enumerate(LINES)])])


def test_born_digital_page_is_read_from_its_text_layer(tmp_path: Path) -> None:
    scan = inspect_file(born_digital(tmp_path / "a.pdf"), LIMITS)
    decisions, words = decide_document(scan, LIMITS, "auto", TextLayerConfig())
    assert [(d.source, d.reason) for d in decisions] == [(PDF_TEXT, TEXT_LAYER)]
    assert decisions[0].coverage is not None and decisions[0].coverage > 0.8
    w = words[0]
    assert set(w["engine"]) == {PDF_TEXT} and set(w["conf"]) == {100.0}
    assert document_text(w, scan.doc_id).split("\n") == LINES
    # Boxes in the pixels of the 300-DPI render: "Contract" starts 1 inch in, its baseline
    # 680 pt up a 792 pt page.
    box = w.filter(pl.col("text") == "Contract").row(0, named=True)
    assert abs(box["left"] - 300) <= 3
    assert abs(box["top"] + box["height"] - (792 - 680) * 300 / 72) <= 12


def test_scan_without_text_is_ocrd_and_every_page_says_why(tmp_path: Path) -> None:
    pdf = write_pdf(
        tmp_path / "mixed.pdf",
        [
            Page(texts=[Text(72, 700 - 20 * i, s) for i, s in enumerate(LINES)]),
            Page(image=text_image(LINES)),
        ],
    )
    scan = inspect_file(pdf, LIMITS)
    ocr = RecordingOcr()
    words = TextLayerEngine(ocr, "auto").read_document(scan, LIMITS, None)
    assert ocr.pages == [1]  # only the scanned page was rendered and OCR'd
    per_page = dict(words.select("page", "engine").unique().iter_rows())
    assert per_page == {0: PDF_TEXT, 1: "tesseract"}
    assert page_reasons(words) == {NO_TEXT_LAYER: 1, TEXT_LAYER: 1}
    never = TextLayerEngine(RecordingOcr(), "never").read_document(scan, LIMITS, None)
    assert page_reasons(never) == {MODE_NEVER: 2}


def test_image_file_goes_to_ocr(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    text_image(LINES).save(path)
    ocr = RecordingOcr()
    words = TextLayerEngine(ocr, "always").read_document(inspect_file(path, LIMITS), LIMITS, None)
    assert ocr.pages == [0] and page_reasons(words) == {NOT_PDF: 1}


def test_garbled_layer_is_ocrd_unless_always(tmp_path: Path) -> None:
    junk = "".join(chr(c) for c in range(1, 31) if chr(c) not in "\t\n\r\x0b\x0c") * 3
    pdf = write_pdf(tmp_path / "g.pdf", [Page(texts=[Text(72, 700, junk), Text(72, 680, "ok")])])
    scan = inspect_file(pdf, LIMITS)
    auto, _ = decide_document(scan, LIMITS, "auto", TextLayerConfig())
    assert auto[0].reason == GARBLED and auto[0].garbage is not None and auto[0].garbage > 0.5
    always, words = decide_document(scan, LIMITS, "always", TextLayerConfig())
    assert always[0].reason == TEXT_LAYER and 0 in words


def test_page_showing_text_the_layer_lacks_is_ocrd(tmp_path: Path) -> None:
    # A scanned form with one typed-in line of real text: most ink is not under any glyph.
    page = Page(
        image=text_image(LINES * 3),
        texts=[Text(72, 40, "Stamped: received 01/02/2020 by the traffic desk")],
    )
    scan = inspect_file(write_pdf(tmp_path / "c.pdf", [page]), LIMITS)
    decisions, words = decide_document(scan, LIMITS, "auto", TextLayerConfig())
    assert decisions[0].reason == LOW_COVERAGE and not words
    assert decisions[0].coverage is not None and decisions[0].coverage < 0.25


def test_invisible_ocr_layer_is_checked_against_a_sample_ocr(tmp_path: Path) -> None:
    good = [Text(58, line_y(i), s, 15.5, invisible=True) for i, s in enumerate(LINES)]
    bad = [
        Text(58, line_y(i), s, 15.5, invisible=True)
        for i, s in enumerate(
            ["0RDFR C0NF1 KXZY TFLFV", "Cntrct 5S4 Adv Brnie", "Flgt Dt 1l/1Z", "Grs Amt $3g,6oo"]
        )
    ]
    pdf = write_pdf(
        tmp_path / "inv.pdf",
        [Page(image=text_image(LINES), texts=good), Page(image=text_image(LINES), texts=bad)],
    )
    scan = inspect_file(pdf, LIMITS)
    reader = TesseractEngine(OcrConfig())
    decisions, words = decide_document(scan, LIMITS, "auto", TextLayerConfig(), reader)
    assert decisions[0].reason == TEXT_LAYER, decisions[0]
    assert decisions[1].reason == DISAGREES, decisions[1]
    assert decisions[0].agreement is not None and decisions[0].agreement >= 0.65
    assert list(words) == [0]


def test_layer_recall_weighs_rows_by_length() -> None:
    assert layer_recall(["Gross Amount 39,600.00"], "noise Gross Amount 39,600.00 more") == 1.0
    assert layer_recall(["Gross Amount 39,600.00"], "") == 0.0
    assert layer_recall([], "x") is None


def test_oversized_pdf_page_is_rasterised_coarser_not_rejected(tmp_path: Path) -> None:
    pdf = write_pdf(
        tmp_path / "big.pdf", [Page(width=2263, height=1749, texts=[Text(72, 900, "x" * 40)])]
    )
    scan = inspect_file(pdf, LIMITS)  # 300 DPI would be 9429 x 7288 px > 60 Mpx
    dpi = pdf_page_dpi((2263, 1749), LIMITS)
    assert dpi < 300 and scan.pages[0].dpi == dpi
    assert scan.pages[0].width * scan.pages[0].height <= LIMITS.max_pixels_per_page
    decisions, words = decide_document(scan, LIMITS, "auto", TextLayerConfig())
    assert decisions[0].reason == TEXT_LAYER
    box = words[0].row(0, named=True)
    assert abs(box["left"] - 72 * dpi / 72) <= 3


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="text_layer"):
        TextLayerEngine(RecordingOcr(), "sometimes")  # type: ignore[arg-type]


def test_word_table_validates_the_page_reason_column(tmp_path: Path) -> None:
    scan = inspect_file(born_digital(tmp_path / "a.pdf"), LIMITS)
    words = TextLayerEngine(RecordingOcr(), "auto").read_document(scan, LIMITS, None)
    assert validate_words(words)["page_reason"].unique().to_list() == [TEXT_LAYER]
    with pytest.raises(pandera.errors.SchemaError):
        validate_words(words.with_columns(page_reason=pl.lit("")))
