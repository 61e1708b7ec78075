"""Arithmetic checks of a total: the parts of a receipt add up to it, or contradict it."""

from __future__ import annotations

from decimal import Decimal

from docasset.core.extraction.arithmetic import amount_facts, check_total, implied_totals

RECEIPT = (
    "KEDAI MAWAR SDN BHD\nNASI LEMAK 5.00\nTEH TARIK 3.48\nSUB TOTAL 8.48\nGST 6% 0.51\n"
    "ROUNDING ADJ 0.01\nTOTAL 9.00\nCASH 10.00\nCHANGE 1.00\n"
)


def test_subtotal_tax_rounding_and_tender_agree_with_the_total() -> None:
    facts = amount_facts(RECEIPT)
    assert facts.subtotals and facts.taxes and facts.cash and facts.change
    agree, conflict = check_total(RECEIPT, "9.00")
    assert agree == 2 and conflict is None  # sum (8.48 + 0.51 + 0.01) and tender (10 - 1)
    assert [rel for rel, _ in implied_totals(facts)].count("items") == 0  # they give the subtotal
    plain = "ACME\nTEA 2.00\nBUN 1.50\nTOTAL 3.50\n"
    assert check_total(plain, "3.50") == (1, None)


def test_a_total_the_parts_contradict_is_reported_with_the_amount_they_give() -> None:
    agree, conflict = check_total(RECEIPT, "8.48")  # the subtotal taken for the total
    assert agree == 0 and conflict is not None and "9.00" in conflict
    # OCR misread the printed total: the sum and the tender still agree on the real one.
    misread = RECEIPT.replace("TOTAL 9.00", "TOTAL 8.00")
    agree, conflict = check_total(misread, "8.00")
    assert agree == 0 and conflict == "sum and tender both give 9.00, not 8.00"
    # One relation alone, its amount printed on no total line: no verdict.
    unpaid = RECEIPT.replace("TOTAL 9.00", "TOTAL 9.80").replace("CASH 10.00\nCHANGE 1.00\n", "")
    assert check_total(unpaid, "9.80") == (0, None)
    assert (
        check_total(unpaid.replace("9.80", "8.00"), "8.00")[1] == "8.00 is below the subtotal 8.48"
    )


def test_a_total_tax_line_is_the_tax_and_the_parts_contradict_the_subtotal() -> None:
    # The tax printed as "TOTAL TAX", the total misread by the OCR (SROIE 026, half a).
    text = (
        "TEO HENG STATIONERY\nPAPER 10 10.57 105.66\nTotal Qty. : 18 144.68\n"
        "SUB-TOTAL(EX) 144.68\nTOTAL TAX 8.68\nROUNDING -0.01\nAIT 153.35\nCASH 153.35\n"
        "CHANGE 0.00\nTOTAL INCL GST 153.35\n"
    )
    facts = amount_facts(text)
    assert facts.taxes == (Decimal("8.68"),) and Decimal("153.35") in facts.totals_printed
    assert check_total(text, "153.35")[0] == 2  # sum and tender
    agree, conflict = check_total(text.replace("TOTAL INCL GST 153.35\n", ""), "144.68")
    assert agree == 0 and conflict == "sum and tender both give 153.35, not 144.68"


def test_no_parts_no_evidence() -> None:
    assert check_total("ACME\nTOTAL 3.00\n", "3.00") == (0, None)
    assert check_total(RECEIPT, None) == (0, None)


def test_an_amount_below_the_subtotal_or_before_the_rounding_is_not_the_total() -> None:
    # The printed total misread ("7-00"): the tax and an item line are no total (SROIE 089).
    text = "ITEM 2 3.50 7.00\nSUB-TOTAL 6.60\nGST 0.40\nTOTAL 7-00\nTAX TOTAL: 0.40\n"
    assert check_total(text, "0.40") == (0, "0.40 is below the subtotal 6.60")
    assert check_total(text + "DISCOUNT 6.50\n", "0.40") == (0, None)  # a discount could
    assert check_total(text + "DISCOUNT 0.00\n", "0.40")[1] == (
        "0.40 is below the subtotal less discounts 6.60"
    )
    # The total before the rounding adjustment (SROIE 095).
    text = "Total RM Incl. of GST 31.47\nRounding Adj -0.02\nTotal RM 31.45\nCHANGE 18.55\n"
    agree, conflict = check_total(text, "31.47")
    assert agree == 0 and conflict == "rounding gives 31.45, printed on a total line, not 31.47"
    assert check_total(text, "31.45")[1] is None


def test_an_intermediate_total_is_not_the_total() -> None:
    # A total after the discount, then service charge, GST and rounding (SROIE 037, half a).
    text = (
        "SABA SET 53.70\nSALMON SET 21.90\nICED TEA 4.00\nSUBTOTAL 79.60\nDISCOUNT -30.00\n"
        "Total Amount : 49.60\nServ Charge 10% 4.96i\nGST @ 6% 3.27\nRounding Adj : -0.03\n"
        "Total Amount: 57.80\nTOTAL: RM 57.80\n"
    )
    facts = amount_facts(text)
    assert facts.taxes == (Decimal("4.96"), Decimal("3.27"))
    assert check_total(text, "57.80") == (1, None)
    assert check_total(text, "49.60") == (
        0,
        "subtotal + every printed part gives 57.80, not 49.60",
    )
