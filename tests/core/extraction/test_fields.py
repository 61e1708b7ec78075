from __future__ import annotations

from pathlib import Path

import pytest

from docasset.core.extraction.fields import (
    load_doctype,
    normalize,
    parse_amount,
    parse_date,
    parse_doctype,
    validate_document,
    validate_field,
    values_match,
)
from docasset.errors import SchemaError


@pytest.mark.parametrize(
    ("printed", "iso"),
    [
        ("25/12/2018", "2018-12-25"),
        ("2018-12-25", "2018-12-25"),
        ("25.12.2018", "2018-12-25"),
        ("12/25/2018", "2018-12-25"),
        ("25 Dec 2018", "2018-12-25"),
        ("DEC 25, 2018", "2018-12-25"),
        ("25-12-18", "2018-12-25"),
        ("02/03/2019 10:22", "2019-03-02"),
        ("December 5, 2020", "2020-12-05"),
    ],
)
def test_dates_normalize_to_iso(printed: str, iso: str) -> None:
    assert str(parse_date(printed)) == iso


@pytest.mark.parametrize("bad", ["31/02/2018", "hello", "99/99/99", "01/01/1850", ""])
def test_implausible_dates_are_rejected(bad: str) -> None:
    assert parse_date(bad) is None


@pytest.mark.parametrize(
    ("printed", "value"),
    [
        ("9.00", "9.00"),
        ("1,234.50", "1234.50"),
        ("1.234,50", "1234.50"),
        ("RM 9.00", "9.00"),
        ("12,50", "12.50"),
    ],
)
def test_amounts(printed: str, value: str) -> None:
    assert f"{parse_amount(printed):.2f}" == value


def test_shipped_doctypes() -> None:
    receipt = load_doctype("receipt")
    assert receipt.names == ["company", "date", "address", "total"]
    assert receipt.required == receipt.names
    invoice = load_doctype("invoice")
    assert {
        "vendor",
        "invoice_number",
        "invoice_date",
        "due_date",
        "total",
        "currency",
        "vat_id",
        "iban",
    } <= set(invoice.names)
    assert "due_date" not in invoice.required


def test_unknown_doctype_and_bad_schema_raise() -> None:
    with pytest.raises(SchemaError, match="unknown document type"):
        load_doctype("passport")
    with pytest.raises(SchemaError, match="unknown type"):
        parse_doctype({"name": "x", "fields": [{"name": "a", "label": "A", "type": "colour"}]}, "t")
    with pytest.raises(SchemaError, match="unique"):
        parse_doctype(
            {"name": "x", "fields": [{"name": "a", "label": "A", "type": "text"}] * 2}, "t"
        )


def test_validators_and_sum_rule() -> None:
    invoice = load_doctype("invoice")
    assert validate_field(invoice.spec("total"), "abc")
    assert validate_field(invoice.spec("iban"), "DE89370400440532013000") == []
    assert validate_field(invoice.spec("iban"), "DE89370400440532013001")
    ok = {"total": "10.00", "subtotal": "8.40", "tax": "1.60"}
    assert validate_document(invoice, ok) == []
    assert any("total" in p for p in validate_document(invoice, {**ok, "total": "11.00"}))


def test_sroie_style_matching() -> None:
    receipt = load_doctype("receipt")
    assert values_match(receipt.spec("company"), "Acme  Sdn\nBhd", "ACME SDN BHD")
    assert values_match(receipt.spec("date"), "25.12.2018", "25/12/2018")
    assert values_match(receipt.spec("total"), "RM 9.00", "9.0")
    assert not values_match(receipt.spec("total"), "9.01", "9.00")
    assert not values_match(receipt.spec("company"), None, "ACME")
    assert normalize(receipt.spec("company"), " acme  sdn bhd ") == "ACME SDN BHD"


def test_equivalence_is_per_type_and_strict_match_is_reported_beside_it() -> None:
    from docasset.core.extraction.fields import equivalent, load_doctype, strict_match

    r = load_doctype("receipt")
    company, total, date_ = r.spec("company"), r.spec("total"), r.spec("date")
    assert equivalent(company, "ABC Sdn. Bhd.", "abc sdn bhd")
    assert equivalent(company, "ＡＢＣ (M) SDN BHD", "abc m sdn bhd")  # NFKC full-width
    assert not equivalent(company, "ABC SDN BHD", "ABD SDN BHD")
    assert equivalent(total, "RM 9.00", "9")
    assert not equivalent(total, "9.01", "9.00")
    assert equivalent(date_, "25/12/2018", "2018-12-25")
    assert not equivalent(date_, "25/12/2013", "25/12/2018")
    assert equivalent(company, None, None) and not equivalent(company, "A", None)
    assert not strict_match(company, "ABC Sdn. Bhd.", "abc sdn bhd")
    assert strict_match(company, " ABC ", "ABC")


GOOD_FIELDS = "fields:\n  - {name: total, label: TOTAL, type: amount}\n"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name: r\n" + GOOD_FIELDS + "rules: [5]\n", "rule #0 must be"),
        ("name: r\n" + GOOD_FIELDS + "rules: {sum: 1}\n", "'rules' must be a list"),
        ("name: r\n" + GOOD_FIELDS + "rules:\n  - sum: {total: 5}\n", "must list field names"),
        ("name: r\nfields: [\n", "not a readable YAML document type (line"),
        ("name: !!python/object/apply:os.system ['echo pwned']\n", "not a readable YAML"),
        (b"\xff\xfe name", "not a readable YAML"),
    ],
)
def test_a_broken_doctype_file_is_a_schema_error_naming_it(
    tmp_path: Path, text: str | bytes, says: str
) -> None:
    # Issue 23 defect 18: tracebacks (AttributeError, ScannerError, ConstructorError).
    path = tmp_path / f"broken-{abs(hash(text))}.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(SchemaError) as err:
        load_doctype(str(path))
    assert str(err.value).startswith(str(path)) and says in str(err.value)
