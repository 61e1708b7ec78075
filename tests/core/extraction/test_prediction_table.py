"""The predictions frame carries per-field status and structured blockers, and round-trips."""

from __future__ import annotations

from datetime import UTC, datetime

from docasset.core.evaluation.metrics import CONFIRM_SECONDS, KEY_SECONDS, score
from docasset.core.extraction.fields import load_doctype
from docasset.core.extraction.prediction_table import (
    blocker_counts,
    documents,
    from_frame,
    predictions_frame,
    to_json,
)
from docasset.core.extraction.routing import Blocker, DocPrediction, FieldPrediction

RECEIPT = load_doctype("receipt")
TRUTH = {"company": "ACME SDN BHD", "date": "01/02/2019", "address": "1 JALAN", "total": "9.00"}


def _pred(doc_id: str, statuses: dict[str, str], values: dict[str, str | None]) -> DocPrediction:
    fields = {
        n: FieldPrediction(
            values.get(n, v), 0, 3, "model", "b", 0.9, status=statuses.get(n, "accepted"),  # type: ignore[arg-type]
            memory_entry="e1" if n == "address" else None,
            history="confirmed" if n == "address" else None,
        )
        for n, v in TRUTH.items()
    }  # fmt: skip
    blockers = [Blocker("low_confidence", n, "0.90 < 0.95") for n, s in statuses.items()]
    return DocPrediction(doc_id, fields, "review" if blockers else "auto", blockers, "v1", 0.6)


def test_frame_has_status_and_structured_blockers_and_round_trips() -> None:
    preds = [
        _pred("a", {}, {}),
        _pred("b", {"total": "to_check"}, {"total": "8.00"}),
        _pred("c", {"date": "to_check", "total": "to_check"}, {}),
    ]
    df = predictions_frame(RECEIPT, preds, "b1", datetime(2026, 1, 1, tzinfo=UTC))
    assert df.filter(df["doc_id"] == "b")["field_status"].to_list() == [
        "accepted", "accepted", "accepted", "to_check"
    ]  # fmt: skip
    assert set(df["history"].drop_nulls()) == {"confirmed"}
    docs = documents(df)
    assert docs["fields_to_check"].to_list() == [0, 1, 2]
    assert docs.row(1, named=True)["blocker_details"] == [
        {"kind": "low_confidence", "field": "total", "detail": "0.90 < 0.95"}
    ]
    counts = blocker_counts(df)
    assert counts["low_confidence"] == 2 and counts["history_conflict"] == 0
    back = {p.doc_id: p for p in from_frame(df)}
    assert back["b"].blockers == preds[1].blockers and back["b"].statuses() == preds[1].statuses()
    assert back["a"].fields["address"].memory_entry == "e1"
    j = to_json(RECEIPT, preds[1])
    assert j["field_status"]["total"] == "to_check" and j["blockers"] == [
        "low confidence total (0.90 < 0.95)"
    ]


def test_field_automation_accuracy_and_operator_seconds() -> None:
    preds = [
        _pred("a", {}, {}),  # touchless, right
        _pred("b", {"total": "to_check"}, {"total": "8.00"}),  # the wrong total is checked
        _pred("c", {"date": "to_check"}, {"company": "ACME"}),  # a wrong company accepted
    ]
    s = score(RECEIPT, preds, dict.fromkeys("abc", TRUTH))
    assert s.field_automation == 10 / 12
    assert s.accepted_field_accuracy == 9 / 10
    assert s.automation_rate == 1 / 3 and s.touchless_accuracy == 1.0
    assert s.operator_seconds == KEY_SECONDS + CONFIRM_SECONDS
    assert s.fields["total"].automation == 2 / 3 and s.fields["company"].accepted_accuracy == 2 / 3
    assert s.as_dict()["blocker_docs"] == {"low_confidence": 2}
