"""Layout heuristics over OCR text lines: where a document's seller name and address sit.

The OCR text keeps Tesseract's reading order, one text line per line, so a line's index is its
vertical position on the page. Receipts and invoices print the seller's name in the first lines
(often with a legal form such as ``SDN BHD``, ``Ltd`` or ``GmbH``), then the address, which
ends with a postcode line (possibly followed by a state or country line), then phone, tax and
registration lines. These heuristics propose rule candidates for the text fields and supply
position features to the confidence model (see ``docasset.core.extraction.confidence``).

The address is found from its end: the first postcode line below the name, extended by a
trailing state/country line, and walked *upwards* while lines still look like address lines.
Walking up stops at registration numbers, phone/tax/date lines, the name line and OCR noise,
which a forward walk from the top would swallow. The seller's name is then the nearest clean
line above the address (registration numbers skipped), besides lines carrying a legal form.
"""

from __future__ import annotations

import re
from functools import lru_cache

from docasset.core.extraction.rules import Candidate
from docasset.core.ocr.text import lines_with_offsets

# Legal forms and business words: a line carrying one is probably the seller's name.
LEGAL_RE = re.compile(
    r"\b(s[do]n\.?\s*bh[do]|bhd|berhad|s/b|plt|enterprise|trading|company|co\.?|ltd|limited|inc"
    r"|corporation|corp|gmbh|llc|restaurant|restoran|store|mart|market|hardware|bakery"
    r"|cafe|kedai|pharmacy|station|pte|pty|s\.a|b\.v|plc|llp|sarl|ag)\b\.?",
    re.I,
)
# Legal forms only: a name is cut after the last one ("AEON CO. (M) BHD (126925-8)"), while
# business words stay inside it ("HOME MASTER HARDWARE & ELECTRICAL").
LEGAL_FORM_RE = re.compile(
    r"\b(s[do]n\.?\s*,?\s*bh[do]|bhd|berhad|s/b|plt|ltd|limited|inc|corporation|corp|gmbh"
    r"|llc|pte\.?\s*ltd|pty\.?\s*ltd|s\.a|b\.v|plc|llp|sarl|co\.?\s*\(m\)\s*bhd)\b\.?",
    re.I,
)
# Postcodes: 5 or 6 digits not inside a longer number or a phone/registration number, UK
# ("LS5 3BT"), Dutch ("3526 KM"); 4-digit ones see ``has_postcode``.
POSTCODE_RE = re.compile(
    r"(?<![\d\-/.])\d{5}(?![\d\-])"
    r"|(?<![\d\-/.()+])\d{6}(?![\d\-])(?!\s*-)"
    r"|\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b|\b\d{4}\s?[A-Z]{2}\b"
)
# 4-digit postcodes ("1070 Wien", "Annandale NSW 2038") open or close their line.
POSTCODE4_RE = re.compile(r"^\W*\d{4}(?=\s+[A-Za-z])|(?<=[A-Za-z] )\d{4}\W*$")
STATE_RE = re.compile(
    r"\b(johor|selangor|kuala\s*lumpur|melaka|malacca|perak|penang|pulau\s*pinang|kedah"
    r"|pahang|negeri\s*sembilan|kelantan|terengganu|sabah|sarawak|putrajaya|bahru|shah\s*alam"
    r"|darul\s*\w+|malaysia|petaling\s*jaya|klang|puchong|subang|cheras|kajang|seremban|ipoh"
    r"|singapore|australia|deutschland|germany|austria|france|espana|spain|nederland"
    r"|netherlands|united\s*kingdom|england|usa|nsw|vic|qld)\b",
    re.I,
)
ADDRESS_WORD_RE = re.compile(
    r"\b(no\.?|lot|level|lvl|floor|flr|tingkat|unit|suite|block|blok|blk|jalan|jln|lorong"
    r"|taman|tmn|bandar|kawasan|seksyen|batu|kampung|kg|street|st|road|rd|avenue|ave|lane"
    r"|drive|way|estate|centre|center|plaza|strasse|str|rue|calle|via|weg|piso|building"
    r"|bangunan|wisma|kompleks|complex|mall|square|park)\b",
    re.I,
)
NOT_ADDRESS_RE = re.compile(
    r"(\btel\b|\bfax\b|phone|\bph\b|\bgst|\bvat\b|reg\b|(invoice|receipt|bill|doc|co|roc)\.?\s*"
    r"no\b|invoice|receipt|\btax\b|e-?mail|www|http|\bdate\b|cashier|\btime\b|\bhrb\b|\bein\b"
    r"|\buen\b|\bacn\b|\bcif\b|\brcs\b|\bkvk\b|company\s*no)",
    re.I,
)
REGNO_RE = re.compile(
    r"^\W*\(?\s*(co\.?\s*(reg\.?)?\s*no\.?\s*:?)?\s*[\dA-Z]{4,}\s*-?\s*[A-Z]\s*\)?\W*$"
)
# A registration number inside a line: "(001451 637-M)", "(§A0264195-T) OR?".
REGNO_INLINE_RE = re.compile(r"\([^)]{0,3}[\dA-Z][\dA-Z ]{4,}\s*-\s*[A-Z]\s*\)")
# A registration code and number on their own line: "FN 412345 t", "HRB 144502", "UEN
# 201512345K", "KvK 30124578", "ACN 123 456 789".
CODE_NUMBER_RE = re.compile(r"^[A-Za-z]{2,5}\.?:?\s*\d[\d\s\-]{4,}[A-Za-z]?$")
DATE_LIKE_RE = re.compile(r"\d{1,4}[./\-]\d{1,2}[./\-]\d{2,4}|\d{1,2}:\d{2}")
HEAD_LINES = 8  # the seller's name comes from the first lines only
ADDRESS_LINES = 14  # an address ends within the first lines
MAX_ADDRESS_LINES = 5


