"""The word table: the contract between OCR and every later stage.

One row per recognised word, boxes in the coordinates of the page as
:func:`~docasset.core.intake.scans.iter_pages` yields it, whatever scaling or rotation an
engine applied; confidence 0-100; block/par/line/word ids from the engine (1-based), in
reading order; ``engine`` names the engine that read the word's page (one per page).
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

PAGE_ENGINES: tuple[str, ...] = ("tesseract", "rapidocr")  # the engines that read a page


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


def validate_words(df: pl.DataFrame) -> pl.DataFrame:
    """Validate a word table against :data:`WORDS_SCHEMA` (raises pandera's error)."""
    return WORDS_SCHEMA.validate(df)


def empty_words() -> pl.DataFrame:
    """An empty word table with the schema's dtypes."""
    return pl.DataFrame(schema=WORD_DTYPES)
