"""Label-value pairs read from the page layout: the value right of its label, or below it.

Forms print a value after its label on the same row ("Advertiser: Bernie 2020") or in the
label's column on the next row (a header "Contract / Revision" over "1528945 / 09809228").
The document text joins each visual row across all its columns, so from the text alone the
value below a label is lost among its neighbours, and a value on the label's row runs on into
the next column ("Clean Energy Matters Invoice Date 04/26/20"). With the words' boxes
(``docasset.core.ocr.text.word_spans``) a *cell* is a run of words on one row whose gaps stay
below :data:`GAP` line heights: the value right of a label is the cell that follows it, the
value below is the first cell of the next rows (on the same page) that overlaps the label's
column. Spans stay character spans of the document text, so everything downstream (model
agreement, evidence, review boxes) is unchanged.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

from docasset.core.extraction.rules import Candidate, label_pattern, value_in
from docasset.core.ocr.text import WordSpans, has_boxes

GAP = 0.9  # a gap wider than this many line heights separates two cells of a row
BELOW_ROWS = 3  # rows below a label searched for its value
# The value in the label's own cell, in its column below, in the next cell of its row.
RIGHT_STRENGTH, BELOW_STRENGTH, NEXT_CELL_STRENGTH = 1.0, 0.9, 0.8
_TEXT_MAX_TOKENS = 12  # a text value in a cell: at most this many words
_TRAILING_TAG = re.compile(r"\s*\([^()]{1,12}\)\s*$")


@dataclass(frozen=True)
class _Word:
    start: int
    end: int
    page: int
    left: int
    top: int
    right: int
    bottom: int
    row: int  # index of its text line

    @property
    def height(self) -> int:
        return max(self.bottom - self.top, 1)


def _words(text: str, spans: WordSpans) -> list[_Word]:
    """The boxed words of the text, in text order, with their text line."""
    starts = [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    out = []
    for w in spans:
        if len(w) != 8:
            continue
        s, e, _, p, x0, y0, x1, y1 = w
        out.append(_Word(int(s), int(e), int(p), x0, y0, x1, y1, bisect_left(starts, s + 1)))
    return out


def _cell(row: list[_Word], i: int) -> list[_Word]:
    """The cell of ``row`` (one text line, left to right) that starts at word ``i``: it runs
    right while the gap to the next word is below :data:`GAP` line heights."""
    j = i
    while j + 1 < len(row):
        a, b = row[j], row[j + 1]
        if b.left - a.right > GAP * max(a.height, b.height):
            break
        j += 1
    return row[i : j + 1]


def _column_end(row: list[_Word], last: int) -> int:
    """The right end of a label's column: the left of the next cell on the label's row
    (the next column's header), or unbounded."""
    cell = _cell(row, last)
    k = last + len(cell)
    return row[k].left if k < len(row) else 10**9


def _value(
    text: str,
    cell: list[_Word],
    field_type: str,
    range_part: str | None,
    stop: re.Pattern[str] | None = None,
) -> tuple[int, int] | None:
    """The typed value inside a cell, as a text span, or None. A text value ends before
    another field's label inside the cell (``stop``: "SHEILA JACKSON LEE Invoice #")."""
    s, e = cell[0].start, cell[-1].end
    if text[s:e].rstrip().endswith(":"):
        return None  # another label ("Agency:"), not a value
    if field_type == "text":
        # A name has letters and a few words; a longer cell is running text.
        if len(cell) > _TEXT_MAX_TOKENS:
            return None
        if stop is not None and (m := stop.search(text, s + 1, e)) and text[m.start() - 1] == " ":
            e = s + len(text[s : m.start()].rstrip())
        if sum(ch.isalpha() for ch in text[s:e]) < 2:
            return None
        return s, e
    hit = value_in(text[s:e], field_type, range_part)
    return (s + hit[0], s + hit[1]) if hit else None


def find_labelled_cells(
    text: str,
    spans: WordSpans | None,
    keywords: tuple[str, ...],
    field_type: str,
    range_part: str | None = None,
    not_keywords: tuple[str, ...] = (),
    stops: tuple[str, ...] = (),
) -> list[Candidate]:
    """Values of the field's labels (``keywords``) read from the layout, best first: the
    rest of the label's cell (strength 1.0), else the first cell below the label overlapping
    its column within :data:`BELOW_ROWS` rows (0.9) and the next cell of its row (0.8);
    earlier keywords first. A label that begins one of ``not_keywords`` ("advertiser code":
    another value's header) is no label of the field; a text value ends before any of
    ``stops`` (the other fields' labels); a text value with a trailing parenthesised tag
    ("(27957)", "(P)") is also proposed without it, first.
    Empty without keywords or without boxes (then ``rules.find_labelled`` reads the text)."""
    if not keywords or not has_boxes(spans):
        return []
    label = label_pattern(keywords)
    exclude = label_pattern(not_keywords) if not_keywords else None
    stop = label_pattern(stops) if stops else None
    words = _words(text, spans)
    rows: dict[int, list[_Word]] = {}
    for w in words:
        rows.setdefault(w.row, []).append(w)
    for r in rows.values():
        r.sort(key=lambda w: w.left)
    found: list[tuple[int, Candidate]] = []
    for m in label.finditer(text):
        under = [w for w in words if w.end > m.start() and w.start < m.end()]
        if not under:
            continue
        rank = next(
            (j for j, k in enumerate(keywords) if m.group(0).lower() == k.strip().lower()),
            len(keywords),
        )
        row = rows[under[0].row]
        # A label starts a cell (a header, a form label), or ends in a colon inside a line
        # of "Label: value" pairs; elsewhere it is a word of running text.
        colon = text[m.end() : m.end() + 2].lstrip(" ").startswith(":")
        if not (colon or _starts_cell(row, under[0], m.start())):
            continue
        last = row.index(under[-1])
        if exclude and exclude.match(text, m.start()):
            continue  # another value's label ("Advertiser Code")
        hits = _hits(text, rows, m, under, row, last, field_type, range_part, stop)
        for strength, (s, e) in hits:
            if label.match(text, s):
                continue  # the field's label again (a form line below a header), no value
            tag = _TRAILING_TAG.search(text, s, e) if field_type == "text" else None
            if tag is not None and tag.start() > s:
                # "Biden for President-D (27957)": the name without its account number first
                found.append((rank, Candidate(s, tag.start(), text[s : tag.start()], strength)))
            found.append((rank, Candidate(s, e, text[s:e], strength)))
    found.sort(key=lambda rc: (rc[0], -rc[1].strength, rc[1].start))
    # One candidate per value (its first, strongest place): a header repeated on every
    # page would otherwise crowd the others out.
    out: list[Candidate] = []
    seen: set[str] = set()
    for _, c in found:
        key = " ".join(c.text.split()).casefold()
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def _hits(
    text: str,
    rows: dict[int, list[_Word]],
    m: re.Match[str],
    under: list[_Word],
    row: list[_Word],
    last: int,
    field_type: str,
    range_part: str | None,
    stop: re.Pattern[str] | None,
) -> list[tuple[float, tuple[int, int]]]:
    """(strength, span) of the label's value. A typed value (date, amount, identifier): the
    first one right of the label on its row ("Totals 13 $31,190.00"), else in its column
    below. A text value: the rest of the label's cell ("Advertiser: Bernie 2020"), else the
    cell below in its column and the next cell of its row."""
    nxt = row[last + 1] if last + 1 < len(row) else None
    if field_type != "text":
        end = row[-1].end
        hit = value_in(text[m.end() : end], field_type, range_part)
        if hit is not None:
            return [(RIGHT_STRENGTH, (m.end() + hit[0], m.end() + hit[1]))]
        below = _below(text, rows, under, row, last, field_type, range_part, stop)
        return [(BELOW_STRENGTH, below)] if below is not None else []
    out: list[tuple[float, tuple[int, int]]] = []
    if nxt is not None and nxt.left - under[-1].right <= GAP * max(nxt.height, under[-1].height):
        hit = _value(text, _cell(row, last + 1), field_type, range_part, stop)
        if hit is not None:
            out.append((RIGHT_STRENGTH, hit))
            if text[m.end() : under[-1].end].strip()[:1] in (":", "#"):
                return out  # "Advertiser: Bernie 2020" is a form line, not a header
        nxt = None  # the rest of the label's cell is no column of its own
    below = _below(text, rows, under, row, last, field_type, range_part, stop)
    if below is not None:
        out.append((BELOW_STRENGTH, below))
    if nxt is not None:
        hit = _value(text, _cell(row, last + 1), field_type, range_part, stop)
        if hit is not None:
            out.append((NEXT_CELL_STRENGTH, hit))
    return out


def _starts_cell(row: list[_Word], first: _Word, at: int) -> bool:
    """Does the label start a cell (a header or form label), rather than sit inside running
    text ("... the Advertiser agrees ...")? ``at``: where the match begins in the text."""
    if at > first.start:
        return False  # inside a word
    i = row.index(first)
    if i == 0:
        return True
    prev = row[i - 1]
    return first.left - prev.right > GAP * max(first.height, prev.height)


def _below(
    text: str,
    rows: dict[int, list[_Word]],
    under: list[_Word],
    row: list[_Word],
    last: int,
    field_type: str,
    range_part: str | None,
    stop: re.Pattern[str] | None,
) -> tuple[int, int] | None:
    """The value in the label's column on the next rows of its page."""
    left = min(w.left for w in under)
    right = _column_end(row, last)
    first = under[0]
    h = first.height
    for r in range(first.row + 1, first.row + 1 + BELOW_ROWS):
        below = rows.get(r)
        if not below or below[0].page != first.page:
            continue
        if below[0].top - first.bottom > (BELOW_ROWS + 1) * h:
            return None
        at = next((i for i, w in enumerate(below) if w.right > left - h and w.left < right), None)
        if at is None:
            continue
        # The cell may begin left of the column (a right-aligned or centred value).
        while at > 0 and below[at].left - below[at - 1].right <= GAP * h:
            at -= 1
        if field_type == "text":
            hit = _value(text, _cell(below, at), field_type, range_part, stop)
        else:  # the first typed value from the column on ("9   $1,230.00")
            got = value_in(text[below[at].start : below[-1].end], field_type, range_part)
            hit = (below[at].start + got[0], below[at].start + got[1]) if got else None
        if hit is not None:
            return hit
    return None