def _letters(line: str) -> int:
    return sum(ch.isalpha() for ch in line)


def is_noise(line: str) -> bool:
    """OCR noise from logos, stamps and handwriting: most words are not printed words.

    A printed word is all capitals (2+ letters), a capitalised word of 3+ letters, or holds a
    digit; lines of lower-case fragments ("ne Eee", "es, i TT eee ee") are noise.
    """
    words = [w.strip(".,:;'\"|!()[]{}*-_=~") for w in line.split()]
    words = [w for w in words if w]
    if not words or _letters(line) < 3:
        return True
    printed = sum(
        1
        for w in words
        if (w.isupper() and sum(c.isalpha() for c in w) >= 2)
        or (w[:1].isupper() and w[1:].islower() and len(w) >= 3)
        or any(c.isdigit() for c in w)
        or w in ("&", "@")
    )
    return printed / len(words) < 0.6


@lru_cache(maxsize=16)  # every candidate of one document asks again; str caches its hash
def _content_lines(text: str) -> list[tuple[int, str]]:
    """Non-empty lines with their offsets, in reading order, without all-lower-case lines
    (printed headers are upper/title case; SROIE scans carry a handwritten name on top)."""
    return [
        (s, ln)
        for s, ln in lines_with_offsets(text)
        if ln.strip() and not (ln.strip().islower() and _letters(ln) >= 3)
    ]


def _trim(start: int, line: str) -> tuple[int, int]:
    """The line's span without surrounding whitespace and leading punctuation."""
    lead = next((k for k, ch in enumerate(line) if ch.isalnum() or ch == "("), 0)
    return start + lead, start + len(line.rstrip())


def _name_span(start: int, line: str) -> tuple[int, int]:
    """The seller's name within a line: up to the end of the last legal form, without the
    registration number that often follows ("~ AEON CO. (M) BHD (126925-8)" -> "AEON CO. (M)
    BHD"); without a legal form, the line minus a trailing
    parenthesised registration number."""
    s, e = _trim(start, line)
    s = start + next((k for k, ch in enumerate(line) if ch.isalnum()), 0)
    forms = list(LEGAL_FORM_RE.finditer(line))
    if forms:
        form = forms[-1].group(0)
        end = start + forms[-1].end()
        # An abbreviation's full stop is part of the name ("Pte. Ltd.", "B.V.", "SDN. BHD."),
        # but after a bare "BHD" it is the line's punctuation (keys write "SDN BHD").
        if form.endswith(".") and "." not in form[:-1] and form[:-1].upper().endswith("BHD"):
            end -= 1
        return s, end
    m = re.search(r"\s*\(\s*[\dA-Z\-]{5,}\s*\)\s*$", line)
    return s, (start + m.start() if m else e)


