"""The calibration store: append-only segments, one row per checked value, pooled by re-scoring."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from docasset.core.extraction.calibration_store import (
    append_evidence,
    evidence_frame,
    latest_per_value,
    pooled_evidence,
    read_evidence,
    stamp,
)

T0, T1 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)


def row(doc: str, ok: bool, conf: float = 0.9, feats: dict | None = None, acc: bool = True):
    return {
        "field": "total",
        "doc_id": doc,
        "bin": "both|valid|single",
        "features": feats,
        "confidence": conf,
        "correct": ok,
        "strict": ok,
        "acceptable": acc,
    }


def test_appends_are_segments_written_once_and_read_back(tmp_path: Path) -> None:
    d = tmp_path / "calibration"
    frame = evidence_frame(stamp([row("a", True), row("b", False)], "fold", "v0001", T0))
    first = append_evidence(d, frame, "fold-v0001")
    assert first is not None and first.exists()
    assert append_evidence(d, frame, "fold-v0001") is None  # a re-run appends nothing twice
    qa = evidence_frame(stamp([row("c", True)], "qa", "v0001", T1))
    assert append_evidence(d, qa, "qa-batch1") is not None
    back, problems = read_evidence(d)
    assert problems == {} and back.height == 3
    assert sorted(back["source"].to_list()) == ["fold", "fold", "qa"]


def test_a_damaged_segment_is_reported_and_the_others_still_read(tmp_path: Path) -> None:
    d = tmp_path / "calibration"
    append_evidence(d, evidence_frame(stamp([row("a", True)], "fold", "v1", T0)), "fold-v1")
    (d / "broken-0.parquet").write_bytes(b"PAR1 not parquet")
    back, problems = read_evidence(d)
    assert back.height == 1 and list(problems) == ["broken-0.parquet"]
    with pytest.raises(ValueError, match="source"):
        evidence_frame(stamp([row("a", True)], "guess", "v1", T0))


def test_a_document_counts_once_its_latest_check_wins() -> None:
    frame = evidence_frame(
        stamp([row("a", False)], "fold", "v1", T0) + stamp([row("a", True)], "qa", "v2", T1)
    )
    latest = latest_per_value(frame)
    assert latest.height == 1 and latest["source"][0] == "qa" and latest["correct"][0]


def test_stored_rows_are_rescored_by_the_new_confidence_model() -> None:
    rows = stamp(
        [
            row("a", True, 0.5, {"repeat": 1.0}),
            row("b", True, 0.7),  # no features: only the version that scored it may use it
            row("c", False, 0.9, {"repeat": 0.0}),
            row("d", True, 0.9, {"repeat": 1.0}, acc=False),  # routing could never accept it
            row("e", True, 0.9, {"repeat": 1.0}),
        ],
        "check",
        "v1",
        T0,
    )
    frame = evidence_frame(rows)

    def score(field: str, bin_key: str, feats: dict[str, float]) -> float:
        return 0.95 if feats.get("repeat") else 0.2

    new = pooled_evidence(frame, "v2", score, exclude={("e", "total")})
    assert sorted(new) == [("total", 0.2, False, "check"), ("total", 0.95, True, "check")]
    same = pooled_evidence(frame, "v1", score, exclude=set())
    assert ("total", 0.7, True, "check") in same and len(same) == 4
