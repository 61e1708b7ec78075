"""The word table: the contract between OCR and every later stage.

One row per recognised word, boxes in the coordinates of the page as
:func:`~docasset.core.intake.scans.iter_pages` yields it, whatever scaling or rotation an
engine applied; confidence 0-100; block/par/line/word ids from the engine (1-based), in
reading order; ``engine`` names the engine that read the word's page (one per page).
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

PAGE_ENGINES: tuple[str, ...] = ("tesseract", "rapidocr", "pdf-text")  # what read a page


class WordsModel(pa.DataFrameModel):
    """One row per recognised word; ``block/par/line/word`` are the engine's 1-based numbers
    (Tesseract's own; line engines number visual rows, see ``docasset.core.ocr.rapid``)."""

    doc_id: str = pa.Field(str_length={"min_value": 1})
    page: pl.Int32 = pa.Field(ge=0)
    block: pl.Int32 = pa.Field(ge=0)
    par: pl.Int32 = pa.Field(ge=0)
    line: pl.Int32 = pa.Field(ge=0)
    word: pl.Int32 = pa.Field(ge=0)
    left: pl.Int32 = pa.Field(ge=0)
    top: pl.Int32 = pa.Field(ge=0)
    width: pl.Int32 = pa.Field(ge=0)
    height: pl.Int32 = pa.Field(ge=0)
    conf: pl.Float64 = pa.Field(ge=0.0, le=100.0)
    # No whitespace inside a word: text assembly joins words with single spaces/newlines.
    text: str = pa.Field(str_matches=r"^\S+$")
    engine: str = pa.Field(isin=list(PAGE_ENGINES))

    class Config:
        strict = True
        coerce = False


WORDS_SCHEMA = WordsModel.to_schema()
WORD_DTYPES: dict[str, pl.DataType] = {
    name: col.dtype.type for name, col in WORDS_SCHEMA.columns.items()
}
# Why the page was read by its engine (``docasset.core.ocr.pdf_text.REASONS``): a column
# present when the engine is wrapped by the text-layer engine, absent otherwise.
PAGE_REASON = "page_reason"
_PAGE_REASON_SCHEMA = pa.DataFrameSchema(
    {PAGE_REASON: pa.Column(pl.Utf8, nullable=False, checks=pa.Check.str_length(min_value=1))}
)


# The other engine's text of the page when a second engine re-read it (the hybrid engine:
# Tesseract's reading of a page RapidOCR re-read), repeated on the page's words; null when
# the page was read once. A column present only when an engine keeps a second reading: the
# extraction stage checks dates and amounts against it (``ocr_engines_disagree``).
SECOND_READING = "second_reading"
_OPTIONAL_SCHEMAS = {
    PAGE_REASON: _PAGE_REASON_SCHEMA,
    SECOND_READING: pa.DataFrameSchema({SECOND_READING: pa.Column(pl.Utf8, nullable=True)}),
}


def validate_words(df: pl.DataFrame) -> pl.DataFrame:
    """Validate a word table against :data:`WORDS_SCHEMA`, plus the optional
    :data:`PAGE_REASON` and :data:`SECOND_READING` columns (raises pandera's error)."""
    extra = [c for c in _OPTIONAL_SCHEMAS if c in df.columns]
    for c in extra:
        _OPTIONAL_SCHEMAS[c].validate(df.select(c))
    return WORDS_SCHEMA.validate(df.drop(extra)).with_columns(df.select(extra))


def empty_words() -> pl.DataFrame:
    """An empty word table with the schema's dtypes."""
    return pl.DataFrame(schema=WORD_DTYPES)
