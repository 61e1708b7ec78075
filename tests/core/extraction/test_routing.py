"""Field-level routing: per-field status, touchless documents, structured blockers."""

from __future__ import annotations

from docasset.core.extraction.fields import load_doctype
from docasset.core.extraction.routing import (
    NEVER,
    Blocker,
    FieldPrediction,
    RoutingConfig,
    Thresholds,
    precision_cut,
    route_document,
)

RECEIPT = load_doctype("receipt")
INVOICE = load_doctype("invoice")
CFG = RoutingConfig()
RIGHT = {"company": "ACME SDN BHD", "date": "01/02/2019", "address": "1 JALAN", "total": "9.00"}


def _fields(conf: dict[str, float], **kw: FieldPrediction) -> dict[str, FieldPrediction]:
    out = {
        n: FieldPrediction(v, 0, len(v), "model", "b", conf.get(n, 0.999)) for n, v in RIGHT.items()
    }
    return out | kw


def test_fields_clear_their_own_threshold_and_the_rest_is_to_check() -> None:
    th = Thresholds({"company": 0.9, "date": 0.9, "address": NEVER, "total": 0.9})
    fields, route, blockers, _ = route_document(RECEIPT, _fields({}), th, CFG)
    assert {n: f.status for n, f in fields.items()} == {
        "company": "accepted",
        "date": "accepted",
        "address": "to_check",
        "total": "accepted",
    }
    assert route == "review"
    assert [(b.kind, b.field) for b in blockers] == [("low_confidence", "address")]
    assert blockers[0].text == "low confidence address (1.00, no certified threshold)"


def test_touchless_needs_every_field_accepted_and_the_document_threshold() -> None:
    th = Thresholds(dict.fromkeys(RIGHT, 0.9), document=0.99)
    _, route, blockers, conf = route_document(RECEIPT, _fields({}), th, CFG)
    assert route == "auto" and not blockers and conf == round(0.999**4, 4)
    weak = _fields({"total": 0.95})  # accepted alone (0.95 >= 0.9), but the product is 0.947
    fields, route, blockers, _ = route_document(RECEIPT, weak, th, CFG)
    assert fields["total"].status == "accepted" and route == "review"
    assert [b.kind for b in blockers] == ["low_doc_confidence"]


def test_history_accepts_a_stable_field_below_threshold_and_checks_block_above() -> None:
    th = Thresholds(dict.fromkeys(RIGHT, 0.9))
    k = CFG.history_min_support
    confirmed = FieldPrediction(
        RIGHT["address"], 0, 7, "model", "b", 0.4, history="confirmed", history_support=k
    )
    once = FieldPrediction(
        RIGHT["company"], 0, 7, "memory", "b", 0.4, history="filled", history_support=k - 1
    )
    conflict = Blocker("total_inconsistent", "total", "tender gives 9.50")
    bad_total = FieldPrediction("9.00", 0, 4, "model", "b", 0.999, checks=(conflict,))
    fields, route, blockers, _ = route_document(
        RECEIPT, _fields({}, address=confirmed, company=once, total=bad_total), th, CFG
    )
    assert fields["address"].status == "accepted"  # the vendor history alone
    assert fields["company"].status == "to_check"  # typed once: not yet history
    assert fields["total"].status == "to_check" and conflict in blockers  # despite 0.999
    assert route == "review"


def test_a_value_the_ocr_read_uncertainly_is_checked_unless_the_history_accepts_it() -> None:
    th = Thresholds(dict.fromkeys(RIGHT, 0.9))
    v = RIGHT["date"]
    misread = FieldPrediction(v, 0, len(v), "rule", "b", 0.9997, ocr_conf=0.7)
    fields, _, blockers, _ = route_document(RECEIPT, _fields({}, date=misread), th, CFG)
    assert fields["date"].status == "to_check"
    assert [(b.kind, b.field) for b in blockers] == [("low_ocr_confidence", "date")]
    assert blockers[0].detail == "OCR word confidence 0.70 < 0.80"
    clear = FieldPrediction(v, 0, len(v), "rule", "b", 0.9997, ocr_conf=0.95)
    unknown = FieldPrediction(v, 0, len(v), "rule", "b", 0.9997)  # the engine gave none
    for f in (clear, unknown):
        assert route_document(RECEIPT, _fields({}, date=f), th, CFG)[0]["date"].status == (
            "accepted"
        )
    # The vendor's typed value accepts it whatever the OCR made of it; the floor can be off.
    a = RIGHT["address"]
    typed = FieldPrediction(
        a, 0, 7, "memory", "b", 0.4, ocr_conf=0.2, history="filled", history_support=2
    )
    assert route_document(RECEIPT, _fields({}, address=typed), th, CFG)[0]["address"].status == (
        "accepted"
    )
    off = RoutingConfig(min_ocr_conf=0.0)
    assert route_document(RECEIPT, _fields({}, date=misread), th, off)[0]["date"].status == (
        "accepted"
    )


def test_document_blockers_put_every_field_to_check() -> None:
    th = Thresholds(dict.fromkeys(RIGHT, 0.0))
    fields, route, blockers, _ = route_document(
        RECEIPT, _fields({}), th, CFG, [Blocker("bad_scan", None, "low_dpi")]
    )
    assert route == "review" and {f.status for f in fields.values()} == {"to_check"}
    assert blockers == [Blocker("bad_scan", None, "low_dpi")]
    assert blockers[0].as_dict() == {"kind": "bad_scan", "field": None, "detail": "low_dpi"}


def test_missing_required_field_is_blocked_and_absent_optional_one_is_accepted() -> None:
    names = [s.name for s in INVOICE.fields]
    fields = {n: FieldPrediction(None, 0, 0, "none", "none", 0.0) for n in names}
    out, route, blockers, _ = route_document(INVOICE, fields, Thresholds({}), CFG)
    assert route == "review"
    assert out["iban"].status == "accepted" and out["total"].status == "to_check"
    assert {b.field for b in blockers if b.kind == "missing"} == set(INVOICE.required)
    # A failed cross-field rule blocks its target field.
    _, _, blockers, _ = route_document(
        INVOICE, fields, Thresholds({}), CFG, rule_problems=[("total", "11 != 10 + 0")]
    )
    assert Blocker("validator_failed", "total", "11 != 10 + 0") in blockers


def test_precision_cut_needs_support_and_cuts_between_distinct_scores() -> None:
    rows = [(0.99, True)] * 10 + [(0.8, True)] * 5 + [(0.8, False)]
    assert precision_cut(rows, 0.99, 8) == 0.99
    assert precision_cut(rows, 0.9, 8) == 0.8  # 15/16 right at or above 0.8
    assert precision_cut(rows[:5], 0.99, 8) == NEVER  # too few
