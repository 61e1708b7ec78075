"""Fields the operator was not asked (accepted by docasset) complete the correction."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl

from docasset.core.training.promotion import fill_accepted
from docasset.core.validation.corrections import STORE_COLUMNS


def _store(*rows: dict) -> pl.DataFrame:
    base = {k: None for k in STORE_COLUMNS}
    return pl.DataFrame([{**base, **r} for r in rows], schema=STORE_COLUMNS)


def _preds(*rows: tuple[str, str, str | None, str, int]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "doc_id": d,
                "field": f,
                "value": v,
                "field_status": s,
                "predicted_at": datetime(2026, 11, day, tzinfo=UTC),
            }
            for d, f, v, s, day in rows
        ]
    )


def test_accepted_fields_left_out_are_filled_and_answers_stay_the_operators() -> None:
    store = _store(
        {"doc_id": "a", "correction_id": "c1", "fields_json": json.dumps({"total": "9.00"})},
        {"doc_id": "b", "correction_id": "c2", "fields_json": json.dumps({"date": None})},
        {"doc_id": "c", "correction_id": "c3", "verdict": "irrelevant", "fields_json": "{}"},
    )
    preds = _preds(
        ("a", "date", "01/02/2026", "accepted", 1),
        ("a", "total", "8.00", "accepted", 1),  # answered by the operator: theirs wins
        ("a", "company", "OLD", "accepted", 1),
        ("a", "company", "ACME SDN BHD", "accepted", 2),  # the latest prediction
        ("a", "address", "somewhere", "to_check", 2),  # asked, left untouched: not filled
        ("b", "date", "01/02/2026", "accepted", 1),  # answered "not on this document"
        ("c", "total", "1.00", "accepted", 1),
    )
    out = {r["doc_id"]: r for r in fill_accepted(store, preds).iter_rows(named=True)}
    assert json.loads(out["a"]["fields_json"]) == {
        "total": "9.00",
        "date": "01/02/2026",
        "company": "ACME SDN BHD",
    }
    assert json.loads(out["b"]["fields_json"]) == {"date": None}
    assert out["c"]["fields_json"] == "{}" and out["c"]["verdict"] == "irrelevant"


def test_without_field_level_predictions_corrections_are_unchanged() -> None:
    store = _store({"doc_id": "a", "correction_id": "c1", "fields_json": "{}"})
    assert fill_accepted(store, None).equals(store)
    old = pl.DataFrame({"doc_id": ["a"], "field": ["total"], "value": ["1"]})
    assert fill_accepted(store, old).equals(store)
