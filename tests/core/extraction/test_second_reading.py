"""A second OCR engine's reading reaches the date and amount checks of a batch."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import spacy

from docasset.core.extraction.batch import predict_batch
from docasset.core.extraction.extract import Calibration, ModelBundle
from docasset.core.extraction.fields import load_doctype
from docasset.core.extraction.routing import RoutingConfig
from docasset.core.ocr.documents import DOCUMENT_COLUMNS, second_text, second_texts_of
from docasset.core.ocr.words import SECOND_READING, WORD_DTYPES

RECEIPT = load_doctype("receipt")
TEXT = "KEDAI RUNCIT MAJU SDN BHD\n12 JALAN BESAR, 81100 JOHOR BAHRU\nDATE 25/12/2018\nTOTAL 9.00"


def documents(second: dict[str, str | None]) -> pl.DataFrame:
    rows = [
        {
            "doc_id": d,
            "batch_id": "b1",
            "source_name": f"{d}.png",
            "stored_path": f"/x/{d}.png",
            "n_pages": 1,
            "text": TEXT,
            "n_words": 12,
            "ocr_conf": 90.0,
            "ocr_engine": "rapidocr",
            "problems": [],
            "bad_scan": False,
            "ocr_error": None,
            "second_text": other,
            "word_conf": [],
        }
        for d, other in second.items()
    ]
    return pl.DataFrame(rows, schema=DOCUMENT_COLUMNS)


def test_dates_and_totals_the_other_engine_reads_differently_are_checked_not_accepted() -> None:
    bundle = ModelBundle(
        spacy.blank("en"), RECEIPT, Calibration(), dict.fromkeys(RECEIPT.names, 0.0)
    )
    docs = documents(
        {
            "agree": TEXT,
            "date_differs": TEXT.replace("25/12/2018", "25/12/2013"),
            "total_differs": TEXT.replace("9.00", "8.00"),
            "read_once": None,
        }
    )
    now = datetime(2018, 12, 27, tzinfo=UTC)
    out = predict_batch(bundle, RECEIPT, docs, {}, RoutingConfig(), "b1", now)
    fields = {p.doc_id: p.fields for p in out.predictions}
    for d in ("agree", "read_once"):
        assert fields[d]["date"].status == "accepted", d
        assert fields[d]["total"].status == "accepted", d
    date_checks = [b.kind for b in fields["date_differs"]["date"].checks]
    assert fields["date_differs"]["date"].status == "to_check"
    assert date_checks == ["ocr_engines_disagree"]
    assert fields["date_differs"]["total"].status == "accepted"
    assert fields["total_differs"]["total"].status == "to_check"
    assert [b.kind for b in fields["total_differs"]["total"].checks] == ["ocr_engines_disagree"]
    # A documents table from before the column existed has no second reading.
    assert second_texts_of(docs.drop("second_text")) == {}


def words(page: int, text: str, engine: str, second: str | None) -> pl.DataFrame:
    toks = text.split()
    df = pl.DataFrame(
        {
            "doc_id": ["d"] * len(toks),
            "page": [page] * len(toks),
            "block": [1] * len(toks),
            "par": [1] * len(toks),
            "line": [1] * len(toks),
            "word": list(range(1, len(toks) + 1)),
            "left": [10 * i for i in range(len(toks))],
            "top": [0] * len(toks),
            "width": [9] * len(toks),
            "height": [9] * len(toks),
            "conf": [90.0] * len(toks),
            "text": toks,
            "engine": [engine] * len(toks),
        },
        schema=WORD_DTYPES,
    )
    return df.with_columns(pl.lit(second, dtype=pl.Utf8).alias(SECOND_READING))


def test_the_second_text_replaces_only_the_pages_a_second_engine_read() -> None:
    w = pl.concat(
        [
            words(0, "ORDER 12 TOTAL 9.00", "rapidocr", "ORDER 12 TOTAL 8.00"),
            words(1, "THANK YOU", "tesseract", None),
        ]
    )
    assert second_text(w, "d") == "ORDER 12 TOTAL 8.00\n\nTHANK YOU"
    once = pl.concat([words(0, "A B", "tesseract", None), words(1, "C", "tesseract", None)])
    assert second_text(once, "d") is None
    assert second_text(once.drop(SECOND_READING), "d") is None
