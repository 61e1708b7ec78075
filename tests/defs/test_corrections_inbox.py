"""The corrections inbox through the sensor and a real import run (issue 11)."""

from __future__ import annotations

import json
from pathlib import Path

from docasset.core.intake.index import DocumentIndex
from docasset.core.validation.corrections import read_store
from docasset.core.workdir import Workdir
from docasset.defs.driver import LocalDriver


def _known(wd: Workdir, doc_id: str) -> None:
    ix = DocumentIndex.for_root(wd.root)
    ix.claim(doc_id, "b-test", "0001-x.png", "x.png", f"archive/{doc_id}.png")
    ix.set_status(doc_id, "ok")


def test_a_bad_file_is_rejected_by_the_run_and_the_valid_files_after_it_imported(
    tmp_path: Path, instance, make_defs
) -> None:
    """Issue 11: one malformed Label Studio export failed the import run and blocked every
    valid file after it; the run key did not change, so nothing retried."""
    wd = Workdir(tmp_path / "work")
    _known(wd, "aaaa000000000001")
    driver = LocalDriver(instance, make_defs(wd.root), wd.root)
    bad = [{"data": {"doc_id": "aaaa000000000001"}, "annotations": [{"result": [[1]]}]}]
    (wd.corrections_inbox / "a-export.json").write_text(json.dumps(bad))
    good = {
        "doc_id": "aaaa000000000001",
        "fields": {"total": "9.00"},
        "annotator": "alice",
        "timestamp": "2026-11-24T10:00:00Z",
    }
    (wd.corrections_inbox / "b-good.jsonl").write_text(json.dumps(good) + "\n")
    [run] = driver.tick("corrections_sensor")
    assert run.success
    meta = run.get_asset_materialization_events()[0].materialization.metadata
    assert meta["files_imported"].value == 1 and meta["files_rejected"].value == 1
    assert read_store(wd.corrections_store).height == 1
    reasons = (wd.corrections_rejected / "a-export.json.reasons.txt").read_text()
    assert "result 1 is not an object" in reasons
    assert list(wd.corrections_inbox.iterdir()) == []
    assert driver.tick("corrections_sensor") == []  # nothing left: no run
    (wd.corrections_inbox / "c-again.jsonl").write_text(json.dumps(good) + "\n")
    [again] = driver.tick("corrections_sensor")  # a new inbox state, a new run key
    assert again.success and read_store(wd.corrections_store).height == 1  # no duplicate
