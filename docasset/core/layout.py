"""Layout heuristics over OCR text lines: where a receipt's company and address usually sit.

The OCR text keeps Tesseract's reading order, one text line per line, so a line's index is its
vertical position on the page. Receipts print the seller's name in the first lines (often with a
legal suffix such as ``SDN BHD``), followed by the address, which ends with a postcode or a
state/city name. These heuristics propose rule candidates for text fields and supply
position features to the confidence model (see ``docasset.core.confidence``).
"""

from __future__ import annotations

import re

from docasset.core.rules import Candidate

LEGAL_RE = re.compile(
    r"\b(s[do]n\.?\s*bh[do]|bhd|berhad|s/b|plt|enterprise|trading|company|co\.?|ltd|limited|inc"
    r"|corporation|corp|gmbh|llc|restaurant|restoran|store|mart|market|hardware|bakery"
    r"|cafe|kedai|pharmacy|station)\b\.?",
    re.I,
)
POSTCODE_RE = re.compile(r"(?<!\d)\d{5}(?!\d)")
STATE_RE = re.compile(
    r"\b(johor|selangor|kuala\s*lumpur|melaka|malacca|perak|penang|pulau\s*pinang|kedah"
    r"|pahang|negeri\s*sembilan|kelantan|terengganu|sabah|sarawak|putrajaya|bahru|shah\s*alam"
    r"|petaling\s*jaya|klang|puchong|subang|cheras|kajang|seremban|ipoh)\b",
    re.I,
)
NOT_ADDRESS_RE = re.compile(
    r"(\btel\b|\bfax\b|phone|gst|reg\b|\bno\s*:|invoice|receipt|tax|e-?mail|www|http|date|cashier)",
    re.I,
)
REGNO_RE = re.compile(r"^\W*\(?\s*(co\.?\s*(reg\.?)?\s*no\.?\s*:?)?\s*[\dA-Z]{4,}-?[A-Z]\s*\)?\W*$")
HEAD_LINES = 8  # company/address candidates come from the first lines only


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


def _letters(line: str) -> int:
    return sum(ch.isalpha() for ch in line)


def _content_lines(text: str) -> list[tuple[int, str]]:
    """Non-empty lines with their offsets, in reading order, without all-lower-case lines
    (printed headers are upper/title case; SROIE scans carry a handwritten name on top)."""
    return [
        (s, ln)
        for s, ln in lines_with_offsets(text)
        if ln.strip() and not (ln.strip().islower() and _letters(ln) >= 3)
    ]


def company_candidates(text: str) -> list[Candidate]:
    """Head lines that look like a seller's name, best first.

    Strength 1.0 for a head line with a legal suffix (with the preceding line joined when the
    suffix line is short, as in "BOOK TA .K\\n(TAMAN DAYA) SDN BHD"), 0.3 for the first line
    with enough letters.
    """
    head = _content_lines(text)[:HEAD_LINES]
    out: list[Candidate] = []
    for i, (start, line) in enumerate(head):
        if LEGAL_RE.search(line) and _letters(line) >= 3 and not NOT_ADDRESS_RE.search(line):
            s, e = start + len(line) - len(line.lstrip()), start + len(line.rstrip())
            out.append(Candidate(s, e, text[s:e], 1.0 - 0.05 * i))
    for start, line in head:
        if _letters(line) >= 4 and not REGNO_RE.match(line.strip()):
            s, e = start + len(line) - len(line.lstrip()), start + len(line.rstrip())
            out.append(Candidate(s, e, text[s:e], 0.3))
            break
    return out


def _extend_tail(text: str, lines: list[tuple[int, str]], start: int, end: int) -> int:
    """A state-name line or a parenthesised branch line right after the postcode line still
    belongs to the address ("81100 JOHOR BAHRU,\nJOHOR.")."""
    nxt = [(s, ln) for s, ln in lines if s > start][:1]
    for s, ln in nxt:
        st = ln.strip()
        if (STATE_RE.search(st) and _letters(st) <= 20) or (st.startswith("(") and st.endswith(")")):
            if not NOT_ADDRESS_RE.search(st) and not POSTCODE_RE.search(st):
                return s + len(ln.rstrip())
    return end


def address_candidates(text: str, after: int = 0) -> list[Candidate]:
    """The block of head lines after ``after`` (the company's end) that ends with a postcode
    or a state/city name, best first; strength 1.0 with a postcode, 0.6 with a place name."""
    lines = [(s, ln) for s, ln in _content_lines(text)[: HEAD_LINES + 4] if s >= after]
    out: list[Candidate] = []
    begin: int | None = None
    for start, line in lines:
        stripped = line.strip()
        if begin is None:
            if REGNO_RE.match(stripped) or NOT_ADDRESS_RE.search(stripped) or _letters(line) < 3:
                continue
            if LEGAL_RE.search(line) and not POSTCODE_RE.search(line):
                continue  # still the company name
            begin = start + len(line) - len(line.lstrip())
        elif NOT_ADDRESS_RE.search(stripped):
            break
        end = start + len(line.rstrip())
        if POSTCODE_RE.search(line):
            end = _extend_tail(text, lines, start, end)
            out.append(Candidate(begin, end, text[begin:end], 1.0))
            break
        if STATE_RE.search(line):
            out.append(Candidate(begin, end, text[begin:end], 0.6))
    out.sort(key=lambda c: -c.strength)
    return out
