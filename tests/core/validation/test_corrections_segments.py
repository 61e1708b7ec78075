"""Corrections segments carry a checksum: a damaged one is reported, never read as fewer
corrections, and re-importing its archived original brings the records back (issue 23
defect 2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from docasset.core.extraction.fields import load_doctype
from docasset.core.validation.corrections import (
    import_file,
    latest_per_document,
    read_store,
    segment_damage,
)
from docasset.core.validation.corrections_inbox import archive
from docasset.core.workdir import Workdir

RECEIPT = load_doctype("receipt")
IDS = [f"cccc{i:012d}" for i in range(16)]
NOW = datetime(2026, 11, 25, tzinfo=UTC)


def _file(tmp_path: Path) -> Path:
    lines = [
        json.dumps(
            {
                "doc_id": d,
                "fields": {"company": f"SHOP {i}", "total": f"{i}.00"},
                "annotator": "alice",
                "timestamp": "2026-11-24T10:00:00Z",
            }
        )
        for i, d in enumerate(IDS)
    ]
    path = tmp_path / "batch-16.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def test_a_truncated_segment_is_reported_and_its_archived_original_re_imports(
    tmp_path: Path,
) -> None:
    wd = Workdir(tmp_path / "work")
    src = _file(tmp_path)
    res = import_file(src, wd.corrections_store, RECEIPT, set(IDS), NOW)
    archived = archive(wd, src, res, move=True)
    seg = wd.corrections_store / str(res.segment)
    assert segment_damage(seg) is None
    seg.write_bytes(seg.read_bytes()[: seg.stat().st_size * 6 // 10])  # a failing disk

    store = read_store(wd.corrections_store)
    damaged = store.filter(store["correction_id"].is_null())
    assert damaged.height == 1  # before: no problem row, 7 corrections silently gone
    problem = damaged["problem"].item()
    assert seg.name in problem and "checksum mismatch" in problem
    assert f"docasset corrections import {archived}" in problem
    assert latest_per_document(store).height < 16

    again = import_file(archived, wd.corrections_store, RECEIPT, set(IDS), NOW)
    assert not again.already_imported and again.stored == 16  # before: "already imported"
    store = read_store(wd.corrections_store)
    assert store["problem"].null_count() == store.height == 16
    assert sorted(latest_per_document(store)["doc_id"]) == IDS
    assert (wd.root / "corrections" / "damaged" / seg.name).is_file()  # kept, out of the way
    assert import_file(archived, wd.corrections_store, RECEIPT, set(IDS), NOW).already_imported
