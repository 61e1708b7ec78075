"""Vendor history: what operators typed for a recognised vendor, as evidence about a field.

The correction memory (``docasset.core.validation.memory``) recognises the vendor of a
document and hands extraction a :class:`VendorHistory`: the remembered values found again in
this text (``hits``, with the memory entry and how many corrections typed the value) and every
value the vendor's stable fields were typed with (``known``). Extraction then, per field:

- a remembered stable value found in the text *confirms* the model's value (same value) or
  *fills* the field (another value); it is accepted by the history alone when operators typed
  it at least ``history_min_support`` times and consistently: among the vendor's typed values
  with the same letters and digits, this very value (ignoring case and spacing) has a share of
  at least the field precision target (operators type a vendor's address with varying
  punctuation, and exact-match accuracy cannot beat that share), and, when found only fuzzily,
  with the same digits as the text it matched (another branch's address differs in numbers);
- a remembered value found only fuzzily that the history does not accept is to check
  (``history_fuzzy``): the model's confidence scored the printed span, not that value;
- a remembered total keyword's amount is scored by the model's confidence model like any
  candidate: it goes through the model's threshold, not a fixed memory confidence;
- a stable field of a recognised vendor whose value matches none of the values typed for the
  vendor (at least ``history_min_support`` times) is blocked (``history_conflict``), whatever
  its confidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STABLE_FIELDS = ("company", "vendor", "address", "vat_id", "iban")


@dataclass(frozen=True)
class HistoryHit:
    """A remembered value found in the document: ``kind`` value (the field's typed value) or
    anchor (the amount after the vendor's remembered total keyword)."""

    field: str
    value: str
    start: int
    end: int
    entry_id: str
    support: int
    kind: str = "value"
    exact: bool = False  # printed exactly (ignoring case and spacing), not only fuzzily


@dataclass(frozen=True)
class VendorHistory:
    """The recognised vendor's remembered values for one document."""

    vendor: str
    hits: dict[str, HistoryHit] = field(default_factory=dict)
    known: dict[str, dict[str, int]] = field(default_factory=dict)  # field -> value -> support


def squash(value: str) -> str:
    """Case- and whitespace-free form (how history values are compared)."""
    return "".join(value.split()).lower()


def alnum(value: str) -> str:
    """Letters and digits only, lower case (what punctuation variants share)."""
    return "".join(ch for ch in value.lower() if ch.isalnum())


def consistency(history: VendorHistory, name: str, value: str) -> float:
    """Share of the vendor's corrections typing ``name`` with ``value``'s letters and digits
    that typed exactly ``value`` (ignoring case and spacing); 0 when none did."""
    typed = history.known.get(name, {})
    same = {v: n for v, n in typed.items() if alnum(v) == alnum(value)}
    total = sum(same.values())
    exact = sum(n for v, n in same.items() if squash(v) == squash(value))
    return exact / total if total else 0.0


def contradicts(history: VendorHistory, name: str, value: str | None, min_support: int) -> bool:
    """Whether a stable field's value matches none of the vendor's well-supported values."""
    if name not in STABLE_FIELDS or value is None:
        return False
    known = {squash(v) for v, n in history.known.get(name, {}).items() if n >= min_support}
    return bool(known) and squash(value) not in known
