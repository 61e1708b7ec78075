"""The rule layer: regex finders for dates, amounts and identifiers, and keyword anchors.

Rules propose candidates ``(start, end, text)`` over the OCR document text. They serve twice:
to align typed ground-truth values to the text (training), and as the second opinion beside the
spaCy model at extraction time (see ``docasset.core.extraction.extract`` for the combination order).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from docasset.core.extraction.fields import parse_amount, parse_date
from docasset.core.ocr.text import lines_with_offsets

_MON = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*"
_DATE = (
    r"\d{4}[./\-]\d{1,2}[./\-]\d{1,2}"
    r"|\d{1,2}[./\-]\d{1,2}[./\-]\d{2,4}"
    rf"|\d{{1,2}}[\s\-./]?{_MON}[\s\-./,]*\d{{2,4}}"
    rf"|{_MON}[\s\-./]?\d{{1,2}}(?:st|nd|rd|th)?[\s,\-./]*\d{{2,4}}"
)
DATE_RE = re.compile(rf"(?<![\w/.\-])(?:{_DATE})(?![\w/])", re.I)
# A printed period: "02/19/20 - 02/25/20", "05/28/20-06/03/20", "3/25/20 thru 3/31/20".
DATE_RANGE_RE = re.compile(
    rf"(?<![\w/.\-])({_DATE})\s*[.,]?\s*(?:-|\u2013|\u2014|to|thru|through|until)\s*({_DATE})(?![\w/])",
    re.I,
)
_IDENTIFIER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-/.]*\d[A-Za-z0-9\-/]*")
_SEPARATORS_RE = re.compile(r"^[\s:#.\-=|]*")
_TEXT_MAX_TOKENS = 6
AMOUNT_RE = re.compile(r"(?<![\d.,])\d{1,3}(?:[,.]?\d{3})*[.,]\d{2}(?![\d.,]*\d)")
# On a total line only: an amount whose decimals OCR split off ("RM 73. 00").
SPLIT_AMOUNT_RE = re.compile(r"(?<![\d.,])\d{1,3}(?:,?\d{3})*[.,] \d{2}(?![\d.,]*\d)")
# Lines whose amount is what the customer handed over or got back, never the total.
TENDER_RE = re.compile(r"(cash|change|tender|received|paid|payment|balance\s*(?!due))", re.I)
TOTAL_KEYWORD_RE = re.compile(
    r"\b(grand\s*total|total\s*amount|amount\s*due|total\s*due|nett?\s*total|total|jumlah"
    r"|t[a0]tal|balance\s*due|amount\s*payable|gesamt\w*|summe|zu\s*zahlen|montant|importe|totale)\b",
    re.I,
)
NOT_TOTAL_RE = re.compile(
    r"(sub\s*-?\s*total|total\s*(qty|[o0]ty|quantity|items?|disc|discount|saving|gst|tax|excl)"
    r"|\bexclud"
    r"|tender|cash|change|paid|rounding|round\s*adj)",
    re.I,
)
STRONG_TOTAL_RE = re.compile(
    r"(grand\s*total|total\s*amount|amount\s*due|total\s*due|rounded|incl|balance\s*due"
    r"|amount\s*payable|gesamtbetrag|zu\s*zahlen|total\s*ttc)",
    re.I,
)
IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b")


@dataclass(frozen=True)
class Candidate:
    """A rule's proposal for one field: character span in the text, surface string, strength."""

    start: int
    end: int
    text: str
    strength: float  # 0..1: how strongly the rule's anchor supports it


# A compact date only counts after a date keyword ("Date: 12022018"): elsewhere eight digits
# are far more often a receipt or item number.
COMPACT_DATE_RE = re.compile(r"\bdate\W{0,3}(\d{8})(?!\d)", re.I)


def find_dates(text: str) -> list[Candidate]:
    """Every plausible date in the text, earliest first."""
    out = []
    for m in DATE_RE.finditer(text):
        if parse_date(m.group(0)) is not None:
            out.append(Candidate(m.start(), m.end(), m.group(0), 1.0))
    for m in COMPACT_DATE_RE.finditer(text):
        if parse_date(m.group(1)) is not None:
            out.append(Candidate(m.start(1), m.end(1), m.group(1), 0.8))
    return sorted(out, key=lambda c: c.start)


def find_amounts(text: str) -> list[Candidate]:
    """Every amount with two decimals in the text, earliest first."""
    return [
        Candidate(m.start(), m.end(), m.group(0), 1.0)
        for m in AMOUNT_RE.finditer(text)
        if parse_amount(m.group(0)) is not None
    ]


def untendered_amounts(text: str) -> list[Candidate]:
    """Amounts not on a cash/change/tendered line (the cash handed over exceeds the total)."""
    return [
        Candidate(start + m.start(), start + m.end(), m.group(0), 1.0)
        for start, line in lines_with_offsets(text)
        if not TENDER_RE.search(line)
        for m in AMOUNT_RE.finditer(line)
        if parse_amount(m.group(0)) is not None
    ]


