"""Layout heuristics for seller name and address, and the rule fixes for OCR-damaged values."""

from __future__ import annotations

from docasset.core.extraction.fields import parse_date
from docasset.core.extraction.layout import (
    address_candidates,
    company_candidates,
    is_noise,
    repair_legal_form,
)
from docasset.core.extraction.rules import find_dates, find_totals, untendered_amounts

NOISY_HEAD = "\n".join(
    [
        "es, i TT eee ee",
        "TEO HENG STATIONERY & BOOKS",
        "(001451637-M)",
        "NO. 53, JALAN BESAR, 45600 BATANG BERJUNTAI",
        "SELANGOR DARUL EHSAN",
        "TEL : 03-3271 9872",
        "CASH BILL",
    ]
)


def test_noise_lines_are_told_from_printed_lines() -> None:
    assert is_noise("es, i TT eee ee")
    assert is_noise("ne Eee")
    assert not is_noise("TEO HENG STATIONERY & BOOKS")
    assert not is_noise("Taste Of The World Sdn Bhd")
    assert not is_noise("NO. 53, JALAN BESAR, 45600 BATANG BERJUNTAI")


def test_address_is_walked_up_from_the_postcode_and_stops_at_name_and_regno() -> None:
    best = address_candidates(NOISY_HEAD)[0]
    assert best.text == "NO. 53, JALAN BESAR, 45600 BATANG BERJUNTAI\nSELANGOR DARUL EHSAN"
    # The name sits right above the address (registration number skipped), without a legal form.
    names = [c.text for c in company_candidates(NOISY_HEAD)]
    assert names[0] == "TEO HENG STATIONERY & BOOKS"
    assert "es, i TT eee ee" not in names


def test_regno_and_bare_numbers_are_not_postcodes() -> None:
    text = (
        "3 180048\nShell ISNI PETRO TRADING\nCompany No 002643278-A\nLOT 2685 JLN GENTING KLANG\n"
    )
    text += "53300 KL Site 1066\nTel 03-40212008"
    assert address_candidates(text)[0].text == "LOT 2685 JLN GENTING KLANG\n53300 KL Site 1066"


def test_address_without_postcode_ends_before_the_phone_line() -> None:
    text = "(481500-M)\nCW KHOO HARDWARE SDN BHD\nNO.50 , JALAN PBS 14/11,\n"
    text += "KAWASAN PERINDUSTRIAN BUKIT SERDANG,\nTel : 03-89410243 Fax : 03-89410243"
    best = address_candidates(text)[0]
    assert best.text == "NO.50 , JALAN PBS 14/11,\nKAWASAN PERINDUSTRIAN BUKIT SERDANG,"
    assert company_candidates(text)[0].text == "CW KHOO HARDWARE SDN BHD"


def test_international_addresses() -> None:
    uk = "Greenway Office Supplies Ltd\nUnit 4, Kirkstall Trading Estate\nLeeds\nLS5 3BT\n"
    uk += "Tel: 0113 496 0721\nVAT No. GB 123 4567 89"
    assert address_candidates(uk)[0].text == "Unit 4, Kirkstall Trading Estate\nLeeds\nLS5 3BT"
    de = "Rheinfeld Buerotechnik GmbH\nHohenzollernring 52\n50672 Koeln\nDeutschland\n"
    de += "Tel. 0221 4477 310"
    assert address_candidates(de)[0].text == "Hohenzollernring 52\n50672 Koeln\nDeutschland"
    assert company_candidates(de)[0].text == "Rheinfeld Buerotechnik GmbH"


def test_business_words_stay_in_the_name_and_legal_forms_cut_it() -> None:
    assert (
        company_candidates("HOME MASTER HARDWARE & ELECTRICAL\n2, JALAN X, 40170 SHAH ALAM")[0].text
        == "HOME MASTER HARDWARE & ELECTRICAL"
    )
    assert company_candidates("~ AEON CO. (M) BHD (126925-8)\nTEL 03-1")[0].text == (
        "AEON CO. (M) BHD"
    )


def test_legal_form_repair() -> None:
    assert repair_legal_form("UNIHAKKA INTERNATIONAL SON BHD") == "UNIHAKKA INTERNATIONAL SDN BHD"
    assert repair_legal_form("MR D.I.Y. (JOHOR) SDN BHO") == "MR D.I.Y. (JOHOR) SDN BHD"
    assert repair_legal_form("SONY BHD") == "SONY BHD"
    assert repair_legal_form("Taste Sdn Bhd") == "Taste Sdn Bhd"


def test_compact_dates_only_after_a_date_keyword() -> None:
    assert str(parse_date("20180304")) == "2018-03-04"
    assert str(parse_date("12022018")) == "2018-02-12"
    assert parse_date("99999999") is None
    assert [c.text for c in find_dates("Date: 12022018\nREF 20180304")] == ["12022018"]


def test_totals_with_split_decimals_and_tendered_cash() -> None:
    assert [c.text for c in find_totals("TOTAL RM 73. 00\nCASH 100.00")] == ["73. 00"]
    text = "SUBTOTAL: 28.60\nCASH 100.00\nCHANGE 71.40\nITEM 3.00"
    assert max(float(c.text) for c in untendered_amounts(text)) == 28.60


def test_registration_codes_are_no_address_and_wrapped_legal_forms_join() -> None:
    at = "Alpenblick Handels GmbH\nFN 412345 t\nMariahilfer Strasse 88/2\n1070 Wien\nAustria\n"
    at += "Tel. +43 1 522 4180"
    assert address_candidates(at)[0].text == "Mariahilfer Strasse 88/2\n1070 Wien\nAustria"
    sg = "Lion City Electronics Pte. Ltd.\nVEN 201512345K\n10 Sims Avenue #03-21\nSims Centre\n"
    sg += "Singapore 387509\nTel: +65 6741 2290"
    assert address_candidates(sg)[0].text == "10 Sims Avenue #03-21\nSims Centre\nSingapore 387509"
    wrapped = "RESTORAN SELERA TIMUR SDN\nBHD\nNO. 21, JALAN BESAR,\n25000 KUANTAN, PAHANG."
    assert company_candidates(wrapped)[0].text == "RESTORAN SELERA TIMUR SDN\nBHD"
