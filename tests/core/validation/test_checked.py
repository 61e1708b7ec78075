"""Blind QA of accepted fields and checked values: queued, answered, stored as evidence."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from docasset.core.extraction.calibration_store import read_evidence, store_dir
from docasset.core.extraction.fields import load_doctype
from docasset.core.extraction.prediction_table import PREDICTION_COLUMNS
from docasset.core.validation.checked import (
    asked_dir,
    qa_accuracy,
    read_asked,
    record_asked,
    record_checks,
)
from docasset.core.validation.corrections import import_file, read_store
from docasset.core.validation.review_queue import in_qa_fields, review_queue_frame

RECEIPT = load_doctype("receipt")
AT = datetime(2026, 11, 24, tzinfo=UTC)


def _row(doc: str, field: str, value: str | None, status: str, route: str, **kw) -> dict:
    return {
        "doc_id": doc,
        "batch_id": "b1",
        "doc_type": "receipt",
        "model_version": "v0001",
        "predicted_at": AT,
        "route": route,
        "blockers": [],
        "blocker_details": kw.pop("blockers", []),
        "doc_confidence": 0.9,
        "field": field,
        "required": True,
        "value": value,
        "normalized": None,
        "confidence": 0.97 if status == "accepted" else 0.6,
        "source": kw.pop("source", "model"),
        "start": 0,
        "end": 0,
        "ocr_conf": 90.0,
        "bad_scan": False,
        "field_status": status,
        "features": json.dumps({"repeat": 1.0}),
        **kw,
    }


def _preds(n_docs: int) -> pl.DataFrame:
    rows = []
    for i in range(n_docs):
        route = "auto" if i % 2 else "review"
        for f in RECEIPT.names:
            status = "to_check" if route == "review" and f == "total" else "accepted"
            rows.append(_row(f"d{i}", f, f"{f}-{i}", status, route))
    return pl.DataFrame(rows, schema=PREDICTION_COLUMNS)


def test_qa_fields_are_a_stable_share_asked_blind() -> None:
    preds = _preds(400)
    queued = review_queue_frame(preds, sample_rate=0.0, qa_rate=0.05)
    again = review_queue_frame(preds, sample_rate=0.0, qa_rate=0.05)
    assert queued.equals(again)  # stable: a re-run asks the same fields
    qa = queued.filter(pl.col("qa"))
    accepted = preds.filter(pl.col("field_status") == "accepted").height
    assert 0.03 * accepted < qa.height < 0.07 * accepted
    assert set(qa["field_status"]) == {"to_check"}  # asked like any other field
    assert all(in_qa_fields(d, f, 0.05) for d, f in qa.select("doc_id", "field").iter_rows())
    # A touchless document holding a QA field is queued; the others stay out.
    auto_qa = set(qa.filter(pl.col("route") == "auto")["doc_id"])
    auto_queued = set(queued.filter(pl.col("route") == "auto")["doc_id"])
    assert auto_qa and auto_queued == auto_qa
    assert set(queued.filter(pl.col("route") == "auto")["queue_reason"]) == {"qa_sample"}
    # Fields not sampled keep their status; nothing is asked with the rates at 0.
    kept = queued.filter(~pl.col("qa") & (pl.col("route") == "review"))
    assert "accepted" in set(kept["field_status"])
    off = review_queue_frame(preds, sample_rate=0.0, qa_rate=0.0)
    assert not off["qa"].any() and set(off["route"]) == {"review"}
    # The document sample asks every accepted field of a sampled touchless document.
    whole = review_queue_frame(preds, sample_rate=1.0, qa_rate=0.0)
    assert whole.filter(pl.col("route") == "auto")["qa"].all()


def test_answers_to_asked_values_become_qa_and_check_evidence(tmp_path: Path) -> None:
    models = tmp_path / "models"
    preds = pl.DataFrame(
        [
            _row("a", "date", "01/02/2019", "accepted", "auto"),
            _row("a", "total", "9.00", "accepted", "auto"),
            _row("b", "total", "8.00", "to_check", "review"),  # proposed below threshold
            _row(  # an inconsistent total: routing could never accept it
                "b",
                "date",
                "02/02/2019",
                "to_check",
                "review",
                blockers=[{"kind": "ambiguous", "field": "date", "detail": ""}],
            ),
            _row("b", "company", "ACME", "to_check", "review", source="memory"),
        ],
        schema=PREDICTION_COLUMNS,
    )
    queued = review_queue_frame(preds, sample_rate=1.0, qa_rate=0.0)
    assert record_asked(asked_dir(models), "b1", queued) == 4  # the memory value is not a model's
    asked, problems = read_asked(asked_dir(models))
    assert problems == {} and asked.height == 4
    f = tmp_path / "c.jsonl"
    recs = [
        {"doc_id": "a", "fields": {"date": "2019-02-01", "total": "9.50"}},
        {"doc_id": "b", "fields": {"total": "8.00", "date": "02/02/2019"}},
    ]
    f.write_text(
        "".join(
            json.dumps({"annotator": "op", "timestamp": "2026-11-25T10:00:00Z", **r}) + "\n"
            for r in recs
        )
    )
    import_file(f, tmp_path / "store", RECEIPT, {"a", "b"})
    store = read_store(tmp_path / "store")
    assert record_checks(models, RECEIPT, store) == 4
    assert record_checks(models, RECEIPT, store) == 0  # answered once, stored once
    ev, _ = read_evidence(store_dir(models))
    got = {(r["doc_id"], r["field"]): r for r in ev.iter_rows(named=True)}
    assert got["a", "date"]["source"] == "qa" and got["a", "date"]["correct"]
    assert not got["a", "date"]["strict"]  # the same calendar date typed another way
    assert got["a", "total"]["source"] == "qa" and not got["a", "total"]["correct"]
    assert got["b", "total"]["source"] == "check" and got["b", "total"]["acceptable"]
    assert not got["b", "date"]["acceptable"]
    qa = qa_accuracy(ev)
    assert (qa["n"], qa["right"], qa["accuracy"], qa["strict_accuracy"]) == (2, 1, 0.5, 0.0)
    lo, hi = qa["interval"]
    assert 0 < lo < 0.5 < hi < 1
    assert qa_accuracy(ev.clear())["accuracy"] is None  # absent, not 0
