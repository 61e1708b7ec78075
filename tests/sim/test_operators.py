"""Simulated operators answer from the ground truth, and a hole in it costs one field only."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from docasset.core.extraction.fields import load_doctype
from docasset.core.validation.corrections import parse_bytes
from docasset.errors import CorrectionsError
from docasset.sim.simulation import _correction

RECEIPT = load_doctype("receipt")


def test_an_empty_truth_value_is_left_unanswered_so_the_weeks_file_imports() -> None:
    stamp = datetime(2026, 12, 1, tzinfo=UTC).isoformat()
    full = {"company": "KEDAI MAJU", "date": "25/12/2018", "address": "JALAN 1", "total": "9.00"}
    holed = {**full, "total": " "}
    recs = [
        _correction("a1", full, "op", stamp, RECEIPT),
        _correction("b2", holed, "op", stamp, RECEIPT),
    ]
    assert recs[0] is not None and recs[1] is not None
    assert recs[1]["fields"] == {k: v for k, v in full.items() if k != "total"}
    assert recs[1]["verdict"] is None
    truncated = _correction("c3", {**full, "date": "3/15/202"}, "op", stamp, RECEIPT)
    assert truncated is not None and "date" not in truncated["fields"]  # a refused value
    assert _correction("d4", {"total": ""}, "op", stamp, RECEIPT) is None  # nothing to answer
    assert _correction("e5", {}, "op", stamp, RECEIPT) == {
        "doc_id": "e5",
        "fields": {},
        "annotator": "op",
        "timestamp": stamp,
        "verdict": "irrelevant",
    }
    raw = "".join(json.dumps(r) + "\n" for r in recs).encode()
    stored = parse_bytes(raw, "week.jsonl", RECEIPT, None, datetime(2026, 12, 2, tzinfo=UTC))
    assert [r["doc_id"] for r in stored] == ["a1", "b2"]  # both stored: the file imports
    with pytest.raises(CorrectionsError, match="total: empty"):  # what the hole did before
        unanswered = {**recs[1], "fields": {**recs[1]["fields"], "total": ""}}
        parse_bytes(json.dumps(unanswered).encode(), "w", RECEIPT, None)
