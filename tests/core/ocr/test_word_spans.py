"""Word spans carry each word's page and box beside its offsets and confidence, through the
documents table, and older tables without boxes still read."""

from __future__ import annotations

import polars as pl

from docasset.core.extraction.evidence import span_ocr
from docasset.core.ocr.documents import DOCUMENT_COLUMNS, word_confs_of
from docasset.core.ocr.text import as_span, document_text, has_boxes, word_spans


def _words() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "doc_id": ["d", "d", "d"],
            "page": [0, 0, 1],
            "block": [0, 0, 0],
            "par": [0, 0, 0],
            "line": [0, 0, 0],
            "word": [0, 1, 0],
            "text": ["Gross", "Total", "$900.00"],
            "conf": [100.0, 90.0, 80.0],
            "left": [10, 60, 400],
            "top": [20, 20, 700],
            "width": [40, 40, 70],
            "height": [12, 12, 12],
        }
    ).with_columns(pl.col(c).cast(pl.Int32) for c in ("page", "line", "word", "left", "top"))


def test_spans_carry_page_and_box_and_confidences_still_read() -> None:
    words = _words()
    text = document_text(words, "d")
    spans = word_spans(words)["d"]
    assert text == "Gross Total\n\n$900.00"
    assert spans[2] == (13, 20, 80.0, 1, 400, 700, 470, 712)
    assert has_boxes(spans) and span_ocr(spans, 13, 20) == (0.8, 0.8)


def test_the_documents_table_round_trips_boxes_and_reads_older_spans() -> None:
    spans = word_spans(_words())["d"]
    fields = list(DOCUMENT_COLUMNS["word_conf"].inner.fields)  # type: ignore[attr-defined]
    names = [f.name for f in fields]
    rows = [dict(zip(names, w, strict=True)) for w in spans]
    table = pl.DataFrame(
        {"doc_id": ["d"], "word_conf": [rows]},
        schema={"doc_id": pl.Utf8, "word_conf": DOCUMENT_COLUMNS["word_conf"]},
    )
    assert word_confs_of(table) == {"d": spans}
    old = pl.DataFrame({"doc_id": ["d"], "word_conf": [[{"start": 0, "end": 5, "conf": 90.0}]]})
    got = word_confs_of(old)["d"]
    assert got == [(0, 5, 90.0)] and not has_boxes(got)
    assert as_span([1, 2, 50, 0, 1, 2, 3, 4]) == (1, 2, 50.0, 0, 1, 2, 3, 4)
