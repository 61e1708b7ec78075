"""OCR evidence: word confidences under a span (any engine's word table), confusable chars."""

from __future__ import annotations

import polars as pl

from docasset.core.extraction.evidence import confusable_chars, span_ocr, word_spans
from docasset.core.ocr.text import document_text


def _words() -> pl.DataFrame:
    rows = [("TOTAL", 1, 0, 96.0), ("9.0O", 1, 1, 41.0), ("ACME", 0, 0, 90.0)]
    return pl.DataFrame(
        {
            "doc_id": ["d"] * 3,
            "page": [1] * 3,
            "block": [1] * 3,
            "par": [1] * 3,
            "line": [r[1] for r in rows],
            "word": [r[2] for r in rows],
            "text": [r[0] for r in rows],
            "conf": [r[3] for r in rows],
            "left": [0] * 3,
            "top": [0] * 3,
            "width": [10] * 3,
            "height": [10] * 3,
        }
    )


def test_word_confidences_of_a_span_come_from_the_word_table() -> None:
    words = _words()
    text = document_text(words, "d")
    assert text == "ACME\nTOTAL 9.0O"
    spans = word_spans(words)["d"]
    start = text.index("9.0O")
    low, mean = span_ocr(spans, start, start + 4)  # type: ignore[misc]
    assert (low, mean) == (0.41, 0.41)
    assert span_ocr(spans, 0, len(text)) == (0.41, (0.90 + 0.96 + 0.41) / 3)
    assert span_ocr(None, 0, 4) is None and span_ocr(spans, 3, 3) is None


def test_confusable_characters_among_the_other_kind() -> None:
    assert confusable_chars("9.0O") == 1 and confusable_chars("2O18") == 1
    assert confusable_chars("JA1AN") == 1
    assert confusable_chars("9.00") == 0 and confusable_chars("BOOK TA .K SDN BHD") == 0