def has_postcode(line: str) -> bool:
    """Does the line carry a postcode? A 4-digit number counts only at the start or end of a
    line without street words (else "LOT 2685 JLN ..." would be a postcode)."""
    if POSTCODE_RE.search(line):
        return True
    return bool(POSTCODE4_RE.search(line.strip())) and not ADDRESS_WORD_RE.search(line)


def _is_address_line(line: str) -> bool:
    """Could this line belong to an address block (walking upwards from its end)?"""
    st = line.strip()
    if REGNO_RE.match(st) or NOT_ADDRESS_RE.search(st) or DATE_LIKE_RE.search(st):
        return False
    if REGNO_INLINE_RE.search(st) or CODE_NUMBER_RE.match(st):
        return False
    if LEGAL_FORM_RE.search(st) and not has_postcode(st):
        return False  # the name line
    if is_noise(st):
        return False
    return bool(
        any(ch.isdigit() for ch in st)
        or "," in st
        or ADDRESS_WORD_RE.search(st)
        or STATE_RE.search(st)
    )


def _is_city(line: str) -> bool:
    """A short plain line of words: a city or district name on its own."""
    st = line.strip()
    return (
        0 < len(st.split()) <= 3
        and not any(c.isdigit() for c in st)
        and not NOT_ADDRESS_RE.search(st)
        and not LEGAL_RE.search(st)
        and not is_noise(st)
    )


def _is_street(line: str) -> bool:
    """A line with a street number or street word."""
    return _is_address_line(line) and bool(
        any(c.isdigit() for c in line) or ADDRESS_WORD_RE.search(line)
    )


def _is_tail(line: str) -> bool:
    """A state/country line or a parenthesised branch line after the postcode line."""
    st = line.strip()
    if NOT_ADDRESS_RE.search(st) or any(c.isdigit() for c in st):
        return False
    state = bool(STATE_RE.search(st)) and _letters(st) <= 32
    return state or (st.startswith("(") and st.endswith(")") and _letters(st) >= 3)


def _address_end(lines: list[tuple[int, str]]) -> list[tuple[int, float]]:
    """Indices (into ``lines``) of likely last address lines with a strength, best first:
    the first postcode line (1.0; 0.7 without its trailing state/country lines), a state/city
    line (0.6), or, failing both, the last address-like line before the first phone/tax line
    below a name line (0.4)."""
    ends: list[tuple[int, float]] = []
    for i, (_, line) in enumerate(lines):
        st = line.strip()
        if NOT_ADDRESS_RE.search(st) or REGNO_RE.match(st) or DATE_LIKE_RE.search(st):
            continue
        if _letters(st) < 3 or is_noise(st) or CODE_NUMBER_RE.match(st):
            continue  # a bare number ("3 180048"), a registration number or noise
        if has_postcode(st):
            j = i
            while j + 1 < len(lines) and j - i < 2 and _is_tail(lines[j + 1][1]):
                j += 1
            ends.append((j, 1.0))
            if j != i:
                ends.append((i, 0.7))
            return ends
        if STATE_RE.search(st) and i > 0:
            ends.append((i, 0.6))
    if not ends:
        named = False
        for i, (_, line) in enumerate(lines):
            named = named or bool(LEGAL_RE.search(line))
            if named and i > 0 and NOT_ADDRESS_RE.search(line):
                if _is_address_line(lines[i - 1][1]):
                    ends.append((i - 1, 0.4))
                break
    return ends


@lru_cache(maxsize=16)
def address_blocks(text: str) -> list[tuple[int, int, float, int]]:
    """Address blocks as (first line index, last line index, strength, start offset) over the
    head's content lines, best first."""
    lines = _content_lines(text)[:ADDRESS_LINES]
    out: list[tuple[int, int, float, int]] = []
    for end, strength in _address_end(lines):
        first = end
        while first > 0 and end - first + 1 < MAX_ADDRESS_LINES:
            if _is_address_line(lines[first - 1][1]):
                first -= 1
            elif first > 1 and _is_city(lines[first - 1][1]) and _is_street(lines[first - 2][1]):
                first -= 2  # a bare city line ("Leeds") between the street and the postcode
            else:
                break
        # A single-line "block" that is itself not address-like is no address.
        if not (_is_address_line(lines[first][1]) or has_postcode(lines[first][1])):
            continue
        out.append((first, end, strength, lines[first][0]))
        if first < end:  # also offer the block one line shorter at the top (branch names)
            out.append((first + 1, end, strength - 0.2, lines[first + 1][0]))
    return out


