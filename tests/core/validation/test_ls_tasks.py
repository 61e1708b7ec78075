"""Label Studio tasks out (config, boxes from OCR words, values shown) and annotations in."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from PIL import Image

from docasset.core.extraction.extract import DocPrediction, FieldPrediction
from docasset.core.extraction.fields import load_doctype
from docasset.core.intake.scans import IntakeLimits, inspect_file
from docasset.core.ocr.text import document_text, word_offsets
from docasset.core.validation.corrections import import_file, read_store
from docasset.core.validation.ls_config import labelling_config
from docasset.core.validation.ls_tasks import (
    TaskPage,
    local_files_url,
    page_files,
    review_task,
)
from docasset.errors import CorrectionsError, LabelStudioError

RECEIPT = load_doctype("receipt")
DOC = "aaaa000000000001"
KNOWN = {DOC, "aaaa000000000002"}


@pytest.mark.parametrize("doctype", ["receipt", "invoice"])
def test_labelling_config_puts_fields_verdicts_and_absent_beside_the_page(doctype: str) -> None:
    dt = load_doctype(doctype)
    root = ET.fromstring(labelling_config(dt))
    image_col, controls = list(root)  # side by side: the page, then everything to answer
    assert "flex" in root.get("style", "")
    assert image_col.find("Image").get("valueList") == "$pages"  # type: ignore[union-attr]
    by_name = {e.get("name"): e for e in controls.iter() if e.get("name")}
    assert [lab.get("value") for lab in by_name["field"]] == [f.label for f in dt.fields]
    assert by_name["field"].tag == "RectangleLabels"
    value = by_name["value"]
    assert (value.tag, value.get("perRegion"), value.get("toName")) == ("TextArea", "true", "page")
    assert [c.get("value") for c in by_name["verdict"]] == ["irrelevant", "bad_scan"]
    assert [c.get("value") for c in by_name["absent"]] == [f.label for f in dt.fields]
    assert [c.get("value") for c in by_name["status"]] == ["accepted"]
    assert by_name["status"].get("perRegion") == "true"


def _words() -> pl.DataFrame:
    rows = [  # two lines: "ACME SDN BHD" / "TOTAL 9.00", boxes in page pixels
        (1, 1, "ACME", 100, 50, 80, 20),
        (1, 2, "SDN", 190, 50, 50, 20),
        (1, 3, "BHD", 250, 52, 50, 20),
        (2, 1, "TOTAL", 100, 900, 90, 22),
        (2, 2, "9.00", 600, 898, 60, 24),
    ]
    return pl.DataFrame(
        [
            {
                "doc_id": DOC,
                "page": 0,
                "block": 1,
                "par": 1,
                "line": line,
                "word": w,
                "left": x,
                "top": y,
                "width": wd,
                "height": h,
                "conf": 90.0,
                "text": t,
            }
            for line, w, t, x, y, wd, h in rows
        ],
        schema_overrides={
            k: pl.Int32 for k in ("page", "block", "par", "line", "word", "left", "top")
        }
        | {"width": pl.Int32, "height": pl.Int32},
    )


def _pred(**fields: FieldPrediction) -> DocPrediction:
    none = FieldPrediction(None, 0, 0, "none", "none", 0.0)
    return DocPrediction(
        DOC,
        {s.name: fields.get(s.name, none) for s in RECEIPT.fields},
        "review",
        ["low confidence total (0.81 < 0.95)"],
        "v0007",
    )


def test_review_task_boxes_each_value_from_its_ocr_words_and_shows_docassets_value() -> None:
    words = _words()
    text = document_text(words, DOC)
    assert text == "ACME SDN BHD\nTOTAL 9.00"
    pred = _pred(
        # The value docasset shows differs from the raw span (a repaired legal form).
        company=FieldPrediction("ACME SDN. BHD.", 0, 12, "rule", "b", 0.55),
        total=FieldPrediction("9.00", 19, 23, "both", "b", 0.81),
        date=FieldPrediction("01/02/2024", 0, 0, "model", "b", 0.4),  # no span: not placed
    )
    page = TaskPage("/data/local-files/?d=archive/a.png", 1000, 2000)
    task = review_task(
        RECEIPT, pred, [page], word_offsets(words), "b1", field_status={"company": "accepted"}
    )
    data = task["data"]
    assert data["pages"] == [page.url] and data["doc_id"] == DOC
    assert data["docasset"]["accepted"] == {"company": "ACME SDN. BHD."}
    note = data["review_note"]
    assert "low confidence total" in note and "not asked: COMPANY" in note
    assert "not found on the page: DATE = 01/02/2024" in note and "v0007" in note
    [p] = task["predictions"]
    assert p["model_version"] == "v0007" and p["score"] == 0.55
    by = {(r["id"], r["from_name"]): r for r in p["result"]}
    assert set(by) == {
        ("company", "field"),
        ("company", "value"),
        ("company", "status"),
        ("total", "field"),
        ("total", "value"),
    }
    assert by[("company", "value")]["value"]["text"] == ["ACME SDN. BHD."]
    assert by[("company", "status")]["value"]["choices"] == ["accepted"]
    total = by[("total", "field")]
    assert total["value"]["rectanglelabels"] == ["TOTAL"] and total["score"] == 0.81
    # "9.00": left 600, top 898, 60 x 24 px, plus 4 px padding, in percent of 1000 x 2000.
    assert {k: total["value"][k] for k in ("x", "y", "width", "height")} == {
        "x": 59.6,
        "y": 44.7,
        "width": 6.8,
        "height": 1.6,
    }
    assert (total["original_width"], total["original_height"], total["item_index"]) == (
        1000,
        2000,
        0,
    )
    company = by[("company", "field")]["value"]  # three words: their union
    assert (company["x"], company["width"]) == (9.6, 20.8)


def test_review_task_without_values_has_no_prediction() -> None:
    task = review_task(RECEIPT, _pred(), [TaskPage("/u", 10, 10)], word_offsets(_words()), "b1")
    assert task["predictions"] == [] and "Model v0007" in task["data"]["review_note"]


def test_local_files_urls_are_relative_to_the_document_root(tmp_path: Path) -> None:
    f = tmp_path / "archive" / "a b.png"
    f.parent.mkdir()
    f.touch()
    assert local_files_url(f, tmp_path) == "/data/local-files/?d=archive/a%20b.png"
    with pytest.raises(LabelStudioError, match="document_root"):
        local_files_url(f, tmp_path / "elsewhere")


def test_pages_a_browser_cannot_show_are_rendered_once(tmp_path: Path) -> None:
    png = tmp_path / "one.png"
    Image.new("L", (300, 400), 255).save(png)
    tif = tmp_path / "two.tif"
    first, second = Image.new("L", (300, 400), 255), Image.new("L", (300, 400), 0)
    first.save(tif, save_all=True, append_images=[second])
    assert page_files(inspect_file(png), tmp_path / "pages", IntakeLimits()) == [png]
    scan = inspect_file(tif)
    files = page_files(scan, tmp_path / "pages", IntakeLimits())
    assert [f.name for f in files] == [f"{scan.doc_id}-p0.png", f"{scan.doc_id}-p1.png"]
    assert [Image.open(f).getpixel((5, 5)) for f in files] == [255, 0]
    stamps = [f.stat().st_mtime_ns for f in files]
    page_files(scan, tmp_path / "pages", IntakeLimits())
    assert [f.stat().st_mtime_ns for f in files] == stamps  # not rendered again


# --- annotations in -------------------------------------------------------------------------


def _box(rid: str, label: str | None, *texts: str, y: float = 10.0) -> list[dict[str, Any]]:
    geometry = {"x": 5.0, "y": y, "width": 30.0, "height": 3.0, "rotation": 0}
    base = {"id": rid, "to_name": "page", "original_width": 1000, "original_height": 2000}
    out = []
    if label is not None:
        out.append(
            {
                **base,
                "from_name": "field",
                "type": "rectanglelabels",
                "value": {**geometry, "rectanglelabels": [label]},
            }
        )
    if texts:
        out.append(
            {
                **base,
                "from_name": "value",
                "type": "textarea",
                "value": {**geometry, "text": list(texts)},
            }
        )
    return out


def _choices(control: str, *values: str, rid: str | None = None) -> dict[str, Any]:
    return {
        "id": rid or control,
        "from_name": control,
        "to_name": "page",
        "type": "choices",
        "value": {"choices": list(values)},
    }


def _export(tmp_path: Path, *annotations: list[dict[str, Any]], doc: str = DOC) -> Path:
    task = {
        "id": 7,
        "data": {
            "pages": ["/data/local-files/?d=archive/a.png"],
            "doc_id": doc,
            "docasset": {"accepted": {"date": "01/02/2024"}},
        },
        "annotations": [
            {
                "id": i,
                "completed_by": {"id": 2, "email": f"op{i}@example.com"},
                "updated_at": f"2026-11-24T10:00:0{i}Z",
                "result": result,
            }
            for i, result in enumerate(annotations)
        ],
    }
    path = tmp_path / "export.json"
    path.write_text(json.dumps([task]))
    return path


def _stored(tmp_path: Path, *annotations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    import_file(_export(tmp_path, *annotations), tmp_path / "store", RECEIPT, KNOWN)
    return list(read_store(tmp_path / "store").iter_rows(named=True))


def test_boxes_typed_values_absent_fields_and_untouched_fields(tmp_path: Path) -> None:
    [row] = _stored(
        tmp_path,
        [
            *_box("c", "COMPANY", "ACME  SDN", y=5.0),
            *_box("c2", "COMPANY", "BHD", y=8.0),  # a second box of one field: reading order
            *_box("t", "TOTAL", "97.24"),  # typed, whatever the OCR read
            _choices("absent", "ADDRESS"),
        ],
    )
    # date untouched (neither boxed nor marked absent): left out, not claimed absent.
    assert json.loads(row["fields_json"]) == {
        "company": "ACME SDN BHD",
        "total": "97.24",
        "address": None,
    }
    assert row["annotator"] == "op0@example.com" and row["verdict"] is None
    assert row["timestamp"].startswith("2026-11-24T10:00:00")


def test_a_verdict_stores_no_field_values_like_the_jsonl_format(tmp_path: Path) -> None:
    [row] = _stored(tmp_path, [*_box("t", "TOTAL", "9.00"), _choices("verdict", "bad_scan")])
    assert (row["verdict"], row["fields_json"]) == ("bad_scan", "{}")


def test_accepted_fields_left_as_shown_are_not_asked(tmp_path: Path) -> None:
    kept, changed = _stored(
        tmp_path,
        [
            *_box("d", "DATE", "01/02/2024"),
            _choices("status", "accepted", rid="d"),
            *_box("t", "TOTAL", "9.00"),
        ],
        [*_box("d", "DATE", "01/03/2024"), _choices("status", "accepted", rid="d")],
    )
    assert json.loads(kept["fields_json"]) == {"total": "9.00"}  # nobody checked the date
    assert json.loads(changed["fields_json"]) == {"date": "01/03/2024"}  # reopened by editing


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (_box("t", "TOTAL"), "the TOTAL box has no value: type the value"),
        (_box("t", "COLOUR", "red"), "label 'COLOUR' is not in the receipt schema"),
        (_box("t", None, "9.00"), "a box holding '9.00' has no field label"),
        (
            [*_box("t", "TOTAL", "9.00"), _choices("absent", "TOTAL")],
            "TOTAL has a value and is marked not on this document",
        ),
        ([], "no box, no field marked 'not on this document' and no verdict"),
        ([{**_choices("mood", "happy")}], "result 'choices' from 'mood' is not in docasset"),
        ([_choices("verdict", "ok")], "verdict must be one of"),
    ],
)
def test_a_bad_annotation_rejects_the_whole_export(
    tmp_path: Path, result: list[dict[str, Any]], reason: str
) -> None:
    good = _box("t", "TOTAL", "9.00")
    with pytest.raises(CorrectionsError, match=reason):
        import_file(_export(tmp_path, good, result), tmp_path / "store", RECEIPT, KNOWN)
    assert read_store(tmp_path / "store").height == 0


def test_json_min_and_csv_exports_are_refused_with_a_hint(tmp_path: Path) -> None:
    json_min = [{"id": 7, "doc_id": DOC, "annotator": 2, "annotation_id": 3, "field": []}]
    (tmp_path / "min.json").write_text(json.dumps(json_min))
    with pytest.raises(CorrectionsError, match=r"a JSON-MIN export: export the project .* as JSON"):
        import_file(tmp_path / "min.json", tmp_path / "store", RECEIPT, KNOWN)
    (tmp_path / "export.csv").write_text(f"annotation_id,annotator,doc_id\n3,2,{DOC}\n")
    with pytest.raises(CorrectionsError, match="line 1: this is a CSV export, not JSON"):
        import_file(tmp_path / "export.csv", tmp_path / "store", RECEIPT, KNOWN)
