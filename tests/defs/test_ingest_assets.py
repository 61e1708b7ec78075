"""raw_scans -> ocr_text -> predictions through real Dagster materializations."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import unquote

import dagster as dg
import polars as pl
from PIL import Image

from docasset.core.extraction.fields import load_doctype
from docasset.core.intake.ledger import new_batch_id, pending_files, write_manifest
from docasset.core.validation.corrections import import_file, latest_per_document, read_store
from docasset.core.workdir import Workdir
from docasset.defs.extraction import predictions
from docasset.defs.intake import raw_scans, scan_quality
from docasset.defs.label_studio import label_studio_tasks
from docasset.defs.ocr import documents, ocr_text
from docasset.defs.validation import review_queue


def _claim(wd: Workdir, instance: dg.DagsterInstance) -> str:
    files = pending_files(wd)
    bid = new_batch_id(files)
    write_manifest(wd, bid, files)
    instance.add_dynamic_partitions("batches", [bid])
    return bid


def test_mixed_batch_ocrs_good_pages_and_quarantines_bad(
    tmp_path: Path, receipts_dir: Path, instance, make_defs
) -> None:
    wd = Workdir(tmp_path / "work")
    imgs = sorted((receipts_dir / "img").iterdir())[:3]
    for p in imgs:
        shutil.copy(p, wd.inbox / p.name)
    shutil.copy(imgs[0], wd.inbox / "again.png")
    (wd.inbox / "truncated.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 50)
    bid = _claim(wd, instance)
    defs = make_defs(wd.root)
    res = dg.materialize(
        [raw_scans, scan_quality, ocr_text, documents, predictions],
        partition_key=bid,
        instance=instance,
        resources=defs.resources,
    )
    assert res.success
    scans = res.output_for_node("raw_scans")
    by_status = dict(scans.unique(subset=["source_name"]).group_by("status").len().iter_rows())
    assert by_status == {"ok": 3, "duplicate": 1, "quarantined": 1}
    assert scans.filter(pl.col("source_name") == "truncated.jpg")["reason"].item() == "corrupt"
    words = res.output_for_node("ocr_text")
    assert set(words["doc_id"].unique()) == set(scans.filter(pl.col("status") == "ok")["doc_id"])
    preds = res.output_for_node("predictions")
    # No production model yet: every document goes to review, saying why.
    assert set(preds["route"]) == {"review"}
    assert all(
        any(b["kind"] == "no_model" for b in bl) for bl in preds["blocker_details"].to_list()
    )
    assert set(preds["field_status"]) == {"to_check"}
    [check] = res.get_asset_check_evaluations()
    assert check.passed and check.metadata["bad_files"].value == 1


def test_scan_quality_gate_blocks_a_bad_batch(tmp_path: Path, instance, make_defs) -> None:
    wd = Workdir(tmp_path / "work")
    for i in range(4):  # distinct sizes: identical bytes would be duplicates, not bad scans
        Image.new("L", (800 + i, 1000), 255).save(wd.inbox / f"blank{i}.png", dpi=(300, 300))
    (wd.inbox / "zero.jpg").write_bytes(b"")
    bid = _claim(wd, instance)
    defs = make_defs(wd.root)
    res = dg.materialize(
        [raw_scans, scan_quality, ocr_text],
        partition_key=bid,
        instance=instance,
        resources=defs.resources,
        raise_on_error=False,
    )
    [check] = res.get_asset_check_evaluations()
    assert not check.passed
    assert check.metadata["bad_share"].value == 1.0
    assert (
        check.metadata["reason_blank"].value == 4 and check.metadata["reason_zero_bytes"].value == 1
    )
    # Blocking: OCR did not run on the bad batch.
    mats = {e.asset_key.to_user_string() for e in res.get_asset_materialization_events()}
    assert mats == {"raw_scans"}


def test_review_queue_round_trips_through_label_studio(
    tmp_path: Path, receipts_dir: Path, instance, make_defs
) -> None:
    wd = Workdir(tmp_path / "work")
    for p in sorted((receipts_dir / "img").iterdir())[:2]:
        shutil.copy(p, wd.inbox / p.name)
    bid = _claim(wd, instance)
    res = dg.materialize(
        [raw_scans, ocr_text, documents, predictions, review_queue, label_studio_tasks],
        partition_key=bid,
        instance=instance,
        resources=make_defs(wd.root).resources,
    )
    assert res.success
    # No Label Studio configured: nothing pushed, and the metadata says so.
    assert res.output_for_node("label_studio_tasks").is_empty()
    [mat] = res.asset_materializations_for_node("label_studio_tasks")
    assert "not configured" in mat.metadata["label_studio"].value  # type: ignore[operator]
    out = wd.root / "review" / bid
    tasks = json.loads((out / "label-studio-tasks.json").read_text())
    queue = [json.loads(x) for x in (out / "queue.jsonl").read_text().splitlines()]
    assert len(tasks) == len(queue) == 2
    config = (out / "label-studio-config.xml").read_text()
    assert '<RectangleLabels name="field"' in config and 'perRegion="true"' in config
    for t in tasks:
        # The page as Label Studio's local-files storage serves it from docasset's archive.
        [page] = t["data"]["pages"]
        assert page.startswith("/data/local-files/?d=archive/")
        assert (wd.root / unquote(page.split("?d=", 1)[1])).is_file()
        assert t["predictions"] == []  # no model yet: nothing is pre-annotated
        assert "no production model" in t["data"]["review_note"]
    # An operator boxes the company, types it, marks the total absent; the JSON export returns.
    task = tasks[0]
    geometry = {"x": 5.0, "y": 4.0, "width": 60.0, "height": 3.0, "rotation": 0}
    region = {"id": "r1", "to_name": "page", "original_width": 1000, "original_height": 1400}
    task["annotations"] = [
        {
            "completed_by": {"id": 2, "email": "op@example.com"},
            "updated_at": "2026-11-24T12:00:00Z",
            "result": [
                {
                    **region,
                    "from_name": "field",
                    "type": "rectanglelabels",
                    "value": {**geometry, "rectanglelabels": ["COMPANY"]},
                },
                {
                    **region,
                    "from_name": "value",
                    "type": "textarea",
                    "value": {**geometry, "text": ["ACME  TRADING SDN BHD"]},
                },
                {
                    "id": "a1",
                    "from_name": "absent",
                    "to_name": "page",
                    "type": "choices",
                    "value": {"choices": ["TOTAL"]},
                },
            ],
        }
    ]
    export = tmp_path / "export.json"
    export.write_text(json.dumps([task]))
    doc_ids = set(res.output_for_node("raw_scans")["doc_id"].drop_nulls())
    result = import_file(export, wd.corrections_store, load_doctype("receipt"), doc_ids)
    assert result.stored == 1
    row = latest_per_document(read_store(wd.corrections_store)).row(0, named=True)
    assert row["annotator"] == "op@example.com" and row["doc_id"] == task["data"]["doc_id"]
    # Typed value as typed (whitespace collapsed); absent is null; untouched fields left out.
    assert json.loads(row["fields_json"]) == {"company": "ACME TRADING SDN BHD", "total": None}
