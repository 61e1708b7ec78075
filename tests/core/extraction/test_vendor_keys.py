from __future__ import annotations

import pytest

from docasset.core.extraction.vendor_keys import extract_keys, name_key, normalise, parse_ident

RECEIPT = (
    "YONGFATT ENTERPRISE\n(JM0517726)\nNO 122.124 JALAN DEDAP 13\n81100 JOHOR BAHRU\n"
    "TEL 07-3523888\nGST ID: 000849813504\nSIMPLIFIED TAX INVOICE\nTOTAL 9.00"
)


def idents(text: str) -> list[str]:
    return [k.ident for k in extract_keys(text)]


def test_registrations_phones_and_domains_are_read_normalised_strongest_first() -> None:
    assert idents(RECEIPT) == ["company_no:JM0517726", "tax_id:000849813504", "phone:073523888"]
    text = (
        "MR D.T.Y. (JOHOR) SDN BHD\n(CO.REG : 933109-X)\nTEL : +60 3-9201 6281/6920\n"
        "GST REG NO. 001492992000\nWWW. POPULAR. COM. MY\nINFO@SHOP.COM.MY\nBOB99@YAHOO.COM"
    )
    got = idents(text)
    assert got[:2] == ["company_no:933109", "tax_id:001492992000"]
    assert "phone:0392016281" in got  # +60 to the national form, the first of two numbers
    assert {"web:popular.com.my", "email:shop.com.my", "email:bob99@yahoo.com"} <= set(got)


def test_one_key_read_two_ways_compares_equal() -> None:
    a = idents("AEON CO. (M) BHD (126926-H)\nGST ID : 002017394688")
    b = idents("AEON CO. (M) BHD. (0126926 - H)\nGST ID. NO: 002017394688")
    assert a == b == ["company_no:126926", "tax_id:002017394688"]


def test_bare_numbers_count_only_alone_on_a_header_line() -> None:
    text = "YHM AEON\n81100 JOHOR BAHRU\n002105827328\n07-355 2616\nRECEIPT NO.:003-1220815"
    assert idents(text) == ["tax_id:002105827328", "phone:073552616"]
    # A receipt number is no phone; tax rates and a tax act are no tax ids.
    assert idents("GST @6%\n56 (3) (B) GST ACT 2014\nINVOICE 003-1220815 X") == []


def test_key_idents_parse_and_bad_ones_are_refused() -> None:
    assert parse_ident("tax_id:000123456789") == ("tax_id", "000123456789")
    for bad in ("000123456789", "colour:red", "phone:"):
        with pytest.raises(ValueError):
            parse_ident(bad)
    assert normalise("phone", "12") is None and normalise("company_no", "(00012-X)") is None
    assert name_key("Mr. D.I.Y. (M) Sdn Bhd") == "MR D I Y M SDN BHD"


def test_prices_and_column_headers_are_no_keys() -> None:
    # "2 @ 17.90" is a price, a TAX column header above a barcode is no tax-id label.
    assert idents("SHOP\nITEM 2 @ 17.90\nAMOUNT\nTAX\n9556641320027\n") == []
