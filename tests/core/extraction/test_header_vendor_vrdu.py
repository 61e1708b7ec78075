"""Stations read from the header of real ad-buy PDFs (../shared/vrdu-dev, text layers): an
order whose header says "Station: KOHD" and an invoice headed "KCNC-TV"."""

from __future__ import annotations

from pathlib import Path

import pytest

from docasset.core.extraction.fields import load_doctype
from docasset.core.extraction.vendor_keys import document_keys, header_vendor
from docasset.core.intake.scans import IntakeLimits, inspect_file
from docasset.core.ocr.pdf_text import PDF_TEXT, TextLayerEngine
from docasset.core.ocr.tesseract import OcrConfig, TesseractEngine
from docasset.core.ocr.text import document_text

pytestmark = pytest.mark.vrdu
LIMITS = IntakeLimits()


@pytest.mark.parametrize(
    ("prefix", "printed", "key"),
    [("06178474", "KOHD", "header_id:KOHD"), ("01250d60", "KCNC-TV", "header_id:KCNC")],
)
def test_the_station_of_a_real_order_is_read_from_its_header(
    vrdu_dir: Path, prefix: str, printed: str, key: str
) -> None:
    (path,) = sorted((vrdu_dir / "img").glob(f"{prefix}*.pdf"))
    scan = inspect_file(path, LIMITS)
    # "always": the text layer as printed (the layer decision is tested in tests/core/ocr)
    reader = TextLayerEngine(TesseractEngine(OcrConfig()), "always")
    words = reader.read_document(scan, LIMITS, None)
    assert set(words["engine"]) == {PDF_TEXT}
    text = document_text(words, scan.doc_id)
    ad_order = load_doctype("ad_order")
    assert header_vendor(ad_order, text) == printed
    assert [k.ident for k in document_keys(ad_order, text)] == [key]
