from __future__ import annotations

from docasset.core.extraction.fields import load_doctype
from docasset.core.extraction.rules import find_dates, find_totals
from docasset.core.training.align import align_document, align_value

TEXT = (
    "BOOK TA .K (TAMAN DAYA) SDN BND\n789417-W\nNO.53 55,57 & 59, JALAN SAGU 18,\nTAMAN DAYA,\n"
    "81100 JOHOR BAHRU,\nJOHOR.\nDATE: 25/12/2018 8:13:39 PM\nSUB TOTAL 8.49\nTOTAL QTY 2\n"
    "ROUNDED TOTAL (RM): 9.00\nCASH 10.00\nCHANGE 1.00"
)
RECEIPT = load_doctype("receipt")


def test_rules_find_dates_and_the_anchored_total() -> None:
    assert [d.text for d in find_dates(TEXT)] == ["25/12/2018"]
    totals = find_totals(TEXT)
    assert totals[0].text == "9.00"  # not the subtotal, cash or change
    assert all(c.text not in ("10.00", "1.00") for c in totals)


def test_alignment_methods() -> None:
    exact = align_value(
        RECEIPT.spec("address"),
        "NO.53 55,57 & 59, JALAN SAGU 18, TAMAN DAYA, 81100 JOHOR BAHRU, JOHOR.",
        TEXT,
    )
    assert exact.method == "exact" and TEXT[exact.start : exact.end].startswith("NO.53")
    assert TEXT[exact.start : exact.end].endswith("JOHOR.")
    fuzzy = align_value(RECEIPT.spec("company"), "BOOK TA .K (TAMAN DAYA) SDN BHD", TEXT)
    assert (
        fuzzy.method == "fuzzy" and fuzzy.score >= 85 and "SDN BND" in TEXT[fuzzy.start : fuzzy.end]
    )
    norm = align_value(RECEIPT.spec("date"), "25-12-2018", TEXT)
    assert norm.method == "normalized" and TEXT[norm.start : norm.end] == "25/12/2018"
    total = align_value(RECEIPT.spec("total"), "9.0", TEXT)
    assert total.method == "normalized" and TEXT[total.start : total.end] == "9.00"
    missing = align_value(RECEIPT.spec("company"), "SOMETHING ELSE ENTIRELY LTD", TEXT)
    assert missing.method == "none" and not missing.aligned


def test_overlapping_values_are_reported_not_dropped() -> None:
    out = align_document(
        RECEIPT,
        {"company": "TAMAN DAYA", "address": "TAMAN DAYA, 81100 JOHOR BAHRU"},
        "TAMAN DAYA, 81100 JOHOR BAHRU",
    )
    methods = {a.field: a.method for a in out}
    assert sorted(methods.values()) == ["exact", "overlap"]
