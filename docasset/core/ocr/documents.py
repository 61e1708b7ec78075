"""The document table: one row per accepted document of a batch, computed once.

Every later stage needs a document's OCR text, its mean word confidence, the OCR engine that
read it, whether it is a bad scan and where its image is; they all read it from here (the
``documents`` asset) instead of rebuilding text from words or re-deciding what a bad scan is.
A document is a bad scan when any of its pages has an image problem (``page_problems``) or
the OCR evidence says so (no text, mean word confidence below the threshold):
:func:`~docasset.core.intake.scan_table.document_problems` is the one definition.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandera.polars as pa
import polars as pl

from docasset.core.intake.quality import QualityThresholds
from docasset.core.intake.scan_table import document_problems
from docasset.core.ocr.text import WordSpans, as_span, document_text, word_spans
from docasset.core.ocr.words import SECOND_READING

_BOX = ("page", "left", "top", "right", "bottom")
WORD_SPAN_FIELDS: dict[str, pl.DataType] = {
    "start": pl.Int32(),
    "end": pl.Int32(),
    "conf": pl.Float64(),
    **{k: pl.Int32() for k in _BOX},
}
DOCUMENT_COLUMNS: dict[str, pl.DataType] = {
    "doc_id": pl.Utf8(),
    "batch_id": pl.Utf8(),
    "source_name": pl.Utf8(),
    "stored_path": pl.Utf8(),
    "n_pages": pl.Int32(),
    "text": pl.Utf8(),
    "n_words": pl.Int32(),
    "ocr_conf": pl.Float64(),
    "ocr_engine": pl.Utf8(),
    "problems": pl.List(pl.Utf8()),
    "bad_scan": pl.Boolean(),
    "ocr_error": pl.Utf8(),  # why OCR failed on the document (None: it did not)
    # The document as the other OCR engine read it: its pages a second engine re-read in the
    # first engine's reading, the others as in ``text`` (None: every page was read once).
    "second_text": pl.Utf8(),
    # The OCR evidence under any span of the text: each word's offsets and confidence, and its
    # page and box (the layout: a value printed under its label's column).
    "word_conf": pl.List(pl.Struct(WORD_SPAN_FIELDS)),
}
DOCUMENTS_SCHEMA = pa.DataFrameSchema(
    {
        "doc_id": pa.Column(pl.Utf8, nullable=False, unique=True),
        "batch_id": pa.Column(pl.Utf8, nullable=False),
        "stored_path": pa.Column(pl.Utf8, nullable=False),
        "text": pa.Column(pl.Utf8, nullable=False),
        "n_words": pa.Column(pl.Int32, pa.Check.ge(0)),
        "ocr_conf": pa.Column(pl.Float64, pa.Check.in_range(0.0, 100.0), nullable=True),
        "bad_scan": pa.Column(pl.Boolean, nullable=False),
    },
    strict=False,
)


def documents_frame(
    scans: pl.DataFrame,
    words: pl.DataFrame,
    thresholds: QualityThresholds,
    ocr_failures: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """The validated document table of a batch: its ``ok`` documents (``raw_scans`` rows) with
    their text and OCR measures from the word table (``ocr_text``). A document OCR could not
    read (no words) has empty text and ``ocr_conf`` null, and is a bad scan (``no_text``);
    ``ocr_failures`` (doc id -> reason) says when OCR failed on it (``ocr_error``)."""
    ok = scans.filter(pl.col("status") == "ok")
    problems = document_problems(scans, words, thresholds)
    spans = word_spans(words)
    groups = {str(k[0]): g for k, g in words.partition_by("doc_id", as_dict=True).items()}
    rows = []
    for (doc_id,), pages in ok.partition_by("doc_id", as_dict=True, maintain_order=True).items():
        d = str(doc_id)
        first = pages.row(0, named=True)
        w = groups.get(d)
        rows.append(
            {
                "doc_id": d,
                "batch_id": first["batch_id"],
                "source_name": first["source_name"],
                "stored_path": first["stored_path"],
                "n_pages": pages.height,
                "text": document_text(w, d) if w is not None else "",
                "n_words": w.height if w is not None else 0,
                "ocr_conf": float(w["conf"].mean()) if w is not None and w.height else None,  # type: ignore[arg-type]
                "ocr_engine": _engines(w),
                "problems": problems.get(d, []),
                "bad_scan": d in problems,
                "ocr_error": (ocr_failures or {}).get(d),
                "second_text": second_text(w, d) if w is not None else None,
                "word_conf": [
                    dict(zip(WORD_SPAN_FIELDS, x, strict=False)) for x in spans.get(d, [])
                ],
            }
        )
    df = (
        pl.DataFrame(rows, schema=DOCUMENT_COLUMNS)
        if rows
        else pl.DataFrame(schema=DOCUMENT_COLUMNS)
    )
    return DOCUMENTS_SCHEMA.validate(df)


def second_text(words: pl.DataFrame, doc_id: str) -> str | None:
    """The document's text with every page that has a ``second_reading`` replaced by it (None
    when no page has one: the document was read by one engine)."""
    if SECOND_READING not in words.columns or words[SECOND_READING].is_null().all():
        return None
    pages = []
    for (page,), g in words.partition_by("page", as_dict=True, maintain_order=True).items():
        other = g[SECOND_READING][0]
        pages.append((int(page), other if other is not None else document_text(g, doc_id)))
    return "\n\n".join(t for _, t in sorted(pages))


def _engines(words: pl.DataFrame | None) -> str | None:
    """The engines that read the document's pages ("tesseract", "rapidocr", or both joined
    with "+" when a hybrid run re-read some of its pages); None without any word."""
    if words is None or words.is_empty():
        return None
    return "+".join(sorted(set(words["engine"].to_list())))


def second_texts_of(documents: pl.DataFrame) -> dict[str, str]:
    """Document id -> the other OCR engine's text, for documents a second engine re-read
    (documents tables written before the column existed have none)."""
    if "second_text" not in documents.columns:
        return {}
    rows = documents.select("doc_id", "second_text").drop_nulls().iter_rows()
    return {str(d): str(t) for d, t in rows}


def texts_of(documents: pl.DataFrame) -> dict[str, str]:
    """Document id -> OCR text."""
    return dict(documents.select("doc_id", "text").iter_rows())


def ocr_errors(documents: pl.DataFrame) -> dict[str, str]:
    """Document id -> why OCR failed on it (frames of an older docasset: none)."""
    if "ocr_error" not in documents.columns:
        return {}
    failed = documents.filter(pl.col("ocr_error").is_not_null())
    return dict(failed.select("doc_id", "ocr_error").iter_rows())


def bad_scans(documents: pl.DataFrame) -> set[str]:
    """Ids of the bad-scan documents (the one definition: see the module docstring)."""
    return set(documents.filter(pl.col("bad_scan"))["doc_id"].to_list())


def word_confs_of(documents: pl.DataFrame) -> dict[str, WordSpans]:
    """Document id -> its word confidences and boxes (documents tables written before the
    column existed have none; before the boxes, confidences only)."""
    if "word_conf" not in documents.columns:
        return {}
    out: dict[str, WordSpans] = {}
    for d, ws in documents.select("doc_id", "word_conf").iter_rows():
        spans = []
        for w in ws or []:
            boxed = all(w.get(k) is not None for k in _BOX)
            keys = list(WORD_SPAN_FIELDS) if boxed else ["start", "end", "conf"]
            spans.append(as_span([w[k] for k in keys]))
        out[str(d)] = spans
    return out
