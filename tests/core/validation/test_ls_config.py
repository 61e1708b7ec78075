"""The labelling config: fields, verdicts and "not on this document" beside the page."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from docasset.core.extraction.fields import load_doctype
from docasset.core.validation.ls_config import labelling_config


@pytest.mark.parametrize("doctype", ["receipt", "invoice"])
def test_labelling_config_puts_fields_verdicts_and_absent_beside_the_page(doctype: str) -> None:
    dt = load_doctype(doctype)
    root = ET.fromstring(labelling_config(dt))
    image_col, controls, hidden = list(root)  # the page, then everything to answer
    assert "flex" in root.get("style", "")
    page = image_col.find("Image")
    assert page is not None and page.get("valueList") == "$pages"
    assert "100vh" in page.get("maxHeight", "")  # the page fits the window's height
    assert "340px" in controls.get("style", "")  # fields beside it, at a fixed width
    # The data manager's thumbnail column comes from a hidden Image of the first page.
    assert hidden.get("style") == "display: none"
    assert hidden.find("Image").get("value") == "$thumbnail"  # type: ignore[union-attr]
    headers = [h.get("value") for h in controls.iter("Header")]
    assert headers[:2] == ["$rejection", "$review_note"]  # a refusal first, in red
    assert "#B00020" in (controls.find("Header").get("style") or "")  # type: ignore[union-attr]
    by_name = {e.get("name"): e for e in controls.iter() if e.get("name")}
    assert [lab.get("value") for lab in by_name["field"]] == [f.label for f in dt.fields]
    assert by_name["field"].tag == "RectangleLabels"
    value = by_name["value"]
    assert (value.tag, value.get("perRegion"), value.get("toName")) == ("TextArea", "true", "page")
    assert [c.get("value") for c in by_name["verdict"]] == ["irrelevant", "bad_scan"]
    assert [c.get("value") for c in by_name["absent"]] == [f.label for f in dt.fields]
    assert [c.get("value") for c in by_name["status"]] == ["accepted"]
    assert by_name["status"].get("perRegion") == "true"
    # Accepted boxes: their own grey labels, in a control hidden from the label buttons.
    accepted = by_name["accepted_field"]
    assert [lab.get("value") for lab in accepted] == [f"{f.label} (accepted)" for f in dt.fields]
    assert {lab.get("background") for lab in accepted} == {"#9E9E9E"}
    hidden_views = [v for v in controls.iter("View") if v.get("style") == "display: none"]
    assert any(accepted in list(v) for v in hidden_views)
    assert "bad_scan" in by_name["verdict"][1].get("value", "")
    assert "nobody can read" in by_name["verdict"][1].get("hint", "")
