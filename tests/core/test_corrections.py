from __future__ import annotations

import json
from pathlib import Path

import pytest

from docasset.core.corrections import import_file, latest_per_document, read_store
from docasset.core.fields import load_doctype
from docasset.errors import CorrectionsError

RECEIPT = load_doctype("receipt")
KNOWN = {"aaaa000000000001", "aaaa000000000002"}


def _line(doc_id: str = "aaaa000000000001", **kw: object) -> str:
    rec = {
        "doc_id": doc_id,
        "fields": {"company": "ACME SDN BHD", "total": "9.00"},
        "annotator": "alice",
        "timestamp": "2026-11-24T10:00:00Z",
        **kw,
    }
    return json.dumps(rec)


def _write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n", "utf-8")
    return p


def test_valid_file_is_stored_once(tmp_path: Path) -> None:
    store = tmp_path / "store"
    f = _write(tmp_path, "a.jsonl", [_line(), _line("aaaa000000000002", annotator="bob")])
    res = import_file(f, store, RECEIPT, KNOWN)
    assert (res.stored, res.skipped, res.already_imported) == (2, 0, False)
    again = import_file(f, store, RECEIPT, KNOWN)
    assert again.already_imported and again.stored == 0
    # The same records in another file are not stored twice either.
    copy = _write(tmp_path, "b.jsonl", [_line(), ""])
    assert import_file(copy, store, RECEIPT, KNOWN).skipped == 1
    assert read_store(store).height == 2


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (["{not json"], "invalid JSON"),
        (["[1, 2]"], "not a JSON object"),
        ([_line("ffff000000000000")], "unknown document id"),
        ([_line(fields={"colour": "red"})], "not in the receipt schema"),
        ([_line(fields={"total": 9})], "string or null"),
        ([_line(annotator="")], "missing annotator"),
        ([_line(timestamp="yesterday")], "ISO 8601"),
        ([_line(verdict="maybe")], "verdict"),
        ([_line(fields={})], "needs fields or a verdict"),
        ([""], "no corrections"),
    ],
)
def test_malformed_files_are_rejected_whole(tmp_path: Path, lines: list[str], reason: str) -> None:
    store = tmp_path / "store"
    # A good line first: it must not be stored when a later line is bad.
    f = _write(
        tmp_path, "bad.jsonl", [_line("aaaa000000000002"), *lines] if lines != [""] else [""]
    )
    with pytest.raises(CorrectionsError) as exc:
        import_file(f, store, RECEIPT, KNOWN)
    assert reason in str(exc.value)
    assert "bad.jsonl" in str(exc.value)
    assert read_store(store).height == 0
    assert not list(store.glob("*.tmp*"))


def test_non_utf8_file_is_rejected(tmp_path: Path) -> None:
    f = tmp_path / "latin1.jsonl"
    f.write_bytes(_line().encode() + b"\n\xff\xfe\n")
    with pytest.raises(CorrectionsError, match="not UTF-8"):
        import_file(f, tmp_path / "store", RECEIPT, KNOWN)


def test_conflicting_annotators_are_flagged_not_resolved(tmp_path: Path) -> None:
    store = tmp_path / "store"
    f = _write(
        tmp_path,
        "c.jsonl",
        [
            _line(annotator="alice"),
            _line(
                annotator="bob",
                timestamp="2026-11-24T11:00:00Z",
                fields={"company": "ACME BHD", "total": "9.00"},
            ),
        ],
    )
    import_file(f, store, RECEIPT, KNOWN)
    latest = latest_per_document(read_store(store))
    row = latest.row(0, named=True)
    assert row["conflict"] is True and row["n_corrections"] == 2
    assert read_store(store).height == 2  # both kept


def _ls_task(doc_id: str, *annotations: dict) -> dict:
    return {
        "data": {"doc_id": doc_id, "text": "ACME SDN BHD\nTOTAL 9.00"},
        "annotations": list(annotations),
    }


def _ann(
    who: str, company_end: int = 12, labels: tuple[str, ...] = ("COMPANY",), **kw: object
) -> dict:
    return {
        "completed_by": {"email": who},
        "updated_at": "2026-11-24T10:00:00Z",
        **kw,
        "result": [
            {"type": "labels", "value": {"start": 0, "end": company_end, "labels": list(labels)}}
        ],
    }


def test_label_studio_export_is_imported_with_spans(tmp_path: Path) -> None:
    export = tmp_path / "ls.json"
    export.write_text(
        json.dumps(
            [
                _ls_task(
                    "aaaa000000000001",
                    _ann("alice"),
                    _ann("bob", 4),
                    _ann("eve", was_cancelled=True),
                ),
                _ls_task(
                    "aaaa000000000002",
                    {
                        "completed_by": 7,
                        "created_at": "2026-11-24T10:00:00Z",
                        "result": [{"type": "choices", "value": {"choices": ["irrelevant"]}}],
                    },
                ),
            ]
        )
    )
    res = import_file(export, tmp_path / "store", RECEIPT, KNOWN)
    assert res.stored == 3  # the cancelled annotation is not a correction
    store = read_store(tmp_path / "store")
    latest = {r["doc_id"]: r for r in latest_per_document(store).iter_rows(named=True)}
    assert latest["aaaa000000000001"]["conflict"]  # alice and bob disagree: flagged
    assert latest["aaaa000000000002"]["verdict"] == "irrelevant"
    alice = store.filter(store["annotator"] == "alice").row(0, named=True)
    assert json.loads(alice["fields_json"])["company"] == "ACME SDN BHD"
    assert json.loads(alice["spans_json"]) == {"company": [0, 12]}


@pytest.mark.parametrize(
    ("tasks", "reason"),
    [
        (
            [_ls_task("aaaa000000000001", _ann("a", labels=("COLOUR",)))],
            "not in the receipt schema",
        ),
        ([_ls_task("ffff000000000000", _ann("a"))], "unknown document id"),
        ([{"nodata": 1}], "not a task object"),
    ],
)
def test_bad_label_studio_exports_are_rejected_whole(
    tmp_path: Path, tasks: list, reason: str
) -> None:
    export = tmp_path / "ls.json"
    export.write_text(json.dumps([_ls_task("aaaa000000000002", _ann("ok")), *tasks]))
    with pytest.raises(CorrectionsError, match=reason):
        import_file(export, tmp_path / "store", RECEIPT, KNOWN)
    assert read_store(tmp_path / "store").height == 0
