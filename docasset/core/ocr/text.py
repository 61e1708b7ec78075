"""Text from words, and line offsets in plain text: one set of rules for every stage.

:func:`document_lines`, :func:`document_text` and :func:`word_offsets` derive text from the
word table, so a character span in the text maps back to words and boxes exactly;
:func:`lines_with_offsets` and :func:`line_index` walk the lines of such a text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeGuard

import polars as pl

LINE_KEYS = ["doc_id", "page", "block", "par", "line"]


def _lines_with_starts(words: pl.DataFrame) -> pl.DataFrame:
    """Lines in reading order with ``line_no``, the separator before them and their offset.

    The separator before a line is "" for a document's first line, "\\n\\n" when the page
    changes and "\\n" otherwise; ``start`` is the line's offset in :func:`document_text`.
    """
    lines = (
        words.sort([*LINE_KEYS, "word"])
        .group_by(LINE_KEYS, maintain_order=True)
        .agg(
            text=pl.col("text").str.join(" "),
            left=pl.col("left").min(),
            top=pl.col("top").min(),
            right=(pl.col("left") + pl.col("width")).max(),
            bottom=(pl.col("top") + pl.col("height")).max(),
            conf=pl.col("conf").mean(),
        )
    )
    first = pl.int_range(pl.len()).over("doc_id") == 0
    new_page = pl.col("page") != pl.col("page").shift(1).over("doc_id")
    sep = pl.when(first).then(0).when(new_page).then(2).otherwise(1)
    length = pl.col("text").str.len_chars().cast(pl.Int64)
    return lines.with_columns(
        line_no=pl.int_range(pl.len(), dtype=pl.Int32).over("doc_id"), sep=sep
    ).with_columns(start=((length + pl.col("sep")).cum_sum() - length).over("doc_id"))


def document_lines(words: pl.DataFrame) -> pl.DataFrame:
    """One row per OCR line: doc_id, page, line_no, text, left, top, right, bottom, conf."""
    cols = ["doc_id", "page", "line_no", "text", "left", "top", "right", "bottom", "conf"]
    return _lines_with_starts(words).select(cols)


def document_text(words: pl.DataFrame, doc_id: str) -> str:
    """The document's lines joined with "\\n", pages separated by "\\n\\n"."""
    lines = _lines_with_starts(words.filter(pl.col("doc_id") == doc_id))
    seps = {0: "", 1: "\n", 2: "\n\n"}
    return "".join(seps[s] + t for s, t in zip(lines["sep"], lines["text"], strict=True))


def word_offsets(words: pl.DataFrame) -> pl.DataFrame:
    """The word table plus ``line_no`` and ``start``/``end`` offsets into document_text."""
    lines = _lines_with_starts(words).select([*LINE_KEYS, "line_no", "start"])
    length = pl.col("text").str.len_chars().cast(pl.Int64)
    in_line = ((length + 1).cum_sum() - (length + 1)).over(LINE_KEYS)
    return (
        words.sort([*LINE_KEYS, "word"])
        .join(lines, on=LINE_KEYS, how="left")
        .with_columns(start=pl.col("start") + in_line)
        .with_columns(end=pl.col("start") + length)
    )


# One word of a document text: (start, end, conf 0-100) in document-text offsets, then, when
# the word table gave them, its page and box (page, left, top, right, bottom in the page's
# pixels). Readers index the first three (confidences) or all eight (layout); a span of an
# older documents table or cache has the first three only.
WordSpan = tuple[int, int, float] | tuple[int, int, float, int, int, int, int, int]
WordSpans = list[WordSpan]


def word_spans(words: pl.DataFrame) -> dict[str, WordSpans]:
    """Per document id, its words' offsets in :func:`document_text`, their engine
    confidences (the word table's ``conf``, 0-100), page and box, in text order: the OCR
    evidence and layout that travel with a document's text, whatever the engine."""
    if words.is_empty():
        return {}
    cols = ("start", "end", "conf", "page", "left", "top", "width", "height")
    off = word_offsets(words).select("doc_id", *cols).sort("doc_id", "start")
    out: dict[str, WordSpans] = {}
    for (d,), g in off.partition_by("doc_id", as_dict=True, maintain_order=True).items():
        out[str(d)] = [
            (int(s), int(e), float(c), int(p), int(x), int(y), int(x + w), int(y + h))
            for s, e, c, p, x, y, w, h in g.select(*cols).rows()
        ]
    return out


def as_span(raw: Sequence[Any]) -> WordSpan:
    """A stored word span (a JSON list, a tuple) with its types: three or eight values."""
    if len(raw) >= 8:
        p, x0, y0, x1, y1 = (int(v) for v in raw[3:8])
        return (int(raw[0]), int(raw[1]), float(raw[2]), p, x0, y0, x1, y1)
    return (int(raw[0]), int(raw[1]), float(raw[2]))


def has_boxes(spans: WordSpans | None) -> TypeGuard[WordSpans]:
    """Do the spans carry pages and boxes (not only confidences)?"""
    return bool(spans) and spans is not None and len(spans[0]) == 8


def lines_with_offsets(text: str) -> list[tuple[int, str]]:
    """(start offset, line) pairs of the text."""
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, line))
        pos += len(line) + 1
    return out


def line_index(text: str, offset: int) -> int:
    """The 0-based index of the non-empty line holding ``offset`` (its vertical rank)."""
    return sum(1 for ln in text[:offset].split("\n")[:-1] if ln.strip())


def page_of(text: str, offset: int) -> int:
    """The 0-based page of ``offset`` in a :func:`document_text` (pages are separated by
    the only blank lines it has: a line is never empty)."""
    return text.count("\n\n", 0, max(offset, 0))