def address_candidates(text: str, after: int = 0) -> list[Candidate]:
    """Address blocks after offset ``after`` (the seller's name), best first: ending at a
    postcode line (strength 1.0, plus trailing state/country lines), at a state/city line
    (0.6); each also proposed one line shorter at the top (strength - 0.2)."""
    lines = _content_lines(text)[:ADDRESS_LINES]
    out: list[Candidate] = []
    for first, end, strength, start in address_blocks(text):
        if start < after:
            continue
        s, _ = _trim(*lines[first])
        _, e = _trim(*lines[end])
        if s < e:
            out.append(Candidate(s, e, text[s:e], strength))
    out.sort(key=lambda c: -c.strength)
    return out


@lru_cache(maxsize=16)
def company_candidates(text: str) -> list[Candidate]:
    """Head lines that look like a seller's name, best first.

    Strength 1.0 (minus 0.05 per line down the page) for a head line with a legal form or
    business word, cut after the legal form; a short suffix line ("SDN BHD") is also proposed
    joined with the line above ("PASARAYA BORONG PINTAR\\nSDN BHD"), first when the line holds
    nothing but the suffix. Strength 0.8 for the nearest clean line above the address block
    (registration numbers skipped), 0.3 for the first clean head line.
    """
    head = _content_lines(text)[:HEAD_LINES]
    out: list[Candidate] = []
    for i, (start, line) in enumerate(head):
        if not (LEGAL_RE.search(line) and _letters(line) >= 3) or NOT_ADDRESS_RE.search(line):
            continue
        if has_postcode(line) and ADDRESS_WORD_RE.search(line):
            continue  # an address line mentioning a mall or market
        s, e = _name_span(start, line)
        own = Candidate(s, e, text[s:e], 1.0 - 0.05 * i)
        m = LEGAL_RE.search(line)
        words_before = len(text[s : start + m.start()].split()) if m else 0
        if i > 0 and len(line.split()) <= 3 and _letters(head[i - 1][1]) >= 4:
            ps = head[i - 1][0] + next(
                (k for k, ch in enumerate(head[i - 1][1]) if ch.isalnum()), 0
            )
            # A line of nothing but the legal form completes the line above, so the joined
            # name outranks that line's own candidate.
            above = 1.0 - 0.05 * (i - 1)
            joined = Candidate(
                ps, e, text[ps:e], above + 0.01 if words_before == 0 else own.strength - 0.01
            )
            out += [joined, own] if words_before == 0 else [own, joined]
        else:
            out.append(own)
    lines = _content_lines(text)[:ADDRESS_LINES]
    blocks = address_blocks(text)
    if blocks:
        k = blocks[0][0] - 1
        while k >= 0 and REGNO_RE.match(lines[k][1].strip()):
            k -= 1
        if k >= 0 and not is_noise(lines[k][1]) and not NOT_ADDRESS_RE.search(lines[k][1]):
            s, e = _name_span(*lines[k])
            if s < e:
                out.append(Candidate(s, e, text[s:e], 0.8))
    for start, line in head:
        if _letters(line) >= 4 and not REGNO_RE.match(line.strip()) and not is_noise(line):
            s, e = _trim(start, line)
            out.append(Candidate(s, e, text[s:e], 0.3))
            break
    seen: set[tuple[int, int]] = set()
    uniq = []
    for c in sorted(out, key=lambda c: -c.strength):
        if (c.start, c.end) not in seen:
            seen.add((c.start, c.end))
            uniq.append(c)
    return uniq


# OCR confusions inside legal forms ("SON BHD", "SDN BHO", "5DN BHD"): the legal form is a
# closed vocabulary, so a misread one is repaired the way a spelling corrector would.
_LEGAL_REPAIRS = (
    (re.compile(r"\b[S5][O0D][NH]\.?(\s*,?\s*)B[HN][DO0]\b"), r"SDN\1BHD"),
    (re.compile(r"\bB[HN][O0]\b(?=\s*\.?\s*$)"), "BHD"),
)


def repair_legal_form(name: str) -> str:
    """A seller's name with OCR-garbled upper-case legal forms repaired ("SON BHD" ->
    "SDN BHD"); everything else unchanged."""
    for pattern, repl in _LEGAL_REPAIRS:
        name = pattern.sub(repl, name)
    return name
