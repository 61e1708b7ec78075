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
    r"|darul\s*\w+|malaysia|petaling\s*jaya|klang|puchong|subang|cheras|kajang|seremban|ipoh)\b",
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


def _name_span(start: int, line: str) -> tuple[int, int]:
    """The company name within a line with a legal suffix: from the first alphanumeric
    character to the end of the last suffix, without a trailing full stop or the registration
    number that often follows ("~ AEON CO. (M) BHD (126925-8)" -> "AEON CO. (M) BHD")."""
    lead = next((k for k, ch in enumerate(line) if ch.isalnum()), 0)
    last = list(LEGAL_RE.finditer(line))[-1]
    end = last.end()
    if line[end - 1] == "." and not last.group(0).lower().startswith("co"):
        end -= 1
    return start + lead, start + end


def company_candidates(text: str) -> list[Candidate]:
    """Head lines that look like a seller's name, best first.

    Strength 1.0 (minus 0.05 per line down the page) for a head line with a legal suffix, cut
    at the suffix; a short suffix line ("SDN BHD") is also proposed joined with the line above
    ("PASARAYA BORONG PINTAR\nSDN BHD"), first when the line holds nothing but the suffix.
    Strength 0.3 for the first head line with enough letters.
    """
    head = _content_lines(text)[:HEAD_LINES]
    out: list[Candidate] = []
    for i, (start, line) in enumerate(head):
        if not (LEGAL_RE.search(line) and _letters(line) >= 3) or NOT_ADDRESS_RE.search(line):
            continue
        s, e = _name_span(start, line)
        own = Candidate(s, e, text[s:e], 1.0 - 0.05 * i)
        words_before = len(text[s : LEGAL_RE.search(line).start() + start].split())  # type: ignore[union-attr]
        if i > 0 and len(line.split()) <= 3 and _letters(head[i - 1][1]) >= 4:
            ps = head[i - 1][0] + next(
                (k for k, ch in enumerate(head[i - 1][1]) if ch.isalnum()), 0
            )
            joined = Candidate(
                ps, e, text[ps:e], own.strength + (0.01 if words_before == 0 else -0.01)
            )
            out += [joined, own] if words_before == 0 else [own, joined]
        else:
            out.append(own)
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
        tail = (STATE_RE.search(st) and _letters(st) <= 20) or (
            st.startswith("(") and st.endswith(")")
        )
        if tail and not NOT_ADDRESS_RE.search(st) and not POSTCODE_RE.search(st):
            return s + len(ln.rstrip())
    return end


def address_candidates(text: str, after: int = 0) -> list[Candidate]:
    """Blocks of head lines after ``after`` (the company's end) that look like an address,
    best first: ending with a postcode line (strength 1.0, plus a trailing state line), with a
    state/city name (0.6), or at the first phone/tax/date line (0.4). Each block is also
    proposed starting one or two lines later (strength - 0.1 per line), since a branch name
    often sits between the company and its address ("IKEA Cheras")."""
    lines = [(s, ln) for s, ln in _content_lines(text)[: HEAD_LINES + 4] if s >= after]
    starts: list[int] = []
    blocks: list[tuple[int, float]] = []  # (end offset, strength)
    for start, line in lines:
        stripped = line.strip()
        if not starts:
            if REGNO_RE.match(stripped) or NOT_ADDRESS_RE.search(stripped) or _letters(line) < 3:
                continue
            if LEGAL_RE.search(line) and not POSTCODE_RE.search(line):
                continue  # still the company name
        elif NOT_ADDRESS_RE.search(stripped):
            if not blocks:
                blocks.append((starts[-1][1], 0.4))  # type: ignore[index]
            break
        lead = next((k for k, ch in enumerate(line) if ch.isalnum()), 0)
        starts.append((start + lead, start + len(line.rstrip())))  # type: ignore[arg-type]
        end = start + len(line.rstrip())
        if POSTCODE_RE.search(line):
            blocks.append((_extend_tail(text, lines, start, end), 1.0))
            break
        if STATE_RE.search(line):
            blocks.append((end, 0.6))
    out: list[Candidate] = []
    for end, strength in blocks:
        for k, (b, _) in enumerate(starts[:3]):  # type: ignore[misc]
            if b < end:
                out.append(Candidate(b, end, text[b:end], strength - 0.1 * k))
    out.sort(key=lambda c: -c.strength)
    return out
