"""Stable vendor keys printed on a document: what identifies a vendor better than its name.

A receipt or invoice prints identifiers that do not change with the OCR's reading of the
shop's name: a tax registration (``GST ID: 000123456789``, ``SST``, ``VAT``), a company
registration number (Malaysian ``(123456-X)``, ``CO. REG: 933109-X``, ``ROC NO.``, a sole
proprietor's ``(JM0517726)``), telephone and fax numbers, an e-mail or web domain. Each is
read from the OCR text as a :class:`VendorKey` whose ``value`` is normalised (digits, upper
case, no punctuation), so that two readings of one key compare equal.

Strength (:data:`STRENGTH`): registrations identify a vendor (``3``); a phone identifies a
branch of it (``2``); a domain is shared by a chain's branches (``1``); the normalised name
(:func:`name_key`) is the weakest key (``0``) and is matched by the registry, not read here.

A document type may instead name its vendor identifier in its YAML (``vendor:``,
:class:`~docasset.core.extraction.fields.HeaderVendor`: a US station's call sign at the top of
an ad order): :func:`document_keys` then reads that one key (kind ``header_id``, a
registration's strength) from the header and nothing else (an ad order also prints the
agency's and the advertiser's phones, which are no key of the station).

Pure functions; the patterns were chosen on SROIE ids 000-099 (``evals/vendor_keys.py``), the
call sign's on vrdu-dev's first 100 documents (``evals/vendor_ids.py``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from docasset.core.extraction.fields import KEY_GROUP, DocType, HeaderVendor

KeyKind = str  # tax_id | company_no | header_id | phone | email | web | name
HEADER_ID = "header_id"  # the type's own identifier read from the header (``HeaderVendor``)
STRENGTH: dict[str, int] = {
    "tax_id": 3,
    HEADER_ID: 3,
    "company_no": 3,
    "phone": 2,
    "email": 1,
    "web": 1,
    "name": 0,
}
KEY_KINDS: tuple[str, ...] = tuple(STRENGTH)
HEADER_LINES = 12  # where a receipt prints its seller (bare company numbers count only here)
FREE_MAIL = ("gmail", "yahoo", "hotmail", "outlook", "live", "icloud", "ymail", "aol")

# A tax registration after its label (GST/SST in Malaysia, VAT, the German USt-IdNr., ...):
# digits, after an optional EU country prefix ("GB 284 5512 09", "DE284415730"), on the
# label's line (a "TAX" column header above an item's barcode is no label).
_TAX_RE = re.compile(
    r"(?<![A-Z])(?:GST|SST|VAT|TAX|TVA(?:\s*INTRACOM)?|IVA|BTW|UID|ABN|UST-?\s?ID(?:NR)?)"
    r"[ \t]*[.-]?[ \t]*(?:(?:REG(?:ISTRATION)?|ID|NO|NR|NUMBER|N0)[ \t]*\.?[ \t]*){0,3}"
    r"[:#.]?[ \t]*\(?[ \t]*((?:[A-Z]{2} ?)?[A-Z]?\d[\d\- ]{6,20}\d)",
    re.I,
)
_CO_LABEL_RE = re.compile(
    r"(?:CO(?:MPANY)?\s*\.?\s*(?:REG(?:ISTRATION)?|NO)\s*\.?\s*(?:NO\s*\.?)?|ROC\s*NO\s*\.?"
    r"|BUSINESS\s*REG(?:ISTRATION)?\s*(?:NO)?\.?)\s*[:.]?\s*\(?\s*(\d[\d\-]{3,14}\s*-?\s*[A-Z]?)",
    re.I,
)
# "(123456-X)", "(001451637-M)", "(1074617K)" anywhere; "789417-W" alone in the header.
_CO_PAREN_RE = re.compile(r"\(\s*(\d{4,12})\s*[-.]?\s*([A-Z])\s*\)")
_CO_BARE_RE = re.compile(r"(?<![\w-])(\d{5,12})\s?-\s?([A-Z])(?![\w])")
_CO_SOLE_RE = re.compile(r"\(\s*([A-Z]{2}\d{7}\s*-?\s*[A-Z]?)\s*\)")
_PHONE_RE = re.compile(
    r"(?<![A-Z])(?:TEL(?:EPHONE)?|PHONE|PH|HP|H/P|FAX|MOBILE|T|F)\s*(?:/\s*FAX)?\s*(?:NO)?\s*\.?"
    r"[ \t]*[:.]?[ \t]*(\+?\(?\d[\d \t\-()]{6,16}\d)",
    re.I,
)
# A number alone on a header line: a phone ("07-355 2616"), or a Malaysian GST number
# (12 digits, "002105827328") printed without its label.
_BARE_PHONE_RE = re.compile(r"^[ \t]*(0\d{1,2})\s?-\s?(\d{3,4})\s?-?\s?(\d{4})[ \t]*$", re.M)
_BARE_GST_RE = re.compile(r"^[ \t]*\(?(00[0-2]\d{9})\)?[ \t]*$", re.M)
# The domain ends in a letter TLD: "2 @ 17.90" (a price) is no address.
_EMAIL_RE = re.compile(
    r"([\w.+-]+)\s?@\s?([A-Za-z][\w-]*(?:\s?\.\s?[\w-]+)*\s?\.\s?[A-Za-z]{2,6})\b"
)
_WEB_RE = re.compile(r"W{3}\s?\.\s?([\w-]+(?:\s?\.\s?[A-Za-z]{2,6})+)", re.I)


@dataclass(frozen=True)
class VendorKey:
    """A stable key read from a document: ``kind`` (see :data:`KEY_KINDS`), its normalised
    ``value``, and where it is printed (``start``/``end`` in the text; -1 when not read)."""

    kind: KeyKind
    value: str
    start: int = -1
    end: int = -1

    @property
    def ident(self) -> str:
        """``kind:value``, how a key is stored and shown."""
        return f"{self.kind}:{self.value}"

    @property
    def strength(self) -> int:
        return STRENGTH.get(self.kind, 0)


def parse_ident(ident: str) -> tuple[str, str]:
    """``(kind, value)`` of a ``kind:value`` key (a ``ValueError`` on a malformed one)."""
    kind, sep, value = ident.partition(":")
    if not sep or kind not in STRENGTH or not value:
        raise ValueError(f"not a vendor key {ident!r} (expected kind:value, kinds {KEY_KINDS})")
    return kind, value


def normalise(kind: str, raw: str) -> str | None:
    """The normalised value of a key as printed (None when nothing identifying is left)."""
    if kind == "tax_id":
        v = re.sub(r"[^A-Z0-9]", "", raw.upper())
        return v if sum(c.isdigit() for c in v) >= 8 else None
    if kind == "company_no":
        v = re.sub(r"[^A-Z0-9]", "", raw.upper())
        if v[:2].isalpha():  # a sole proprietor's JM0517726: letters are part of it
            return v[:9]
        digits = "".join(c for c in v if c.isdigit()).lstrip("0")
        return digits if len(digits) >= 4 else None
    if kind == "phone":
        digits = "".join(c for c in raw if c.isdigit())
        if digits.startswith("60") and len(digits) >= 10:  # +60 3-...: the national form
            digits = "0" + digits[2:]
        return digits if 8 <= len(digits) <= 12 else None
    if kind == HEADER_ID:
        v = "".join(raw.split()).upper()
        return v or None
    if kind in ("email", "web"):
        v = re.sub(r"\s+", "", raw.lower()).strip(".")
        return v or None
    if kind == "name":
        return name_key(raw) or None
    raise ValueError(f"unknown vendor key kind {kind!r}")


def letters_and_digits(name: str) -> str:
    """Upper-case letters and digits of ``name``, single-spaced (the correction memory's key)."""
    return " ".join(re.sub(r"[^A-Z0-9]+", " ", name.upper()).split())


def name_key(name: str) -> str:
    """A vendor name as a key: NFKC, then :func:`letters_and_digits`."""
    return letters_and_digits(unicodedata.normalize("NFKC", name))


def _first_phone(raw: str) -> str:
    """The first number of ``03-9201 6281/6920`` or ``03-80709188 / 80757830``."""
    return re.split(r"/|\bFAX\b|\bF\b", raw, maxsplit=1, flags=re.I)[0]


def extract_keys(text: str) -> list[VendorKey]:
    """Every stable key printed in ``text``, strongest first, each (kind, value) once."""
    found: list[VendorKey] = []
    header_end = _header_end(text)

    def add(kind: str, raw: str, m: re.Match[str], group: int = 1) -> None:
        value = normalise(kind, raw)
        if value:
            found.append(VendorKey(kind, value, m.start(group), m.end(group)))

    for m in _TAX_RE.finditer(text):
        add("tax_id", m.group(1), m)
    for m in _BARE_GST_RE.finditer(text[:header_end]):
        add("tax_id", m.group(1), m)
    for m in _CO_LABEL_RE.finditer(text):
        add("company_no", m.group(1), m)
    for m in _CO_PAREN_RE.finditer(text):
        add("company_no", m.group(1), m)
    for m in _CO_SOLE_RE.finditer(text):
        add("company_no", m.group(1), m)
    for m in _CO_BARE_RE.finditer(text[:header_end]):
        add("company_no", m.group(1), m)
    for m in _PHONE_RE.finditer(text):
        add("phone", _first_phone(m.group(1)), m)
    for m in _BARE_PHONE_RE.finditer(text[:header_end]):
        add("phone", "".join(m.groups()), m, 0)
    for m in _EMAIL_RE.finditer(text):
        user, domain = m.group(1), re.sub(r"\s+", "", m.group(2))
        free = domain.split(".")[0].lower() in FREE_MAIL
        add("email", f"{user}@{domain}" if free else domain, m, 0)
    for m in _WEB_RE.finditer(text):
        add("web", m.group(1), m)
    # A tax id is also read by the bare company-number pattern ("GST: 001-234567-X" is rare,
    # but a company number inside a tax id is never a second key).
    taxes = [k for k in found if k.kind == "tax_id"]
    out: dict[tuple[str, str], VendorKey] = {}
    for k in found:
        inside = k.kind != "tax_id" and any(t.start <= k.start < t.end for t in taxes)
        if not inside and (k.kind, k.value) not in out:
            out[(k.kind, k.value)] = k
    return sorted(out.values(), key=lambda k: (-k.strength, k.start))


def header_key(spec: HeaderVendor, text: str) -> VendorKey | None:
    """The type's vendor identifier in ``text`` (:class:`HeaderVendor`): the first match of its
    pattern in the first ``header_lines`` lines that is no stop word, as a ``header_id`` key
    (its ``key`` group, normalised; ``start``/``end``: the whole match, what is printed)."""
    stops = {w.upper() for w in spec.stop_words}
    for m in spec.regex.finditer(text, 0, _header_end(text, spec.header_lines)):
        if m.group(0).upper() in stops:
            continue
        raw = m.group(KEY_GROUP) if KEY_GROUP in spec.regex.groupindex else m.group(0)
        value = normalise(HEADER_ID, raw or "")
        if value:
            return VendorKey(HEADER_ID, value, m.start(), m.end())
    return None


def header_vendor(doctype: DocType, text: str) -> str | None:
    """The vendor identifier as printed in the header ("KCNC-TV"), None when the type has no
    ``vendor:`` or the header prints none."""
    if doctype.vendor is None:
        return None
    k = header_key(doctype.vendor, text)
    return text[k.start : k.end] if k is not None else None


def document_keys(doctype: DocType | None, text: str) -> list[VendorKey]:
    """The vendor keys of a document of ``doctype``: its header identifier when the type
    configures one (none when the header prints none), else every key :func:`extract_keys`
    reads (receipts, invoices)."""
    if doctype is None or doctype.vendor is None:
        return extract_keys(text)
    k = header_key(doctype.vendor, text)
    return [k] if k is not None else []


def _header_end(text: str, lines: int = HEADER_LINES) -> int:
    """Offset where the first ``lines`` lines end."""
    pos = 0
    for _ in range(lines):
        nxt = text.find("\n", pos)
        if nxt < 0:
            return len(text)
        pos = nxt + 1
    return pos
