"""Label Studio annotations in: what a box, a typed value, a tick or a verdict stores, and
what rejects an export (through the all-or-nothing corrections import)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from docasset.core.extraction.fields import load_doctype
from docasset.core.validation.corrections import import_file, read_store
from docasset.errors import CorrectionsError

RECEIPT = load_doctype("receipt")
DOC = "aaaa000000000001"
KNOWN = {DOC, "aaaa000000000002"}


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


def _export(
    tmp_path: Path,
    *annotations: list[dict[str, Any]],
    doc: str = DOC,
    predicted: list[dict[str, Any]] | None = None,
) -> Path:
    task: dict[str, Any] = {
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
    if predicted is not None:
        task["predictions"] = [{"result": predicted}]
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


def test_an_accepted_box_is_replaced_by_a_box_drawn_with_the_fields_own_label(
    tmp_path: Path,
) -> None:
    box, text = _box("d", "DATE", "01/02/2024")
    label = {**box["value"], "rectanglelabels": ["DATE (accepted)"]}
    accepted = [
        {**box, "from_name": "accepted_field", "readonly": True, "value": label},
        {**text, "readonly": True},
    ]
    kept, replaced = _stored(
        tmp_path,
        [*accepted, *_box("t", "TOTAL", "9.00")],
        [*accepted, *_box("d2", "DATE", "01/03/2024")],
    )
    assert json.loads(kept["fields_json"]) == {"total": "9.00"}  # shown, not asked
    assert json.loads(replaced["fields_json"]) == {"date": "01/03/2024"}


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        # An operator's slip: the total runs into the next printed text.
        (_box("t", "TOTAL", "71.00No.J-G-02"), r"total: not an amount \('71.00No.J-G-02'\)"),
        (_box("t", "DATE", "31/02/2018"), "date: not a plausible date"),
        (
            [*_box("t", "TOTAL", "71.00"), *_box("t2", "TOTAL", "No.J-G-02", y=12.0)],
            r"TOTAL has 2 boxes \('71.00', 'No.J-G-02'\): it is one value",
        ),
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


def test_a_relabelled_box_that_leaves_its_field_empty_is_refused(tmp_path: Path) -> None:
    predicted = [*_box("c", "COMPANY", "Mr.Dakgalbi Solaris"), *_box("t", "TOTAL", "9.00")]
    # The ADDRESS label clicked while the COMPANY box was selected: relabelled, COMPANY lost.
    slip = [*_box("c", "ADDRESS", "Mr.Dakgalbi Solaris"), *_box("t", "TOTAL", "9.00")]
    path = _export(tmp_path, slip, predicted=predicted)
    with pytest.raises(CorrectionsError, match=r"the COMPANY box \('Mr.Dakgalbi Solaris'\) was "):
        import_file(path, tmp_path / "store", RECEIPT, KNOWN)
    # Relabelled on purpose: the operator says where the company is (here: not printed).
    meant = [*slip, _choices("absent", "COMPANY")]
    import_file(_export(tmp_path, meant, predicted=predicted), tmp_path / "store", RECEIPT, KNOWN)
    [row] = read_store(tmp_path / "store").iter_rows(named=True)
    assert json.loads(row["fields_json"])["address"] == "Mr.Dakgalbi Solaris"


def test_two_boxes_of_a_text_field_are_one_value_in_reading_order(tmp_path: Path) -> None:
    [row] = _stored(
        tmp_path, [*_box("a", "ADDRESS", "1 MAIN ST", y=5.0), *_box("b", "ADDRESS", "KL", y=8.0)]
    )
    assert json.loads(row["fields_json"]) == {"address": "1 MAIN ST KL"}


def test_json_min_and_csv_exports_are_refused_with_a_hint(tmp_path: Path) -> None:
    json_min = [{"id": 7, "doc_id": DOC, "annotator": 2, "annotation_id": 3, "field": []}]
    (tmp_path / "min.json").write_text(json.dumps(json_min))
    with pytest.raises(CorrectionsError, match=r"a JSON-MIN export: export the project .* as JSON"):
        import_file(tmp_path / "min.json", tmp_path / "store", RECEIPT, KNOWN)
    (tmp_path / "export.csv").write_text(f"annotation_id,annotator,doc_id\n3,2,{DOC}\n")
    with pytest.raises(CorrectionsError, match="line 1: this is a CSV export, not JSON"):
        import_file(tmp_path / "export.csv", tmp_path / "store", RECEIPT, KNOWN)
