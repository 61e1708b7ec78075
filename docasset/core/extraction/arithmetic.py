"""Arithmetic checks of a total: does the rest of the document add up to it?

Receipts and invoices print the parts of their total: a subtotal plus tax (and service charge,
rounding, minus discount), the cash handed over minus the change, the item amounts, and the
total itself on several lines. :func:`amount_facts` reads the labelled amounts of a text once;
:func:`check_total` says how many independent relations agree with a candidate total and
whether one contradicts it (another printed amount is what the parts add up to, and nothing
supports the candidate). Agreement is evidence for the confidence model; a contradiction blocks
the field (``total_inconsistent``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from itertools import combinations

from docasset.core.extraction.fields import parse_amount
from docasset.core.extraction.rules import NOT_TOTAL_RE, TOTAL_KEYWORD_RE
from docasset.core.ocr.text import lines_with_offsets

# An amount, also with its decimals split off by the OCR ("14. 65", "0. 01").
LINE_AMOUNT_RE = re.compile(r"(?<![\d.,])\d{1,3}(?:,?\d{3})*[.,] ?\d{2}(?![\d.,]*\d)")
TOLERANCE = Decimal("0.005")  # amounts are in cents: equal to the cent
SUBTOTAL_RE = re.compile(
    r"sub\s*-?\s*t[o0]tal|total\s*(excl|exclusive|before|w/?o)|t[o0]tal\s*sales?\s*\(?excl"
    r"|nett?\s*amount\s*\(?excl|amount\s*\(?excl",
    re.I,
)
TAX_RE = re.compile(
    r"\b(gst|sst|tax|vat|mwst|serv(ice|\.)?\s*(charge|chg|tax)|svc|s\.?c\.?)\b", re.I
)
# "TOTAL TAX 8.68": the tax, though its label says total ("TOTAL INCL GST" is the total).
TAX_TOTAL_RE = re.compile(r"\btotal\s*(gst|sst|tax|vat)\b(?!\s*incl)", re.I)
ROUNDING_RE = re.compile(r"round|rnd|\badj\b|adjustment", re.I)
DISCOUNT_RE = re.compile(r"disc|less\b|voucher|coupon|promo", re.I)
CASH_RE = re.compile(r"\b(cash|tender\w*|paid|received|payment|card|visa|master)\b", re.I)
CHANGE_RE = re.compile(r"\b(change|balance)\b(?!\s*due)", re.I)
# Item lines stop at the first summary line (subtotal/total/tax/payment).
SUMMARY_RE = re.compile(r"total|jumlah|gst|tax|cash|change|round|amount|due|payable", re.I)
MAX_ITEMS = 40


@dataclass(frozen=True)
class AmountFacts:
    """The labelled amounts of one document (the last amount of each labelled line)."""

    subtotals: tuple[Decimal, ...] = ()
    taxes: tuple[Decimal, ...] = ()
    roundings: tuple[Decimal, ...] = ()  # signed when the document prints the sign
    rounding_signed: bool = False
    discounts: tuple[Decimal, ...] = ()
    cash: tuple[Decimal, ...] = ()
    change: tuple[Decimal, ...] = ()
    items: tuple[Decimal, ...] = ()
    totals_printed: tuple[Decimal, ...] = ()  # amounts on total-keyword lines
    all_amounts: frozenset[Decimal] = field(default_factory=frozenset)


def _signed(line: str, m: re.Match[str], value: Decimal) -> tuple[Decimal, bool]:
    before, after = line[: m.start()].rstrip(), line[m.end() :].lstrip()
    if before.endswith(("-", "(")) or after.startswith(("-", ")")):
        return -value, True
    return value, before.endswith("+")


@lru_cache(maxsize=16)
def amount_facts(text: str) -> AmountFacts:
    """Read the labelled amounts of a document text."""
    subs: list[Decimal] = []
    taxes: list[Decimal] = []
    rounds: list[Decimal] = []
    signed = False
    discs: list[Decimal] = []
    cash: list[Decimal] = []
    change: list[Decimal] = []
    items: list[Decimal] = []
    totals: list[Decimal] = []
    every: set[Decimal] = set()
    in_items = True
    for _, line in lines_with_offsets(text):
        matches = list(LINE_AMOUNT_RE.finditer(line))
        if not matches:
            continue
        m = matches[-1]
        value = parse_amount(m.group(0))
        if value is None:
            continue
        every.update(v for v in (parse_amount(x.group(0)) for x in matches) if v is not None)
        label = line[: matches[0].start()]
        if SUMMARY_RE.search(label) or SUBTOTAL_RE.search(label):
            in_items = False
        if SUBTOTAL_RE.search(label):
            subs.append(value)
        elif ROUNDING_RE.search(label):
            v, s = _signed(line, m, value)
            rounds.append(v)
            signed = signed or s
        elif DISCOUNT_RE.search(label):
            discs.append(value)
        elif CHANGE_RE.search(label):
            change.append(value)
        elif CASH_RE.search(label):
            cash.append(value)
        elif TAX_RE.search(label) and (
            not TOTAL_KEYWORD_RE.search(label) or TAX_TOTAL_RE.search(label)
        ):
            taxes.append(value)
        elif TOTAL_KEYWORD_RE.search(label) and not NOT_TOTAL_RE.search(label):
            totals.append(value)
        elif in_items and len(items) < MAX_ITEMS and any(c.isalpha() for c in label):
            items.append(value)
    return AmountFacts(
        tuple(subs),
        tuple(dict.fromkeys(taxes)),
        tuple(rounds),
        signed,
        tuple(discs),
        tuple(cash),
        tuple(change),
        tuple(items),
        tuple(totals),
        frozenset(every),
    )


def implied_totals(facts: AmountFacts) -> list[tuple[str, Decimal]]:
    """(relation, value) for every total the document's parts add up to: ``sum`` (a subtotal
    plus tax/service and rounding, minus discount: subsets of the printed parts; an unsigned
    rounding either way), ``tender`` (cash minus change) and ``items`` (the item amounts, when
    at least two and neither subtotal nor tax is printed: the items add up to the subtotal)."""
    out: list[tuple[str, Decimal]] = []
    parts: list[Decimal] = list(facts.taxes[:2]) + [-d for d in facts.discounts[:1]]
    rounding: list[Decimal] = [Decimal(0)]
    if facts.roundings:
        r = facts.roundings[-1]
        rounding += [r] if facts.rounding_signed else [r, -r]
    for s in facts.subtotals[-2:]:
        for k in range(len(parts) + 1):
            for combo in combinations(parts, k):
                for r in rounding:
                    if combo or r:
                        out.append(("sum", s + sum(combo) + r))
    for c in facts.cash[-1:]:
        for g in facts.change[-1:]:
            if c > g:
                out.append(("tender", c - g))
    if len(facts.items) >= 2 and not facts.subtotals and not facts.taxes:
        out.append(("items", sum(facts.items, Decimal(0))))
    return out


def check_total(text: str, value: str | None) -> tuple[int, str | None]:
    """(number of relations agreeing with the total ``value``, contradiction detail or None).

    A contradiction, whatever agrees: the subtotal with every printed part applied, or the cash
    minus the change, gives another amount the document prints on a total line (the candidate
    is an intermediate or partial amount). When no relation agrees: two independent relations
    (a subtotal plus its parts, cash minus change, the items) give one other amount; a subtotal
    plus some printed parts gives an amount printed on a total line (a misread or mis-picked
    total, not a missing part); the value is below a subtotal less the printed discounts; or
    the value plus the printed (signed) rounding is printed on a total line."""
    total = parse_amount(value) if value else None
    if total is None:
        return 0, None
    facts = amount_facts(text)
    implied = implied_totals(facts)
    # Every printed part applied gives the final total: when it is printed on a total line,
    # a candidate some of the parts add up to is an intermediate amount (after a discount,
    # before the service charge and tax).
    full = _all_parts(facts)
    if full is not None and _printed_total(facts, full) and abs(full - total) > TOLERANCE:
        return 0, f"subtotal + every printed part gives {full:.2f}, not {total:.2f}"
    agree = {rel for rel, v in implied if abs(v - total) <= TOLERANCE}
    if not agree and not facts.taxes and any(abs(s - total) <= TOLERANCE for s in facts.subtotals):
        agree.add("sum")  # no tax printed: the subtotal is the total
    # Cash minus change is what was paid: when it is printed on a total line and differs, the
    # candidate is a pre-rounding or partial amount, whatever else adds up to it.
    for rel, v in implied:
        if rel == "tender" and _printed_total(facts, v) and abs(v - total) > TOLERANCE:
            return 0, f"cash - change gives {v:.2f}, printed on a total line, not {total:.2f}"
    if agree:
        return len(agree), None
    # Two independent relations giving one other amount: the candidate is not the total.
    by_value: dict[Decimal, set[str]] = {}
    for rel, v in implied:
        by_value.setdefault(v, set()).add(rel)
    for v, rels in by_value.items():
        if len(rels) >= 2 and v > 0:
            return 0, f"{' and '.join(sorted(rels))} both give {v:.2f}, not {total:.2f}"
    for rel, v in implied:
        if rel == "sum" and v > 0 and _printed_total(facts, v) and abs(v - total) > TOLERANCE:
            return 0, f"subtotal + parts give {v:.2f}, printed on a total line, not {total:.2f}"
    # Nothing is taken off a subtotal but the printed discounts: a total below what they leave
    # is an item, the tax or a misread.
    if facts.subtotals:
        floor = max(facts.subtotals) - sum(facts.discounts, Decimal(0))
        if total < floor - TOLERANCE:
            off = f" less discounts {floor:.2f}" if facts.discounts else f" {floor:.2f}"
            return 0, f"{total:.2f} is below the subtotal{off}"
    # The amount before the rounding adjustment, the rounded total printed below it.
    if facts.rounding_signed and facts.roundings:
        rounded = total + facts.roundings[-1]
        if rounded != total and _printed_total(facts, rounded):
            return 0, f"rounding gives {rounded:.2f}, printed on a total line, not {total:.2f}"
    return 0, None


def _all_parts(facts: AmountFacts) -> Decimal | None:
    """The last subtotal plus every printed tax and charge, minus every discount, plus the
    signed rounding; None without a subtotal or without a part beside it."""
    if not facts.subtotals or not (facts.taxes or facts.discounts):
        return None
    rounding = facts.roundings[-1] if facts.rounding_signed and facts.roundings else Decimal(0)
    return (
        facts.subtotals[-1]
        + sum(facts.taxes, Decimal(0))
        - sum(facts.discounts, Decimal(0))
        + rounding
    )


def _printed_total(facts: AmountFacts, value: Decimal) -> bool:
    return any(abs(value - t) <= TOLERANCE for t in facts.totals_printed)