def find_totals(text: str) -> list[Candidate]:
    """Amounts anchored by a total keyword on their line (or the next line), best first.

    Strength: 1.0 for strong anchors (grand total, amount due), 0.7 for plain "total".
    Excluded: subtotal, total qty/discount/tax, cash/change/tendered lines.
    Ties are broken by votes (how many anchored lines carry the same amount: receipts repeat
    the total, and one OCR misread rarely repeats), then by the larger amount, since the
    payable total bounds the partial sums.
    """
    lines = lines_with_offsets(text)
    cands: list[Candidate] = []
    for i, (start, line) in enumerate(lines):
        if not TOTAL_KEYWORD_RE.search(line) or NOT_TOTAL_RE.search(line):
            continue
        strength = 1.0 if STRONG_TOTAL_RE.search(line) else 0.7
        amounts = list(AMOUNT_RE.finditer(line)) or list(SPLIT_AMOUNT_RE.finditer(line))
        if not amounts and i + 1 < len(lines):
            start, line = lines[i + 1]
            amounts = list(AMOUNT_RE.finditer(line)) or list(SPLIT_AMOUNT_RE.finditer(line))
            strength -= 0.2
        if amounts:
            m = amounts[-1]
            cands.append(Candidate(start + m.start(), start + m.end(), m.group(0), strength))
    votes: dict[object, int] = {}
    for c in cands:
        votes[parse_amount(c.text)] = votes.get(parse_amount(c.text), 0) + 1
    cands.sort(
        key=lambda c: (
            -c.strength,
            -votes[parse_amount(c.text)],
            -(parse_amount(c.text) or 0),
            -c.start,
        )
    )
    return cands


def find_ibans(text: str) -> list[Candidate]:
    """IBAN-shaped strings (checksum is the validator's job)."""
    return [Candidate(m.start(), m.end(), m.group(0), 1.0) for m in IBAN_RE.finditer(text)]


def find_date_ranges(text: str, part: str) -> list[Candidate]:
    """The ``start`` or ``end`` date of every printed period, earliest first."""
    group = 1 if part == "start" else 2
    return [
        Candidate(m.start(group), m.end(group), m.group(group), 1.0)
        for m in DATE_RANGE_RE.finditer(text)
        if parse_date(m.group(1)) is not None and parse_date(m.group(2)) is not None
    ]


def value_in(rest: str, field_type: str, range_part: str | None) -> tuple[int, int] | None:
    """Where the value of a field of ``field_type`` sits in ``rest`` (the line after its
    label): the first date (range part) / amount / identifier, or the text up to the next
    label-like token ("Agency:"), at most six tokens."""
    if range_part is not None:
        m = DATE_RANGE_RE.search(rest)
        if m:
            g = 1 if range_part == "start" else 2
            return m.start(g), m.end(g)
    if field_type == "date":
        m = DATE_RE.search(rest)
    elif field_type == "amount":
        m = AMOUNT_RE.search(rest)
    elif field_type in ("identifier", "iban"):
        head = _SEPARATORS_RE.match(rest)
        m = _IDENTIFIER_RE.match(rest, head.end() if head else 0)
    else:
        head = _SEPARATORS_RE.match(rest)
        start = head.end() if head else 0
        end = start
        for n, tok in enumerate(re.finditer(r"\S+", rest[start:])):
            if n >= _TEXT_MAX_TOKENS or (n and tok.group(0).endswith(":")):
                break
            end = start + tok.end()
        return (start, end) if end > start else None
    return (m.start(), m.end()) if m else None


def label_pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    """Any of the printed labels, case-insensitive, not inside a longer word."""
    alternatives = "|".join(re.escape(k.strip()) for k in keywords)
    return re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])", re.I)


def find_labelled(
    text: str, keywords: tuple[str, ...], field_type: str, range_part: str | None = None
) -> list[Candidate]:
    """Values printed after one of the field's labels (``keywords``, case-insensitive) on the
    same line (strength 1.0) or the next (0.7); earlier keywords of the list first."""
    if not keywords:
        return []
    label = label_pattern(keywords)
    lines = lines_with_offsets(text)
    found: list[tuple[int, Candidate]] = []
    for i, (start, line) in enumerate(lines):
        for m in label.finditer(line):
            rank = next(
                (j for j, k in enumerate(keywords) if m.group(0).lower() == k.strip().lower()),
                len(keywords),
            )
            hit = value_in(line[m.end() :], field_type, range_part)
            base, strength = start + m.end(), 1.0
            if hit is None and i + 1 < len(lines):
                base, strength = lines[i + 1][0], 0.7
                hit = value_in(lines[i + 1][1], field_type, range_part)
            if hit is not None:
                s, e = base + hit[0], base + hit[1]
                found.append((rank, Candidate(s, e, text[s:e], strength)))
    found.sort(key=lambda rc: (rc[0], -rc[1].strength, rc[1].start))
    out: list[Candidate] = []
    for _, c in found:
        if all((c.start, c.end) != (o.start, o.end) for o in out):
            out.append(c)
    return out


def rule_candidates(field_type: str, role: str | None, text: str) -> list[Candidate]:
    """Candidates for a field by its type (and role, for totals), best first."""
    if field_type == "date":
        return find_dates(text)
    if field_type == "amount":
        return find_totals(text) if role == "total" else []
    if field_type == "iban":
        return find_ibans(text)
    return []
