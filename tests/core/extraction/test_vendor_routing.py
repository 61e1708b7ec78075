"""predictions read the vendor registry: agreement accepts, contradiction and ambiguity block."""

from __future__ import annotations

from datetime import UTC, date, datetime

import spacy

from docasset.core.extraction.dates import DateContext
from docasset.core.extraction.extract import Calibration, ModelBundle, predict_text
from docasset.core.extraction.fields import load_doctype
from docasset.core.extraction.prediction_table import predictions_frame, to_json
from docasset.core.extraction.routing import NEVER
from docasset.core.extraction.vendor_keys import extract_keys
from docasset.core.extraction.vendors import Observation, build_registry, match_vendor

RECEIPT = load_doctype("receipt")
NAME = "BOOK TA .K (TAMAN DAYA) SDN BHD"
ADDRESS = "NO.53 55,57 & 59, JALAN SAGU 18, TAMAN DAYA, 81100 JOHOR BAHRU, JOHOR."
SEEN = (
    f"{NAME}\n(789417-W)\nNO.53 55,57 & 59, JALAN SAGU 18,\nTAMAN DAYA,\n81100 JOHOR BAHRU,\n"
    "JOHOR.\n"
)


def registry(n: int = 2):
    keys = tuple(k.ident for k in extract_keys(SEEN))
    return build_registry(
        [Observation(f"c{i}", f"d{i}", NAME, ADDRESS, "2018-12-2" + str(i), keys) for i in range(n)]
    )


def predict(text: str, thresholds: float, n: int = 2, **kw):
    bundle = ModelBundle(
        spacy.blank("en"), RECEIPT, Calibration(), dict.fromkeys(RECEIPT.names, thresholds)
    )
    m = match_vendor(text, registry(n))
    return predict_text(bundle, "doc", text, bundle.nlp(text), vendor=m, **kw), m


def test_the_registry_value_printed_in_the_document_is_filled_and_accepted() -> None:
    text = SEEN + "25/12/2018\nTOTAL 9.00"
    pred, m = predict(text, NEVER)  # the model alone accepts nothing
    assert (
        m is not None and pred.vendor_id == m.vendor_id and pred.vendor_key == "company_no:789417"
    )
    company, address = pred.fields["company"], pred.fields["address"]
    assert company.value == NAME and company.status == "accepted" and company.history
    assert address.value == ADDRESS and address.status == "accepted"
    assert pred.fields["total"].status == "to_check"  # the registry says nothing about it
    # One confirmation is not enough to accept on the registry alone, nor on the confidence
    # the model gave another reading (a model accepting almost anything).
    pred, _ = predict(text, 0.001, n=1)
    company = pred.fields["company"]
    assert company.value == NAME and company.history == "filled"
    assert company.status == "to_check" and company.confidence == 0.0
    # The columns and the extract JSON carry the vendor and the key that matched.
    frame = predictions_frame(
        RECEIPT,
        [pred],
        "b1",
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert set(frame["vendor_key"]) == {"company_no:789417"}
    assert to_json(RECEIPT, pred)["vendor_id"] == m.vendor_id


def test_a_document_contradicting_its_vendor_is_blocked() -> None:
    # The registration number says BOOK TA .K, the header says another name.
    text = "KEDAI LAIN ENTERPRISE\n(789417-W)\n1 JALAN LAIN\n25/12/2018\nTOTAL 9.00"
    pred, _ = predict(text, 0.0)  # the model alone would accept everything
    company = pred.fields["company"]
    assert company.status == "to_check"
    assert [b.kind for b in company.checks] == ["vendor_conflict"]
    assert pred.route == "review"


def test_two_vendors_matching_route_the_document_to_review() -> None:
    keys = ("phone:0340210276",)
    reg = build_registry(
        [
            Observation("a", "a", "KEDAI A", None, None, keys),
            Observation("b", "b", "KEDAI B", None, None, keys),
        ]
    )
    text = "SOME SHOP\nTEL: 03-4021 0276\n25/12/2018\nTOTAL 9.00"
    m = match_vendor(text, reg)
    bundle = ModelBundle(
        spacy.blank("en"), RECEIPT, Calibration(), dict.fromkeys(RECEIPT.names, 0.0)
    )
    pred = predict_text(bundle, "doc", text, bundle.nlp(text), vendor=m)
    assert pred.vendor_id is None and pred.vendor_key == "phone:0340210276"
    assert [b.kind for b in pred.fields["company"].checks] == ["vendor_ambiguous"]
    assert pred.route == "review"


def test_a_date_outside_the_vendors_years_or_after_arrival_is_checked() -> None:
    text = SEEN + "25/12/2013\nTOTAL 9.00"
    pred, _ = predict(text, 0.0)
    date_field = pred.fields["date"]
    assert date_field.status == "to_check"
    assert [b.kind for b in date_field.checks] == ["date_outside_vendor_history"]
    pred, _ = predict(
        SEEN + "25/12/2018\nTOTAL 9.00", 0.0, dates=DateContext(arrival=date(2018, 12, 1))
    )
    assert [b.kind for b in pred.fields["date"].checks] == ["date_in_future"]
    pred, _ = predict(
        SEEN + "25/12/2018\nTOTAL 9.00", 0.0, dates=DateContext(arrival=date(2018, 12, 26))
    )
    assert pred.fields["date"].status == "accepted"


def test_a_memory_value_the_document_does_not_print_is_not_confirmed_by_the_registry() -> None:
    from docasset.core.extraction.extract import with_vendor
    from docasset.core.extraction.routing import FieldPrediction, RoutingConfig

    # SROIE 026's key typed "TED HENG" where the receipts print "TEO HENG"; the memory filled
    # that typo fuzzily, and the registry's canonical name is the same typo.
    typo = "TED HENG STATIONERY & BOOKS"
    text = "TEO HENG STATIONERY & BOOKS\n(001451637-M)\nNO.53, JALAN BESAR\n"
    keys = tuple(k.ident for k in extract_keys(text))
    reg = build_registry([Observation(f"c{i}", f"d{i}", typo, None, None, keys) for i in (1, 2)])
    m = match_vendor(text, reg)
    assert m is not None and m.name == typo
    company = RECEIPT.spec("company")
    filled = FieldPrediction(typo, 0, 27, "memory", "", 0.99, history="filled")
    out = with_vendor(company, text, filled, m, RoutingConfig())
    assert [b.kind for b in out.checks] == ["vendor_conflict"] and out.history_support == 0
    # The model's own reading of the same value (a repaired legal form) is confirmed.
    read = FieldPrediction(typo, 0, 27, "model", "", 0.5)
    assert with_vendor(company, text, read, m, RoutingConfig()).history == "confirmed"
