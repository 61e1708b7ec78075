"""The hybrid engine with the real Tesseract and RapidOCR: which pages get re-read, and why."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from PIL import Image

from docasset.core.extraction.fields import load_doctype
from docasset.core.extraction.ocr_escalation import (
    default_engine,
    document_is_hard,
    field_strengths,
    hybrid_engine,
    make_engine,
)
from docasset.core.intake.scans import IntakeLimits, ScanFile, inspect_file
from docasset.core.ocr.documents import second_text
from docasset.core.ocr.engine import DEFAULT_LIMITS, engine_mismatch, ocr_documents, page_engines
from docasset.core.ocr.hybrid import EscalationConfig, HybridEngine
from docasset.core.ocr.rapid import RapidConfig, RapidEngine
from docasset.core.ocr.tesseract import OcrConfig, TesseractEngine
from docasset.core.ocr.text import document_text
from docasset.core.ocr.words import SECOND_READING
from docasset.errors import OcrError
from tests.core.ocr.test_ocr import text_page

RECEIPT = load_doctype("receipt")
RECEIPT_LINES = [
    "KEDAI RUNCIT MAJU SDN BHD",
    "12 JALAN BESAR, 81100 JOHOR BAHRU",
    "DATE: 25/12/2018",
    "TOTAL: 9.00",
]
NO_DATE_LINES = [line for line in RECEIPT_LINES if not line.startswith("DATE")]


def hybrid(review: object = None, **escalation: object) -> HybridEngine:
    config = replace(EscalationConfig(), **escalation)  # type: ignore[arg-type]
    return hybrid_engine(
        TesseractEngine(),
        RapidEngine(),
        RECEIPT,
        config,
        review,  # type: ignore[arg-type]
    )


def scan_of(tmp_path: Path, *pages: Image.Image) -> ScanFile:
    if len(pages) == 1:
        path = tmp_path / "page.png"
        pages[0].save(path, dpi=(200, 200))
        return inspect_file(path)
    path = tmp_path / "doc.pdf"
    pages[0].save(path, format="PDF", resolution=200, save_all=True, append_images=pages[1:])
    return inspect_file(path, IntakeLimits(pdf_dpi=200))


def engines_by_page(words: pl.DataFrame) -> dict[int, str]:
    return dict(words.select("page", "engine").unique().sort("page").iter_rows())  # type: ignore[arg-type]


def test_field_strengths_name_what_the_rules_find() -> None:
    text = "\n".join(RECEIPT_LINES)
    strengths = field_strengths(RECEIPT, text)
    assert set(strengths) == {"company", "date", "address", "total"}
    assert strengths["date"] == 1.0 and strengths["total"] >= 0.7 and strengths["company"] > 0.5
    assert not document_is_hard(RECEIPT, text, EscalationConfig())
    without_date = "\n".join(NO_DATE_LINES)
    assert field_strengths(RECEIPT, without_date)["date"] == 0.0
    assert document_is_hard(RECEIPT, without_date, EscalationConfig())
    assert not document_is_hard(RECEIPT, without_date, EscalationConfig(on_missing_fields=False))


def test_a_clean_receipt_stays_tesseract(tmp_path: Path) -> None:
    scan = scan_of(tmp_path, text_page(200, lines=RECEIPT_LINES))
    words = hybrid().read_document(scan, DEFAULT_LIMITS, None)
    assert engines_by_page(words) == {0: "tesseract"}


def test_a_low_confidence_page_is_read_by_rapidocr(tmp_path: Path) -> None:
    scan = scan_of(tmp_path, text_page(200, lines=RECEIPT_LINES))
    words = hybrid(min_page_conf=101.0).read_document(scan, DEFAULT_LIMITS, None)
    assert engines_by_page(words) == {0: "rapidocr"}
    assert "TOTAL: 9.00" in document_text(words, scan.doc_id)


def test_a_missing_required_field_rereads_every_page_of_the_document(tmp_path: Path) -> None:
    pages = (text_page(200, lines=NO_DATE_LINES), text_page(200, lines=["Thank you, come again"]))
    scan = scan_of(tmp_path, *pages)
    words = hybrid(min_page_conf=0.0).read_document(scan, IntakeLimits(pdf_dpi=200), None)
    assert engines_by_page(words) == {0: "rapidocr", 1: "rapidocr"}
    kept = hybrid(min_page_conf=0.0, on_missing_fields=False)
    words = kept.read_document(scan, IntakeLimits(pdf_dpi=200), None)
    assert engines_by_page(words) == {0: "tesseract", 1: "tesseract"}


def test_review_evidence_is_used_only_when_switched_on(tmp_path: Path) -> None:
    scan = scan_of(tmp_path, text_page(200, lines=RECEIPT_LINES))
    seen: list[tuple[str, str]] = []

    def would_review(doc_id: str, text: str) -> bool:
        seen.append((doc_id, text))
        return True

    off = hybrid(would_review).read_document(scan, DEFAULT_LIMITS, None)
    assert engines_by_page(off) == {0: "tesseract"} and not seen
    on = hybrid(would_review, on_review=True).read_document(scan, DEFAULT_LIMITS, None)
    assert engines_by_page(on) == {0: "rapidocr"}
    assert seen[0][0] == scan.doc_id and "TOTAL" in seen[0][1]


def test_a_blank_page_is_never_reread(tmp_path: Path) -> None:
    scan = scan_of(tmp_path, Image.new("L", (1000, 500), 255))
    words = hybrid(min_page_conf=101.0).read_document(scan, DEFAULT_LIMITS, None)
    assert words.is_empty()


def test_clean_synthetic_receipts_do_not_escalate(receipts_dir: Path) -> None:
    """What keeps the Tesseract-based test suite fast when hybrid is the default."""
    scans = [(p.stem, inspect_file(p)) for p in sorted((receipts_dir / "img").iterdir())[:6]]
    counts: dict[str, int] = {}
    for _, words in ocr_documents(scans, default_engine(RECEIPT, "hybrid"), workers=2):
        assert isinstance(words, pl.DataFrame)
        for name, n in page_engines(words).items():
            counts[name] = counts.get(name, 0) + n
    assert counts == {"tesseract": 6}


def test_engines_are_made_by_name_and_unknown_names_refused() -> None:
    names = {
        n: make_engine(n, OcrConfig(), RapidConfig(), EscalationConfig(), RECEIPT).name
        for n in ("tesseract", "rapidocr", "hybrid")
    }
    assert names == {"tesseract": "tesseract", "rapidocr": "rapidocr", "hybrid": "hybrid"}
    with pytest.raises(OcrError, match="unknown OCR engine"):
        make_engine("abbyy", OcrConfig(), RapidConfig(), EscalationConfig(), RECEIPT)


def test_engine_mismatch_names_the_difference() -> None:
    tess = TesseractEngine().identity()
    assert engine_mismatch(tess, TesseractEngine().identity()) is None
    assert "trained on tesseract text" in str(engine_mismatch(tess, RapidEngine().identity()))
    assert "records no OCR engine" in str(engine_mismatch(None, tess))
    psm4 = TesseractEngine(OcrConfig(psm=4)).identity()
    assert "version changed" in str(engine_mismatch(tess, psm4))
    hybrid_id = hybrid().identity()
    assert set(hybrid_id["versions"]) == {"tesseract", "rapidocr"}


def test_a_reread_page_keeps_tesseracts_reading_as_its_second_reading(tmp_path: Path) -> None:
    scan = scan_of(tmp_path, text_page(200, lines=RECEIPT_LINES))
    words = hybrid(min_page_conf=101.0).read_document(scan, DEFAULT_LIMITS, None)
    assert engines_by_page(words) == {0: "rapidocr"}
    other = second_text(words, scan.doc_id)
    assert other is not None and "9.00" in other and "2018" in other
    assert other == words[SECOND_READING][0]  # Tesseract's text of the page, on every word
    clean = hybrid().read_document(scan, DEFAULT_LIMITS, None)
    assert engines_by_page(clean) == {0: "tesseract"}
    assert second_text(clean, scan.doc_id) is None  # read once: no second reading


def test_offline_ocr_keeps_the_second_reading_for_docasset_extract(tmp_path: Path) -> None:
    from docasset.core.datasets.offline import ocr_files

    path = tmp_path / "r.png"
    text_page(200, lines=RECEIPT_LINES).save(path, dpi=(200, 200))
    run = ocr_files([("r", path)], hybrid(min_page_conf=101.0), workers=1)
    assert set(run.second_texts) == {"r"} and "TOTAL" in run.second_texts["r"]
    assert ocr_files([("r", path)], hybrid(), workers=1).second_texts == {}
