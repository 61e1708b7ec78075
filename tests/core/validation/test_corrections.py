from __future__ import annotations

import json
from pathlib import Path

import pytest

from docasset.core.extraction.fields import load_doctype
from docasset.core.validation.corrections import import_file, latest_per_document, read_store
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


def test_rejections_name_the_lines_and_list_every_unknown_id(tmp_path: Path) -> None:
    f = _write(
        tmp_path,
        "mixed.jsonl",
        [_line(), _line("ffff000000000001"), "{oops", _line("ffff000000000002", annotator="")],
    )
    with pytest.raises(CorrectionsError) as exc:
        import_file(f, tmp_path / "store", RECEIPT, KNOWN)
    problems = exc.value.problems
    assert (2, "unknown document id 'ffff000000000001'") in problems
    assert any(n == 3 and "invalid JSON" in why for n, why in problems)
    assert (4, "missing annotator") in problems and (
        4,
        "unknown document id 'ffff000000000002'",
    ) in problems
    assert (0, "2 unknown document id(s): ffff000000000001, ffff000000000002") in problems
    assert not (tmp_path / "store").exists() or read_store(tmp_path / "store").height == 0


def test_a_crash_while_writing_the_segment_stores_nothing(tmp_path: Path, monkeypatch) -> None:
    import docasset.core.files as files

    store = tmp_path / "store"
    f = _write(tmp_path, "a.jsonl", [_line(), _line("aaaa000000000002")])

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", crash)
    with pytest.raises(OSError):
        import_file(f, store, RECEIPT, KNOWN)
    monkeypatch.undo()
    assert read_store(store).height == 0 and not list(store.iterdir())
    # The file was not marked imported: importing it again now stores it.
    assert import_file(f, store, RECEIPT, KNOWN).stored == 2


def _cli(tmp_path: Path, *args: str) -> int:
    from docasset.cli import main

    return main(["--home", str(tmp_path / "home"), *args])


def test_cli_import_exit_codes_messages_and_archive(tmp_path: Path, capsys, monkeypatch) -> None:
    import docasset.core.intake.ledger as intake

    monkeypatch.setattr(intake, "known_doc_ids", lambda wd: KNOWN)
    good = _write(tmp_path, "good.jsonl", [_line(), _line("aaaa000000000002")])
    assert _cli(tmp_path, "corrections", "import", str(good)) == 0
    out = capsys.readouterr().out
    assert "stored 2 correction(s), 0 already stored" in out and "archived to" in out
    archived = list((tmp_path / "home" / "corrections" / "archive").iterdir())
    assert [p.name.endswith("-good.jsonl") for p in archived] == [True]
    assert archived[0].read_bytes() == good.read_bytes() and good.exists()

    assert _cli(tmp_path, "corrections", "import", str(good)) == 0
    out = capsys.readouterr().out
    assert "already imported" in out and "nothing stored (no-op)" in out

    bad = _write(tmp_path, "bad.jsonl", [_line(), _line("ffff000000000009")])
    assert _cli(tmp_path, "corrections", "import", str(bad)) == 1
    err = capsys.readouterr().err
    assert "rejected, nothing stored" in err and "line 2: unknown document id" in err
    assert "1 unknown document id(s): ffff000000000009" in err
    rejected = tmp_path / "home" / "corrections" / "rejected"
    assert (rejected / "bad.jsonl").is_file() and "line 2" in (
        rejected / "bad.jsonl.reasons.txt"
    ).read_text()
    assert read_store(tmp_path / "home" / "corrections" / "store").height == 2

    bob = _write(
        tmp_path,
        "bob.jsonl",
        [_line(annotator="bob", timestamp="2026-11-24T12:00:00Z", fields={"total": "8.00"})],
    )
    assert _cli(tmp_path, "corrections", "import", str(bob)) == 0
    assert "1 document(s) now in annotator conflict" in capsys.readouterr().out
    assert read_store(tmp_path / "home" / "corrections" / "store").height == 3  # both kept

    assert _cli(tmp_path, "corrections", "import", str(tmp_path / "missing.jsonl")) == 1
    assert "no such file" in capsys.readouterr().err
