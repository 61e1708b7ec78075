"""Annotations checked at pull: who is refused, what the task then shows, the open ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docasset.core.extraction.fields import load_doctype
from docasset.core.validation.ls_review import (
    REJECTED,
    RejectionLedger,
    flagged_data,
    review_pulled,
)

RECEIPT = load_doctype("receipt")
DOC = "aaaa000000000001"


def _task(total: str, doc: str = DOC) -> dict[str, Any]:
    geometry = {"x": 5.0, "y": 5.0, "width": 20.0, "height": 3.0, "rotation": 0}
    base = {"id": "t", "to_name": "page", "original_width": 1000, "original_height": 2000}
    return {
        "id": 7,
        "data": {"pages": ["/data/local-files/?d=archive/a.png"], "doc_id": doc},
        "annotations": [
            {
                "id": 3,
                "completed_by": {"id": 2, "email": "op@example.com"},
                "updated_at": "2026-12-01T10:00:00Z",
                "result": [
                    {
                        **base,
                        "from_name": "field",
                        "type": "rectanglelabels",
                        "value": {**geometry, "rectanglelabels": ["TOTAL"]},
                    },
                    {
                        **base,
                        "from_name": "value",
                        "type": "textarea",
                        "value": {**geometry, "text": [total]},
                    },
                ],
            }
        ],
    }


def test_a_slip_is_refused_with_its_reason_and_the_fix_closes_it(tmp_path: Path) -> None:
    ledger = RejectionLedger(tmp_path / "corrections")
    rejected, passed = review_pulled([_task("71.00No.J-G-02")], RECEIPT, {DOC})
    [r] = rejected
    assert passed == [] and (r.doc_id, r.task_id, r.annotation_id) == (DOC, 7, 3)
    assert r.annotator == "op@example.com"
    assert any("total: not an amount ('71.00No.J-G-02')" in why for why in r.reasons)
    ledger.update(rejected, [])
    assert set(ledger.open()) == {DOC}  # open until fixed, whatever runs in between
    rejected, passed = review_pulled([_task("71.00")], RECEIPT, {DOC})
    assert rejected == [] and passed == [DOC]
    ledger.update(rejected, passed)
    assert ledger.open() == {}


def test_the_task_shows_the_refusal_and_old_tasks_get_the_keys_the_config_reads() -> None:
    [r] = review_pulled([_task("abc")], RECEIPT, {DOC})[0]
    old = {"pages": ["/p.png"], "doc_id": DOC, "review_note": "To check: total."}
    shown = flagged_data(old, r)
    assert shown["status"] == REJECTED and shown["thumbnail"] == "/p.png"
    assert shown["rejection"].startswith("REJECTED by docasset, nothing stored: total: not an")
    assert "task 1" not in shown["rejection"]  # the operator's words, not the file's
    cleared = flagged_data(shown, None)
    assert (cleared["status"], cleared["rejection"]) == ("corrected", "")
