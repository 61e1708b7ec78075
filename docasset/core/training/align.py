"""Align typed field values to OCR text, so they can become training spans.

People type the value as printed; OCR text has errors and line breaks. Alignment tries, in
order: an exact match ignoring case and whitespace; for dates and amounts, any occurrence whose
normalized value equals the truth; then a fuzzy match (rapidfuzz partial-ratio alignment).
Every result records its method and score, and unalignable values are reported, not dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from docasset.core.extraction.fields import DocType, FieldSpec, normalize
from docasset.core.extraction.rules import (
    find_amounts,
    find_date_ranges,
    find_dates,
    find_labelled,
    find_totals,
)

MIN_FUZZY_SCORE = 85.0


@dataclass(frozen=True)
class Alignment:
    """Where a field value sits in the text. ``method`` is exact | normalized | fuzzy | none."""

    field: str
    value: str
    start: int
    end: int
    method: str
    score: float  # 0..100

    @property
    def aligned(self) -> bool:
        return self.method in ("exact", "normalized", "fuzzy")


def _collapsed(text: str) -> tuple[str, list[int]]:
    """Lower-cased text with whitespace runs as one space, and the original offset per char."""
    chars: list[str] = []
    index: list[int] = []
    prev_space = True
    for i, ch in enumerate(text):
        if ch.isspace():
            if not prev_space:
                chars.append(" ")
                index.append(i)
            prev_space = True
            continue
        low = ch.lower()
        chars.append(low if len(low) == 1 else ch)
        index.append(i)
        prev_space = False
    return "".join(chars), index


def _snap(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a span to whitespace boundaries, then trim surrounding whitespace."""
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _exact(value: str, text: str) -> tuple[int, int] | None:
    hay, index = _collapsed(text)
    needle, _ = _collapsed(value)
    needle = needle.strip()
    if not needle:
        return None
    pos = hay.find(needle)
    while pos >= 0:
        end = pos + len(needle)
        # Whole words only: "9.0" must not match inside "9.00", nor "ACME" inside "ACMEX".
        if (pos == 0 or not hay[pos - 1].isalnum()) and (end == len(hay) or not hay[end].isalnum()):
            return index[pos], index[end - 1] + 1
        pos = hay.find(needle, pos + 1)
    return None


def align_value(spec: FieldSpec, value: str, text: str) -> Alignment:
    """Align one value; ``method == "none"`` when nothing is close enough."""
    if (hit := _exact(value, text)) is not None:
        return Alignment(spec.name, value, *hit, "exact", 100.0)
    if spec.type in ("date", "amount"):
        target = normalize(spec, value)
        # Prefer the occurrence the field's labels (and a range's part) anchor.
        labelled = find_labelled(text, spec.keywords, spec.type, spec.range_part)
        if spec.type == "date":
            ranges = find_date_ranges(text, spec.range_part) if spec.range_part else []
            cands = labelled + ranges + find_dates(text)
        else:
            cands = labelled + find_amounts(text)
            if spec.role == "total":  # prefer the occurrence a total keyword anchors
                cands = find_totals(text) + cands
        for c in cands:
            if target is not None and normalize(spec, c.text) == target:
                return Alignment(spec.name, value, c.start, c.end, "normalized", 100.0)
        return Alignment(spec.name, value, 0, 0, "none", 0.0)
    hay, index = _collapsed(text)
    needle, _ = _collapsed(value)
    needle = needle.strip()
    if len(needle) < 3:
        return Alignment(spec.name, value, 0, 0, "none", 0.0)
    res = fuzz.partial_ratio_alignment(needle, hay)
    if res is None or res.score < MIN_FUZZY_SCORE or res.dest_end <= res.dest_start:
        return Alignment(spec.name, value, 0, 0, "none", float(res.score if res else 0.0))
    start, end = index[res.dest_start], index[res.dest_end - 1] + 1
    start, end = _snap(text, start, end)
    return Alignment(spec.name, value, start, end, "fuzzy", float(res.score))


def align_document(doctype: DocType, values: dict[str, str], text: str) -> list[Alignment]:
    """Align every schema field present in ``values``; overlapping spans keep the better one.

    A span that overlaps a better-scored (or earlier, on ties) span is reported as
    ``method="overlap"`` rather than silently dropped.
    """
    out = [
        align_value(doctype.spec(name), value, text)
        for name, value in values.items()
        if name in doctype.names and value and value.strip()
    ]
    ranked = sorted(
        (a for a in out if a.aligned), key=lambda a: (-a.score, a.end - a.start, a.field)
    )
    kept: list[Alignment] = []
    result: dict[str, Alignment] = {a.field: a for a in out if not a.aligned}
    for a in ranked:
        if any(a.start < k.end and k.start < a.end for k in kept):
            result[a.field] = Alignment(a.field, a.value, a.start, a.end, "overlap", a.score)
        else:
            kept.append(a)
            result[a.field] = a
    return [result[a.field] for a in out]


NEAR_MISS_SCORE = 60.0  # below, a text value shares too little with the text to be an OCR slip


def near_miss(spec: FieldSpec, value: str, text: str, score: float) -> bool:
    """Whether an unaligned value is probably an OCR misreading of something printed rather
    than an annotation error: a text value still fuzzily close (``score`` >= 60), or a date or
    amount one character away from one the rules find in the text ("9.60" for "9.00")."""
    if spec.type not in ("date", "amount"):
        return score >= NEAR_MISS_SCORE
    target = normalize(spec, value)
    if target is None:
        return False
    cands = find_dates(text) if spec.type == "date" else find_amounts(text)
    return any(
        (got := normalize(spec, c.text)) is not None and Levenshtein.distance(got, target) <= 1
        for c in cands
    )
