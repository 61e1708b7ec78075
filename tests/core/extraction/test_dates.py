from __future__ import annotations

from datetime import date

from docasset.core.extraction.dates import (
    DateContext,
    date_checks,
    engines_disagree,
    implausible_text,
    printed_twice_problem,
    vendor_year_problem,
)


def kinds(value: str, text: str = "", **ctx) -> list[str]:
    return [b.kind for b in date_checks("date", value, text or value, DateContext(**ctx))]


def test_date_text_that_only_parses_by_gluing_digits_is_implausible() -> None:
    assert implausible_text("Jun/2618") is not None  # parses as 26 June 2018
    assert kinds("Jun/2618") == ["date_implausible"]
    for ok in ("25/12/2018", "2018-12-25", "25 DEC 2018 8:13:39", "20181225", "5/1/18"):
        assert implausible_text(ok) is None, ok


def test_a_date_after_the_arrival_or_outside_the_window_is_checked() -> None:
    arrival = date(2018, 3, 10)
    assert kinds("11/03/2018", arrival=arrival) == []  # a day of slack
    assert kinds("12/03/2018", arrival=arrival) == ["date_in_future"]
    assert kinds("10/03/2013", arrival=arrival) == []  # no window: off
    assert kinds("10/03/2013", arrival=arrival, window_days=120) == ["date_far_from_arrival"]
    assert kinds("01/01/2018", arrival=arrival, window_days=120) == []
    assert kinds("12/03/2030") == []  # no arrival known: nothing to compare


def test_a_year_outside_the_vendors_history_is_checked() -> None:
    history = ("2018-01-05", "2018-03-01", "2017-12-30")
    assert vendor_year_problem(date(2013, 3, 1), history) is not None
    assert kinds("01/03/2013", vendor_dates=history) == ["date_outside_vendor_history"]
    assert kinds("01/03/2019", vendor_dates=history) == []  # within a year of the history
    assert kinds("01/03/2013", vendor_dates=history[:1]) == []  # one date is no history


def test_the_same_date_printed_twice_and_read_two_ways_is_checked() -> None:
    text = "DATE: 13/03/2018\nTHANK YOU\n18/03/2018 20:49"
    assert printed_twice_problem("13/03/2018", text) == "also printed as '18/03/2018'"
    assert "date_printed_differently" in kinds("13/03/2018", text)
    assert printed_twice_problem("18/03/2018", "DATE 18/03/2018\n18/03/2018 20:49") is None
    # Two different dates (an order and a delivery date) are not one date misread.
    assert printed_twice_problem("01/02/2018", "01/02/2018\nDUE 15/03/2018") is None


def test_a_second_ocr_engine_reading_another_value_is_a_disagreement() -> None:
    assert engines_disagree("date", "25/12/2013", "DATE 25/12/2018 TOTAL 9.00") is not None
    assert kinds("25/12/2013", other_reading="DATE 25/12/2018") == ["ocr_engines_disagree"]
    assert engines_disagree("date", "25/12/2018", "DATE 25/12/2018") is None
    assert engines_disagree("date", "25/12/2018", "no date read") is None  # no evidence
    assert engines_disagree("date", "25/12/2018", None) is None
    assert engines_disagree("amount", "9.00", "TOTAL 8.00 CASH 10.00") is not None
    assert engines_disagree("amount", "9.00", "TOTAL 9.00") is None


def test_a_due_date_is_not_checked_against_the_arrival_nor_as_the_date_printed_twice() -> None:
    ctx = DateContext(arrival=date(2024, 2, 2))
    text = "Invoice date 01.02.2024\nDue date 01.03.2024"
    due = date_checks("due_date", "01.03.2024", text, ctx, issue_date=False, single_date=False)
    assert due == []
    issued = date_checks("invoice_date", "01.03.2024", text, ctx, single_date=False)
    assert [b.kind for b in issued] == ["date_in_future"]
