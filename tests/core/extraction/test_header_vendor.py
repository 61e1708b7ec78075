"""A document type's vendor identifier read from the header (YAML ``vendor:``): validated at
load, read with its false-hit guards, the vendor key of its type, and two columns of the
predictions frame (``header_vendor``, ``customer_canonical``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from docasset.core.extraction.fields import (
    doctype_to_dict,
    load_doctype,
    parse_doctype,
)
from docasset.core.extraction.prediction_table import (
    PREDICTIONS_SCHEMA,
    documents,
    from_frame,
    predictions_frame,
    to_json,
)
from docasset.core.extraction.routing import DocPrediction, FieldPrediction
from docasset.core.extraction.vendor_keys import (
    document_keys,
    extract_keys,
    header_key,
    header_vendor,
)
from docasset.core.validation.aliases import with_aliases
from docasset.errors import SchemaError

AD_ORDER = load_doctype("ad_order")
RECEIPT = load_doctype("receipt")
FIELDS = [{"name": "n", "label": "N", "type": "identifier"}]
CALL_SIGN = r"(?<![\w-])(?P<key>[KW][A-Z]{2,3})(?:-(?:TV|DT))?(?![\w-])"


def _type(vendor: Any) -> dict[str, Any]:
    return {"name": "t", "fields": FIELDS, "vendor": vendor}


@pytest.mark.parametrize(
    ("vendor", "why"),
    [
        ("K[A-Z]+", "must be a mapping with a 'pattern'"),
        ({"name": "station"}, "must be a mapping with a 'pattern'"),
        ({"pattern": "K(", "name": "station"}, "is no regular expression"),
        ({"pattern": "K?"}, "matches the empty string"),
        ({"pattern": "(?P<call>K[A-Z]+)"}, "the key is the group named 'key'"),
        ({"pattern": "K[A-Z]+", "header_lines": 0}, "header_lines must be a positive integer"),
        ({"pattern": "K[A-Z]+", "header_lines": True}, "header_lines must be a positive integer"),
        ({"pattern": "K[A-Z]+", "stop_words": "KIND"}, "stop_words must be a list of strings"),
        ({"pattern": "K[A-Z]+", "where": "footer"}, "unknown keys ['where']"),
        ({"pattern": "K[A-Z]+", "name": ""}, "name must be a word"),
    ],
)
def test_a_bad_vendor_block_is_refused_at_load_saying_why(vendor: Any, why: str) -> None:
    with pytest.raises(SchemaError, match=r"t\.yaml: vendor") as err:
        parse_doctype(_type(vendor), "t.yaml")
    assert why in str(err.value)


def test_the_vendor_block_loads_from_yaml_and_travels_with_the_model(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    raw = {"pattern": CALL_SIGN, "name": "station", "stop_words": ["WITH"], "header_lines": 5}
    path.write_text(yaml.safe_dump(_type(raw)))
    t = load_doctype(str(path))
    assert t.vendor is not None and (t.vendor.name, t.vendor.header_lines) == ("station", 5)
    # doctype_to_dict is what a model bundle saves: the identifier comes back unchanged.
    assert parse_doctype(doctype_to_dict(t), "again").vendor == t.vendor
    assert AD_ORDER.vendor is not None and AD_ORDER.vendor.name == "station"
    assert RECEIPT.vendor is None and "vendor" not in doctype_to_dict(RECEIPT)


def test_the_station_is_read_from_the_header_past_upper_case_words() -> None:
    assert AD_ORDER.vendor is not None
    text = "PAGE 1 OF 4\nORDER WITH THE WEEK KIND OF SPOTS\nKCNC-TV Advertiser Bernie 2020\n"
    k = header_key(AD_ORDER.vendor, text)
    # the key without the service suffix, the whole call sign as printed
    assert k is not None and (k.ident, text[k.start : k.end]) == ("header_id:KCNC", "KCNC-TV")
    assert header_vendor(AD_ORDER, text) == "KCNC-TV"
    # without the stop words, "WITH" would be the station
    bare = replace(AD_ORDER.vendor, stop_words=())
    assert (hit := header_key(bare, text)) is not None and hit.value == "WITH"
    # a call sign after a hyphen is part of a code ("Sales Office: H-WAS"), a station with its
    # suffix is no stop word ("WHO" is a word, "KING-TV" a station)
    assert header_vendor(AD_ORDER, "Sales Office: H-WAS\nORDER\n") is None
    assert header_vendor(AD_ORDER, "WITH\nKING-TV Invoice\n") == "KING-TV"


def test_only_the_header_lines_are_read() -> None:
    assert AD_ORDER.vendor is not None
    lines = AD_ORDER.vendor.header_lines
    # a market's list of stations further down is no vendor
    late = "Print Date 05/11/20\n" * lines + "WBND 0% $0.00\nWNDU 0% $0.00\n"
    assert header_vendor(AD_ORDER, late) is None
    assert header_vendor(AD_ORDER, "Print Date\n" * (lines - 1) + "Station: WHP\n") == "WHP"
    assert header_vendor(RECEIPT, "KEDAI WXYZ SDN BHD\n") is None  # no vendor: block


def test_a_type_with_an_identifier_is_keyed_by_it_alone_receipts_unchanged() -> None:
    order = "INVOICE\nKCNC-TV\nAgency TEL: 03-9201 6281\nGST ID: 000123456789\n"
    assert [k.ident for k in document_keys(AD_ORDER, order)] == ["header_id:KCNC"]
    assert document_keys(AD_ORDER, "INVOICE\nTEL: 03-9201 6281\n") == []
    receipt = "KEDAI ABC SDN BHD (123456-X)\nGST ID: 000123456789\nTEL: 03-9201 6281\n"
    assert document_keys(RECEIPT, receipt) == extract_keys(receipt) != []
    assert document_keys(None, receipt) == extract_keys(receipt)


def _pred(doc_id: str, advertiser: str | None, station: str | None) -> DocPrediction:
    fields = {n: FieldPrediction("1", 0, 1, "model", "b", 0.9) for n in AD_ORDER.names}
    fields["advertiser"] = FieldPrediction(advertiser, 0, 0, "model", "b", 0.9)
    p = DocPrediction(doc_id, fields, "review", [], "v1", 0.5)
    p.header_vendor = station
    return p


def test_the_frame_has_the_station_and_the_customers_canonical_name() -> None:
    known = with_aliases(AD_ORDER, "advertiser", {"mikebloomberg2020inc": "Mike Bloomberg 2020"})
    preds = [
        _pred("a", "MIKE BLOOMBERG 2020, INC", "KCNC-TV"),
        _pred("b", "Bernie 2020", None),
        _pred("c", None, "WXIA"),
    ]
    df = predictions_frame(known, preds, "b1", datetime(2026, 1, 1, tzinfo=UTC))
    rows = {(r["doc_id"], r["field"]): r for r in df.iter_rows(named=True)}
    assert rows[("a", "advertiser")]["customer_canonical"] == "Mike Bloomberg 2020"
    assert rows[("b", "advertiser")]["customer_canonical"] == "Bernie 2020"  # itself: unknown
    # absent is null, never "": no value, not a customer field, no station read
    assert rows[("c", "advertiser")]["customer_canonical"] is None
    assert rows[("a", "gross_amount")]["customer_canonical"] is None
    assert [rows[(d, "gross_amount")]["header_vendor"] for d in "abc"] == ["KCNC-TV", None, "WXIA"]
    assert documents(df)["header_vendor"].to_list() == ["KCNC-TV", None, "WXIA"]
    back = {p.doc_id: p for p in from_frame(df)}
    assert back["a"].header_vendor == "KCNC-TV"
    mike = {"advertiser": "Mike Bloomberg 2020"}
    assert back["a"].customers == mike and back["c"].customers == {}
    j = to_json(known, preds[0])
    assert j["header_vendor"] == "KCNC-TV" and j["customers"] == mike
    # A frame written before the columns existed still validates (optional columns).
    old = df.drop("header_vendor", "customer_canonical")
    assert PREDICTIONS_SCHEMA.validate(old).width == df.width - 2
    assert "header_vendor" not in documents(old).columns
    assert from_frame(old)[0].header_vendor is None


def test_a_receipt_frame_has_the_columns_null() -> None:
    fields = {n: FieldPrediction("X", 0, 1, "model", "b", 0.9) for n in RECEIPT.names}
    p = DocPrediction("r", fields, "auto", [], "v1", 0.9)
    df = predictions_frame(RECEIPT, [p], "b1", datetime(2026, 1, 1, tzinfo=UTC))
    assert df["header_vendor"].null_count() == df["customer_canonical"].null_count() == df.height
    assert "header_vendor" not in to_json(RECEIPT, p)
