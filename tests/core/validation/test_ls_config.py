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
    image_col, controls = list(root)  # side by side: the page, then everything to answer
    assert "flex" in root.get("style", "")
    assert image_col.find("Image").get("valueList") == "$pages"  # type: ignore[union-attr]
    by_name = {e.get("name"): e for e in controls.iter() if e.get("name")}
    assert [lab.get("value") for lab in by_name["field"]] == [f.label for f in dt.fields]
    assert by_name["field"].tag == "RectangleLabels"
    value = by_name["value"]
    assert (value.tag, value.get("perRegion"), value.get("toName")) == ("TextArea", "true", "page")
    assert [c.get("value") for c in by_name["verdict"]] == ["irrelevant", "bad_scan"]
    assert [c.get("value") for c in by_name["absent"]] == [f.label for f in dt.fields]
    assert [c.get("value") for c in by_name["status"]] == ["accepted"]
    assert by_name["status"].get("perRegion") == "true"
