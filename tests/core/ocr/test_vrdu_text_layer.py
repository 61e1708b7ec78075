"""Real ad-buy PDFs of ../shared/vrdu-dev: born-digital pages read from their text layer with
every labelled value in the text; a scan without a layer and a garbled invisible layer sent
to OCR."""

from __future__ import annotations

from pathlib import Path

import pytest

from docasset.core.datasets.labelled import read_key
from docasset.core.extraction.fields import load_doctype
from docasset.core.intake.scans import IntakeLimits, inspect_file
from docasset.core.ocr.pdf_text import (
    DISAGREES,
    NO_TEXT_LAYER,
    PDF_TEXT,
    TEXT_LAYER,
    TextLayerConfig,
    TextLayerEngine,
    decide_document,
    page_reasons,
)
from docasset.core.ocr.tesseract import OcrConfig, TesseractEngine
from docasset.core.ocr.text import document_text
from docasset.core.training.align import align_document

pytestmark = pytest.mark.vrdu
LIMITS = IntakeLimits()


def _pdf(root: Path, prefix: str) -> Path:
    (path,) = sorted((root / "img").glob(f"{prefix}*.pdf"))
    return path


def test_born_digital_order_is_read_exactly(vrdu_dir: Path) -> None:
    path = _pdf(vrdu_dir, "06178474")
    scan = inspect_file(path, LIMITS)
    reader = TesseractEngine(OcrConfig())
    words = TextLayerEngine(reader, "auto").read_document(scan, LIMITS, None)
    assert set(words["engine"]) == {PDF_TEXT}
    assert page_reasons(words) == {TEXT_LAYER: len(scan.pages)}
    text = document_text(words, scan.doc_id)
    truth = read_key(vrdu_dir / "key" / f"{path.stem}.json")
    aligned = align_document(load_doctype("ad_order"), truth, text)
    assert [(a.field, a.method) for a in aligned if not a.aligned] == []
    assert {a.method for a in aligned} <= {"exact", "normalized"}


def test_scan_and_garbled_ocr_layer_go_to_ocr(vrdu_dir: Path) -> None:
    scan = inspect_file(_pdf(vrdu_dir, "4fc738ef"), LIMITS)
    decisions, words = decide_document(scan, LIMITS, "auto", TextLayerConfig())
    assert decisions[0].reason == NO_TEXT_LAYER and 0 not in words
    # An invisible layer from a scanner's OCR that reads "The piltes tr&d tor fie ...".
    scan = inspect_file(_pdf(vrdu_dir, "106bbf1c"), LIMITS)
    reader = TesseractEngine(OcrConfig())
    decisions, words = decide_document(scan, LIMITS, "auto", TextLayerConfig(), reader)
    assert decisions[0].reason == DISAGREES and decisions[0].agreement is not None
    assert decisions[0].agreement < TextLayerConfig().min_agreement
