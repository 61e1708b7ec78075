"""Doc-type options a new type is onboarded with, without Python: roles, printed labels
(keywords), month-first dates, a period filling two fields, customer aliases; the shipped
``ad_order`` type."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from docasset.core.extraction.extract import field_candidates
from docasset.core.extraction.fields import (
    canonical,
    doctype_to_dict,
    equivalent,
    load_doctype,
    normalize,
    parse_date,
    parse_doctype,
    validate_field,
)
from docasset.core.extraction.rules import find_date_ranges, find_labelled
from docasset.core.training.align import align_value
from docasset.core.validation.aliases import with_aliases
from docasset.errors import SchemaError

ORDER = """ORDER CONFIRMATION KXYZ-TV
Contract # 26836446 Changes as of: 3/24/2020 at 12:23 PM
CPE: 25/27/266 Flight: 3/25/20 - 3/31/20 Station: KXYZ
Agency: FP1 Strategies, LLC Advertiser: BUEHLER, KNUTE Market: Bend, OR
N 1 KXYZ 03/25/20 03/31/20 News :30 NM 3 $300.00
TOTALS: 3 11 8 $1,825.00 $0.00"""


def test_ad_order_yaml_loads_with_its_options() -> None:
    d = load_doctype("ad_order")
    assert d.names == ["contract_num", "advertiser", "gross_amount", "flight_from", "flight_to"]
    assert {f.date_order for f in d.fields} == {"mdy"}
    assert (d.spec("flight_from").range_part, d.spec("flight_to").range_part) == ("start", "end")
    assert d.role_fields("customer") == ["advertiser"]
    assert "advertiser code" in d.spec("advertiser").not_keywords
    assert load_doctype("receipt").role_fields("seller") == ["company"]
    assert load_doctype("receipt").role_fields("total") == ["total"]


def test_month_first_dates_and_dollar_amounts() -> None:
    d = load_doctype("ad_order")
    assert parse_date("02/03/20", "mdy").isoformat() == "2020-02-03"  # type: ignore[union-attr]
    assert parse_date("02/03/20").isoformat() == "2020-03-02"  # type: ignore[union-attr]
    assert parse_date("2/17/2020", "mdy").isoformat() == "2020-02-17"  # type: ignore[union-attr]
    assert normalize(d.spec("flight_from"), "02/03/20") == "2020-02-03"
    assert equivalent(d.spec("flight_to"), "2/3/2020", "02/03/20")
    assert not equivalent(d.spec("flight_to"), "3/2/2020", "02/03/20")
    assert equivalent(d.spec("gross_amount"), "$7,465.00", "7465")
    assert validate_field(d.spec("gross_amount"), "$14,625.00") == []
    assert equivalent(d.spec("contract_num"), "ho 20030011", "HO20030011")


def test_a_period_fills_both_fields() -> None:
    d = load_doctype("ad_order")
    assert [c.text for c in find_date_ranges(ORDER, "start")] == ["3/25/20"]
    assert [c.text for c in find_date_ranges("05/28/20-06/03/20", "end")] == ["06/03/20"]
    start = field_candidates(d.spec("flight_from"), ORDER)
    end = field_candidates(d.spec("flight_to"), ORDER)
    assert (start[0].text, end[0].text) == ("3/25/20", "3/31/20")


def test_values_after_printed_labels() -> None:
    d = load_doctype("ad_order")
    assert field_candidates(d.spec("contract_num"), ORDER)[0].text == "26836446"
    assert field_candidates(d.spec("advertiser"), ORDER)[0].text == "BUEHLER, KNUTE"
    assert field_candidates(d.spec("gross_amount"), ORDER)[0].text == "1,825.00"
    # The value on the next line when the label's line has none.
    nxt = find_labelled("Contract Number\n  HO2003 / 9", ("contract number",), "identifier")
    assert [(c.text, c.strength) for c in nxt] == [("HO2003", 0.7)]
    assert find_labelled(ORDER, (), "text") == []


def test_alignment_prefers_the_labelled_occurrence() -> None:
    d = load_doctype("ad_order")
    # 1825 appears once with $; a second date 03/25/20 is a line item: the period's wins.
    a = align_value(d.spec("flight_from"), "3/25/2020", ORDER)
    assert ORDER[a.start : a.end] == "3/25/20" and a.method == "normalized"
    assert ORDER.index("Flight:") < a.start < ORDER.index("Station:")


def test_aliases_give_the_canonical_spelling() -> None:
    d = parse_doctype(
        {
            "name": "t",
            "fields": [{"name": "advertiser", "label": "ADV", "type": "text", "role": "customer"}],
            "aliases": {
                "advertiser": {
                    "Mike Bloomberg 2020": ["MIKE BLOOMBERG 2020, INC", "MikeBloomberg2020Inc-D"]
                }
            },
        },
        "t.yaml",
    )
    assert canonical(d, "advertiser", "Mike Bloomberg 2020, Inc.") == "Mike Bloomberg 2020"
    assert canonical(d, "advertiser", "mikebloomberg2020inc-d") == "Mike Bloomberg 2020"
    assert canonical(d, "advertiser", "mike bloomberg 2020") == "Mike Bloomberg 2020"
    assert canonical(d, "advertiser", "Bernie 2020") == "Bernie 2020"


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"role": "boss"}, "role must be one of"),
        ({"keywords": "Contract"}, "keywords must be a list"),
        ({"not_keywords": ["advertiser code", 3]}, "not_keywords must be a list"),
        ({"date_order": "ymd"}, "date_order"),
        ({"range": "start"}, "range is start or end, on a date field"),
        ({"colour": "red"}, "unknown keys"),
    ],
)
def test_bad_field_options_are_refused(field: dict[str, object], message: str) -> None:
    data = {"name": "t", "fields": [{"name": "x", "label": "X", "type": "text", **field}]}
    with pytest.raises(SchemaError, match=message):
        parse_doctype(data, "t.yaml")


def test_bad_type_level_options_are_refused() -> None:
    base = {"name": "t", "fields": [{"name": "x", "label": "X", "type": "text"}]}
    with pytest.raises(SchemaError, match="date_order"):
        parse_doctype({**base, "date_order": "dym"}, "t.yaml")
    with pytest.raises(SchemaError, match="aliases"):
        parse_doctype({**base, "aliases": {"y": {"A": ["a"]}}}, "t.yaml")


def test_doctype_round_trips_through_its_yaml_form(tmp_path: Path) -> None:
    learned = with_aliases(load_doctype("ad_order"), "advertiser", {"bernie2020inc": "Bernie 2020"})
    for d in (load_doctype("receipt"), load_doctype("invoice"), learned):
        again = parse_doctype(yaml.safe_load(yaml.safe_dump(doctype_to_dict(d))), "x.yaml")
        assert again == d
    # A type written anywhere loads by path.
    path = tmp_path / "po.yaml"
    path.write_text(yaml.safe_dump(doctype_to_dict(load_doctype("ad_order")) | {"name": "po"}))
    assert load_doctype(str(path)).name == "po"
