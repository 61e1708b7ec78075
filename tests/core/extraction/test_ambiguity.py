"""A field the document offers rival values for is checked: two printed dates."""

from __future__ import annotations

import spacy

from docasset.core.extraction.extract import Calibration, ModelBundle, predict_text
from docasset.core.extraction.fields import load_doctype

RECEIPT_TYPE = load_doctype("receipt")


def test_a_receipt_printing_two_dates_has_its_date_checked() -> None:
    bundle = ModelBundle(spacy.blank("en"), RECEIPT_TYPE, Calibration(), {"date": 0.0})
    one = "ACME SDN BHD\nDATE 14-03-18 21:49\nTOTAL 9.00\nPRINTED 14/03/2018\n"
    two = "13 MAR 2018\nACME SDN BHD\nTOTAL 9.00\n14-03-18 21:49\n"  # SROIE 027, half a
    dates = {}
    for name, text in (("one", one), ("two", two)):
        pred = predict_text(bundle, name, text, bundle.nlp(text))
        dates[name] = pred.fields["date"]
    assert dates["one"].status == "accepted"  # the same date twice is no rival
    assert dates["two"].status == "to_check"
    assert [b.kind for b in dates["two"].checks] == ["ambiguous"]
    # An invoice prints its date and its due date by design: no rival of each other.
    invoice = load_doctype("invoice")
    text = "ACME GMBH\nInvoice date 01.02.2024\nDue date 01.03.2024\nTotal 9.00\n"
    b = ModelBundle(spacy.blank("en"), invoice, Calibration(), {})
    pred = predict_text(b, "inv", text, b.nlp(text))
    assert all(c.kind != "ambiguous" for f in pred.fields.values() for c in f.checks)
