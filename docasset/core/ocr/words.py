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


def validate_words(df: pl.DataFrame) -> pl.DataFrame:
    """Validate a word table against :data:`WORDS_SCHEMA`, plus the optional
    :data:`PAGE_REASON` column (raises pandera's error)."""
    if PAGE_REASON in df.columns:
        _PAGE_REASON_SCHEMA.validate(df.select(PAGE_REASON))
        return WORDS_SCHEMA.validate(df.drop(PAGE_REASON)).with_columns(df[PAGE_REASON])
    return WORDS_SCHEMA.validate(df)


def empty_words() -> pl.DataFrame:
    """An empty word table with the schema's dtypes."""
    return pl.DataFrame(schema=WORD_DTYPES)
