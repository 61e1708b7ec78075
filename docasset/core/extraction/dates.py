"""Evidence about a date (and a total) that a confident model cannot see: misread years and days.

The silent errors of #21 were OCR misreads a calibrated confidence scored high: ``2013`` for
``2018``, ``13`` for ``18``, ``2014`` for ``2016``, ``Jun/2618`` (read as 26 June 2018). Each
check here is a named blocker that sends the field to a person (:func:`date_checks`):

- ``date_implausible``: the printed text is no plausible date however it parses (a digit group
  that is neither a day/month nor a year, e.g. ``2618``);
- ``date_in_future``: after the document's arrival (a day of slack for time zones);
- ``date_far_from_arrival``: further from the arrival than ``window_days`` (0: off; replays of
  old receipts and the demo's fixtures have no real arrival);
- ``date_outside_vendor_history``: the vendor's corrected documents (the registry's dates, at
  least ``MIN_VENDOR_DATES`` of them) are all dated within some years, and this date's year is
  more than ``VENDOR_YEAR_SLACK`` outside them;
- ``date_printed_differently``: the document prints another date that differs from the chosen
  one in one or two characters (the same date printed twice, one reading misread);
- ``ocr_engines_disagree`` (:func:`engines_disagree`, dates and amounts): a second OCR engine's
  reading of the document does not contain the value where it has values of that type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from docasset.core.extraction.fields import MAX_YEAR, MIN_YEAR, parse_amount, parse_date
from docasset.core.extraction.routing import Blocker
from docasset.core.extraction.rules import AMOUNT_RE, rule_candidates

MIN_VENDOR_DATES = 2
VENDOR_YEAR_SLACK = 1
FUTURE_SLACK = timedelta(days=1)


@dataclass(frozen=True)
class DateContext:
    """What a document's dates are checked against."""

    arrival: date | None = None  # when the document arrived (None: unknown, no check)
    window_days: int = 0  # 0: no window around the arrival
    vendor_dates: tuple[str, ...] = ()  # ISO dates of the vendor's corrected documents
    other_reading: str | None = None  # a second OCR engine's text of the document


def implausible_text(value: str) -> str | None:
    """Why the printed text is no plausible date (None: it is): a digit group that is neither
    a 1-2 digit day/month, a year in range, nor a compact 6/8-digit date."""
    for g in re.findall(r"\d+", re.sub(r"\d{1,2}:\d{2}(:\d{2})?", "", value)):
        if len(g) <= 2 or len(g) in (6, 8):
            continue
        if len(g) == 4 and MIN_YEAR <= int(g) <= MAX_YEAR:
            continue
        return f"{g!r} is neither a day, a month nor a year in {MIN_YEAR}-{MAX_YEAR}"
    return None


def arrival_problem(d: date, ctx: DateContext) -> tuple[str, str] | None:
    """(blocker kind, detail) when ``d`` is after the arrival or outside the window."""
    if ctx.arrival is None:
        return None
    if d > ctx.arrival + FUTURE_SLACK:
        return "date_in_future", f"{d.isoformat()} is after the arrival {ctx.arrival.isoformat()}"
    if ctx.window_days > 0 and abs((d - ctx.arrival).days) > ctx.window_days:
        return "date_far_from_arrival", (
            f"{d.isoformat()} is {abs((d - ctx.arrival).days)} days from the arrival "
            f"{ctx.arrival.isoformat()} (window {ctx.window_days})"
        )
    return None


def vendor_year_problem(d: date, vendor_dates: tuple[str, ...]) -> str | None:
    """Why ``d``'s year does not fit the vendor's corrected documents (None: it does, or too
    few of them)."""
    years = sorted({int(x[:4]) for x in vendor_dates if x[:4].isdigit()})
    if len(vendor_dates) < MIN_VENDOR_DATES or not years:
        return None
    lo, hi = years[0] - VENDOR_YEAR_SLACK, years[-1] + VENDOR_YEAR_SLACK
    if lo <= d.year <= hi:
        return None
    span = f"{years[0]}" if years[0] == years[-1] else f"{years[0]}-{years[-1]}"
    return f"{d.year}: the vendor's {len(vendor_dates)} corrected documents are dated {span}"


def _near(a: str, b: str) -> bool:
    """Same length, one or two characters apart (a misread of one print of the date)."""
    a, b = "".join(a.split()), "".join(b.split())
    return len(a) == len(b) and 0 < sum(x != y for x, y in zip(a, b, strict=True)) <= 2


def printed_twice_problem(value: str, text: str) -> str | None:
    """Another date printed in ``text`` one or two characters from ``value`` that parses to
    another day: the same date printed twice, read two ways."""
    mine = parse_date(value)
    for c in rule_candidates("date", "date", text):
        other = parse_date(c.text)
        if other is not None and other != mine and _near(c.text, value):
            return f"also printed as {c.text!r}"
    return None


def engines_disagree(kind: str, value: str, other_reading: str | None) -> str | None:
    """Why a second OCR engine's reading contradicts ``value`` (a ``date`` or an ``amount``):
    it reads values of that type but not this one. None without a second reading."""
    if other_reading is None:
        return None
    if kind == "date":
        want = parse_date(value)
        found = {parse_date(c.text) for c in rule_candidates("date", "date", other_reading)}
    elif kind == "amount":
        want_a = parse_amount(value)
        got = {parse_amount(m.group(0)) for m in AMOUNT_RE.finditer(other_reading)}
        if want_a is None or not (got - {None}) or want_a in got:
            return None
        return f"the other OCR engine reads no {want_a:.2f}"
    else:
        return None
    found.discard(None)
    if want is None or not found or want in found:
        return None
    seen = ", ".join(sorted(d.isoformat() for d in found if d is not None))[:60]
    return f"the other OCR engine reads {seen}"


def date_checks(
    name: str,
    value: str | None,
    text: str,
    ctx: DateContext,
    issue_date: bool = True,
    single_date: bool = True,
) -> list[Blocker]:
    """Every date blocker of the module docstring for a date field's value. ``issue_date``:
    the field is the document's own date (its type's first date field): a due date lies
    after the arrival by design, so the arrival checks apply to the issue date only;
    ``single_date``: the type has one date field (an invoice prints its date and due date,
    often one character apart: the printed-twice check is for single-date types)."""
    if value is None:
        return []
    out: list[Blocker] = []
    if why := implausible_text(value):
        out.append(Blocker("date_implausible", name, why))
    d = parse_date(value)
    if d is None:
        return out
    if issue_date and (arrival := arrival_problem(d, ctx)):
        out.append(Blocker(arrival[0], name, arrival[1]))  # type: ignore[arg-type]
    if why := vendor_year_problem(d, ctx.vendor_dates):
        out.append(Blocker("date_outside_vendor_history", name, why))
    if single_date and (why := printed_twice_problem(value, text)):
        out.append(Blocker("date_printed_differently", name, why))
    if why := engines_disagree("date", value, ctx.other_reading):
        out.append(Blocker("ocr_engines_disagree", name, why))
    return out
