"""raw_scans -> ocr_text -> predictions through real Dagster materializations."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import unquote

import dagster as dg
import polars as pl
from PIL import Image

from docasset.core.extraction.fields import load_doctype
from docasset.core.intake.inbox import claim_now
from docasset.core.validation.corrections import import_file, latest_per_document, read_store
from docasset.core.workdir import Workdir
from docasset.defs.extraction import predictions
from docasset.defs.intake import raw_scans, scan_quality
from docasset.defs.label_studio import label_studio_tasks
from docasset.defs.ocr import documents, ocr_failures, ocr_text
from docasset.defs.validation import review_queue


def _claim(wd: Workdir, instance: dg.DagsterInstance) -> str:
    [claimed] = claim_now(wd)
    instance.add_dynamic_partitions("batches", [claimed.batch_id])
    return claimed.batch_id


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
    by_status = dict(scans.unique(subset=["entry"]).group_by("status").len().iter_rows())
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
    # The truncated file is refused by intake: reported, not counted as a bad scan.
    assert check.passed and check.metadata["bad_files"].value == 0
    assert check.metadata["refused"].value == 1


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


def _fax(path: Path) -> None:
    from fixtures.badinput import page

    page(3).convert("1").save(path, format="TIFF", compression="group4", dpi=(200, 200))


def test_a_group4_fax_and_a_non_utf8_name_go_through_ocr_and_predictions(
    tmp_path: Path, instance, make_defs
) -> None:
    """Issue 11: a 1-bit Group-4 TIFF failed ocr_text (``encoder error -2``) and a non-UTF-8
    file name failed raw_scans (``UnicodeEncodeError``), poisoning the whole batch."""
    wd = Workdir(tmp_path / "work")
    _fax(wd.inbox / "fax.tif")
    raw = os.fsencode(wd.inbox) + b"/re\xe7u \xff.png"
    Image.new("L", (300, 100), 255).save(os.fsdecode(raw), format="PNG")
    bid = _claim(wd, instance)
    res = dg.materialize(
        [raw_scans, ocr_text, documents, predictions],
        partition_key=bid,
        instance=instance,
        resources=make_defs(wd.root).resources,
    )
    assert res.success
    scans = res.output_for_node("raw_scans")
    assert set(scans["status"]) == {"ok"}
    odd = scans.filter(pl.col("source_name_hex").is_not_null()).row(0, named=True)
    assert odd["source_name"] == "re\\xe7u \\xff.png"
    assert bytes.fromhex(odd["source_name_hex"]) == b"re\xe7u \xff.png"
    words = res.output_for_node("ocr_text")
    fax_id = scans.filter(pl.col("source_name") == "fax.tif")["doc_id"].item()
    assert "STORE" in words.filter(pl.col("doc_id") == fax_id)["text"].to_list()
    assert res.output_for_node("predictions")["doc_id"].n_unique() == 2


def test_one_document_failing_ocr_is_its_outcome_and_the_check_warns(
    tmp_path: Path, receipts_dir: Path, instance, make_defs, monkeypatch
) -> None:
    import docasset.core.ocr.tesseract as tess

    wd = Workdir(tmp_path / "work")
    imgs = sorted((receipts_dir / "img").iterdir())[:3]
    for p in imgs:
        shutil.copy(p, wd.inbox / p.name)
    bid = _claim(wd, instance)
    real = tess.prepare_page

    def broken_for_one(img, dpi, quality, config):  # type: ignore[no-untyped-def]
        if img.size == victim_size[0]:
            raise IndexError("a bug only this page triggers")
        return real(img, dpi, quality, config)

    with Image.open(imgs[1]) as im:
        victim_size = [im.size]
    monkeypatch.setattr(tess, "prepare_page", broken_for_one)
    res = dg.materialize(
        [raw_scans, ocr_text, ocr_failures, documents, predictions],
        partition_key=bid,
        instance=instance,
        resources=make_defs(wd.root).resources,
    )
    assert res.success  # one document's failure is not the step's
    scans = res.output_for_node("raw_scans")
    victim = scans.filter(pl.col("source_name") == imgs[1].name)["doc_id"].to_list()
    mats = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in res.get_asset_materialization_events()
    }
    assert mats["ocr_text"]["ocr_failures"].value == 1
    assert "IndexError: a bug only this page triggers" in str(mats["ocr_text"]["failures"].value)
    preds = res.output_for_node("predictions")
    blockers = preds.filter(pl.col("doc_id") == victim[0])["blockers"].to_list()[0]
    [failed] = [b for b in blockers if b.startswith("ocr failed (DocumentError")]
    assert "IndexError" in failed
    assert preds["doc_id"].n_unique() == 3
    [check] = [c for c in res.get_asset_check_evaluations() if c.check_name == "ocr_failures"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR  # 1/3 > 0.2
    assert check.metadata["failed"].value == 1 and check.metadata["documents"].value == 3


def test_an_infrastructure_failure_fails_the_step_and_a_rerun_completes_without_duplicates(
    tmp_path: Path, receipts_dir: Path, instance, make_defs, monkeypatch
) -> None:
    import errno

    import docasset.core.intake.ledger as ledger

    wd = Workdir(tmp_path / "work")
    for p in sorted((receipts_dir / "img").iterdir())[:3]:
        shutil.copy(p, wd.inbox / p.name)
    bid = _claim(wd, instance)
    real = ledger.append_line
    calls = []

    def disk_full_on_second(path, line):  # type: ignore[no-untyped-def]
        calls.append(line)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, line)

    monkeypatch.setattr(ledger, "append_line", disk_full_on_second)
    resources = make_defs(wd.root).resources
    failed = dg.materialize(
        [raw_scans, ocr_text],
        partition_key=bid,
        instance=instance,
        resources=resources,
        raise_on_error=False,
    )
    assert not failed.success
    monkeypatch.undo()
    again = dg.materialize(
        [raw_scans, ocr_text], partition_key=bid, instance=instance, resources=resources
    )
    assert again.success
    scans = again.output_for_node("raw_scans")
    assert scans.unique(subset=["entry"]).height == 3 and set(scans["status"]) == {"ok"}
    lines = (wd.index / f"{bid}.jsonl").read_text().splitlines()
    assert len(lines) == 3  # each entry recorded once
    assert again.output_for_node("ocr_text")["doc_id"].n_unique() == 3
