"""OCR evidence of an extracted span: the engine's word confidences and confusable characters.

Engine-agnostic: any OCR engine's word table (``text``, ``conf`` 0-100, line keys) gives
``docasset.core.ocr.text.word_spans``, the (start, end, conf) of every word in document-text
offsets, which travels with the document text (the ``documents`` table's ``word_conf``,
``predict_text(..., words=...)``, a training ``Doc``'s ``user_data["word_conf"]``, the
evaluation OCR cache). :func:`span_ocr` reads the confidences of the words under a chosen span;
:func:`confusable_chars` counts characters that OCR engines commonly swap (0/O, 1/l/I, 5/S,
8/B) standing among characters of the other kind.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import TYPE_CHECKING

from docasset.core.ocr.text import WordSpans, as_span, word_spans

if TYPE_CHECKING:
    from spacy.tokens import Doc

__all__ = ["WordSpans", "confusable_chars", "span_ocr", "word_spans"]

# A letter that reads as a digit inside a number, or a digit inside a word.
_LETTER_IN_NUMBER = re.compile(r"(?<=\d)[OoDlIiSsBZz]|[OoDlIiSsBZz](?=[\d.,]\d)")
_DIGIT_IN_WORD = re.compile(r"(?<=[A-Za-z])[01589](?=[A-Za-z])")


def span_ocr(spans: WordSpans | None, start: int, end: int) -> tuple[float, float] | None:
    """(lowest, mean) confidence 0-1 of the words overlapping ``[start, end)``; ``None`` when
    the word confidences are unknown or no word lies under the span."""
    if not spans or end <= start:
        return None
    i = max(0, bisect_right(spans, (start, 10**9, 0.0)) - 1)
    confs = []
    while i < len(spans) and spans[i][0] < end:
        e, c = spans[i][1], spans[i][2]
        if e > start:
            confs.append(c / 100.0)
        i += 1
    if not confs:
        return None
    return min(confs), sum(confs) / len(confs)


def confusable_chars(value: str) -> int:
    """Characters OCR commonly confuses standing among the other kind (a letter O/l/I/S/B/Z in
    a number, a digit 0/1/5/8/9 inside a word): the trace of a misread."""
    return len(_LETTER_IN_NUMBER.findall(value)) + len(_DIGIT_IN_WORD.findall(value))


def doc_words(doc: Doc) -> WordSpans | None:
    """The OCR word confidences (and boxes, when known) a training ``Doc`` carries
    (``user_data["word_conf"]``), if any."""
    raw = doc.user_data.get("word_conf")
    return [as_span(w) for w in raw] if raw else None
