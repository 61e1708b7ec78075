"""Corrections import is total: hostile files are rejected whole with reasons, never a
traceback; the store stays usable whatever it was given (issue 11)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from pathlib import Path

import pytest

from docasset.core.extraction.fields import load_doctype
from docasset.core.training.curate import SplitConfig, curate
from docasset.core.validation.corrections import (
    import_file,
    latest_per_document,
    read_store,
)
from docasset.core.validation.corrections_inbox import import_inbox
from docasset.core.validation.memory import CorrectionMemory
from docasset.core.workdir import Workdir
from docasset.errors import CorrectionsError

RECEIPT = load_doctype("receipt")
KNOWN = {"aaaa000000000001", "aaaa000000000002"}
TEXT = "ACME SDN BHD\nTOTAL 9.00"


def _line(doc_id: str = "aaaa000000000001", **kw: object) -> str:
    rec = {
        "doc_id": doc_id,
        "fields": {"company": "ACME SDN BHD", "total": "9.00"},
        "annotator": "alice",
        "timestamp": "2026-11-24T10:00:00Z",
        **kw,
    }
    return json.dumps(rec)


def _rejected(tmp_path: Path, name: str, content: str | bytes) -> CorrectionsError:
    f = tmp_path / name
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(CorrectionsError) as info:
        import_file(f, tmp_path / "store", RECEIPT, KNOWN)
    assert read_store(tmp_path / "store").height == 0
    return info.value


def _task(*results: object, **ann: object) -> dict:
    return {
        "data": {"doc_id": "aaaa000000000001", "text": TEXT},
        "annotations": [
            {
                "completed_by": {"email": "op@example.com"},
                "updated_at": "2026-11-24T10:00:00Z",
                "result": list(results),
                **ann,
            }
        ],
    }


def _label(**value: object) -> dict:
    return {"type": "labels", "value": {"start": 0, "end": 4, "labels": ["COMPANY"], **value}}


GOOD = _task(_label())


@pytest.mark.parametrize(
    ("task", "reason"),
    [
        ({"data": {"doc_id": "aaaa000000000001"}, "annotations": {"a": 1}}, "must be a list"),
        ({"data": {"doc_id": "aaaa000000000001"}, "annotations": [7]}, "must be an object"),
        (_task(1), "result 1 is not an object"),
        (_task({"type": "labels", "value": [1]}), "'value' must be an object"),
        (
            _task({"type": "labels", "value": {"start": 0, "labels": ["TOTAL"]}}),
            "'start' and 'end' must be integers",
        ),
        (_task(_label(labels=[["TOTAL"]])), "'labels' must be a list of label names"),
        (_task(_label(text=9)), "the labelled text must be a string"),
        (_task(_label(start="0", end="4")), "'start' and 'end' must be integers"),
        (_task(_label(start=True, end=4)), "'start' and 'end' must be integers"),
        (_task(_label(start=4, end=4)), "0 <= start < end"),
        (_task(_label(start=0, end=99999)), "outside the task text"),
        (_task({"type": "rectanglelabels", "value": {"x": 1}}), "unsupported result type"),
        (
            _task({"type": "choices", "value": {"choices": ["irrelevant", "bad_scan"]}}),
            "one choice",
        ),
        (_task({"type": "choices", "value": {"choices": ["maybe"]}}), "verdict must be one of"),
        (_task(_label(), result=None, was_cancelled="no"), "'was_cancelled' must be true"),
        ({"data": {"doc_id": "aaaa000000000001", "text": 5}, "annotations": []}, "data.text"),
        (_task(_label(), completed_by=[1]), "missing annotator"),
        (_task(_label(), updated_at=20261124), "timestamp must be ISO 8601"),
    ],
)
def test_malformed_label_studio_exports_are_rejected_whole(
    tmp_path: Path, task: dict, reason: str
) -> None:
    """Issue 11: each of these raised AttributeError/KeyError/TypeError before."""
    exc = _rejected(tmp_path, "ls.json", json.dumps([GOOD, task]))
    assert reason in str(exc), exc.problems


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"doc_id": "aaaa000000000001", "n": ' + "9" * 5000 + "}\n", "digits is out of range"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (_line() + "\n" + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "\n", "nested too deep"),
        (_line(spans={"total": [float("nan"), 3]}) + "\n", "NaN is not a JSON number"),
        ('{"doc_id": "aaaa000000000001", "x": 1e999}\n', "out of range"),
        ('{"doc_id": "aaaa000000000001", "doc_id": "aaaa000000000002"}\n', "duplicate key"),
        (_line(annotator="\\ud800").replace("\\\\ud800", "\\ud800") + "\n", "lone surrogate"),
        (_line(timestamp="9999-12-31T23:59:59Z") + "\n", "in the future"),
        (_line(timestamp="0001-01-01T00:00:00+05:00") + "\n", "out of range"),
        (_line(timestamp="1970-01-01T00:00:00Z") + "\n", "before 2000"),
        (_line(spans={"total": ["a", "b"]}) + "\n", "integer offsets"),
        (_line(spans={"total": [0, 10**12]}) + "\n", "0 <= start < end <= 10000000"),
        (_line(spans={"total": [5, 2]}) + "\n", "0 <= start < end"),
        (_line(spans={"total": [-1, 2]}) + "\n", "0 <= start < end"),
        (_line(spans={"total": [0.0, 2.5]}) + "\n", "integer offsets"),
        (_line(spans={"total": [True, 2]}) + "\n", "integer offsets"),
        (_line(spans={"total": [1, 2, 3]}) + "\n", "integer offsets"),
        (_line(spans=[[1, 2]]) + "\n", "'spans' must map"),
        (_line(verdict=["irrelevant"]) + "\n", "verdict must be one of"),
        (_line(doc_type="invoice") + "\n", "doc_type 'invoice'"),
        (_line(fields={"total": "9" * 20_000}) + "\n", "longer than 10000"),
        ("[1, 2]\n", "task 1: not a task object with 'data'"),
        ('{"tasks": []}\n', "unknown keys ['tasks']"),
        ("null\n", "not a JSON object"),
    ],
)
def test_hostile_values_are_rejected_with_a_reason(
    tmp_path: Path, content: str, reason: str
) -> None:
    """Issue 11: huge ints, deep nesting, duplicate keys, year 9999, bad spans..."""
    exc = _rejected(tmp_path, "bad.jsonl", content)
    assert reason in str(exc), exc.problems


def test_a_byte_order_mark_and_naive_timestamps_are_accepted(tmp_path: Path) -> None:
    f = tmp_path / "bom.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + _line(timestamp="2026-11-24T10:00:00").encode() + b"\n")
    assert import_file(f, tmp_path / "store", RECEIPT, KNOWN).stored == 1
    assert read_store(tmp_path / "store")["timestamp"].item() == "2026-11-24T10:00:00+00:00"


def test_a_field_marked_twice_is_joined_in_text_order_without_a_span(tmp_path: Path) -> None:
    task = _task(
        {"type": "labels", "value": {"start": 5, "end": 12, "labels": ["COMPANY"]}},
        {"type": "labels", "value": {"start": 0, "end": 4, "labels": ["COMPANY"]}},
    )
    f = tmp_path / "ls.json"
    f.write_text(json.dumps([task]))
    import_file(f, tmp_path / "store", RECEIPT, KNOWN)
    row = read_store(tmp_path / "store").row(0, named=True)
    assert json.loads(row["fields_json"])["company"] == "ACME SDN BHD"
    assert row["spans_json"] is None


def test_the_same_verdict_from_two_sources_is_not_a_conflict(tmp_path: Path) -> None:
    """Issue 11: Label Studio "irrelevant" (all fields null) vs JSONL "irrelevant" ({})."""
    store = tmp_path / "store"
    a = tmp_path / "a.jsonl"
    a.write_text(_line(fields={}, verdict="irrelevant", annotator="alice") + "\n")
    import_file(a, store, RECEIPT, KNOWN)
    choice = {"type": "choices", "value": {"choices": ["irrelevant"]}}
    b = tmp_path / "b.json"
    b.write_text(json.dumps([_task(choice, updated_at="2026-11-24T11:00:00Z")]))
    import_file(b, store, RECEIPT, KNOWN)
    latest = latest_per_document(read_store(store)).row(0, named=True)
    assert latest["n_corrections"] == 2 and latest["conflict"] is False
    c = tmp_path / "c.jsonl"  # a third annotator who disagrees is still a conflict
    c.write_text(_line(verdict="bad_scan", fields={}, annotator="carol") + "\n")
    import_file(c, store, RECEIPT, KNOWN)
    assert latest_per_document(read_store(store)).row(0, named=True)["conflict"] is True


def _import_in_child(args: tuple[str, str]) -> None:
    f, store = args
    import_file(Path(f), Path(store), RECEIPT, KNOWN)


def test_concurrent_imports_of_one_file_store_it_once(tmp_path: Path) -> None:
    """Issue 11: the same file imported by two processes at once was stored twice."""
    f = tmp_path / "big.jsonl"
    f.write_text("".join(_line(annotator=f"a{i}") + "\n" for i in range(2000)))
    ctx = mp.get_context("fork")
    procs = [
        ctx.Process(target=_import_in_child, args=((str(f), str(tmp_path / "s")),))
        for _ in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert [p.exitcode for p in procs] == [0, 0]
    assert read_store(tmp_path / "s").height == 2000
    assert len(list((tmp_path / "s").glob("seg-*.jsonl"))) == 1


def test_temp_files_of_a_killed_import_are_swept(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (store / ".tmp-abc123.jsonl").write_text('{"half": ')
    f = tmp_path / "a.jsonl"
    f.write_text(_line() + "\n")
    import_file(f, store, RECEIPT, KNOWN)
    assert [p.name for p in store.iterdir() if p.name.startswith(".")] == []


def _segment(store: Path, rows: list[dict]) -> None:
    store.mkdir(parents=True, exist_ok=True)
    (store / "seg-20261124T100000000000Z-0000000000000000.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows) + "{torn line\n"
    )


def _stored(doc_id: str, cid: str, **kw: object) -> dict:
    return {
        "correction_id": cid,
        "doc_id": doc_id,
        "annotator": "old",
        "timestamp": "2026-11-24T10:00:00+00:00",
        "verdict": None,
        "fields_json": json.dumps({"company": "ACME SDN BHD", "total": "9.00"}),
        "spans_json": None,
        "source_file": "old.jsonl",
        "imported_at": "20261124T100000000000Z",
        **kw,
    }


def test_unusable_stored_records_are_skipped_by_curation_with_a_reason(tmp_path: Path) -> None:
    """Issue 11: spans with strings/NaN/huge numbers were stored (an older import let them in),
    and every later retraining crashed on them."""
    ids = [f"bbbb00000000000{i}" for i in range(5)]
    store = tmp_path / "store"
    _segment(
        store,
        [
            _stored(ids[0], "c0", spans_json='{"total": ["a", "b"]}'),
            _stored(ids[1], "c1", spans_json='{"total": [NaN, 3]}'),
            _stored(ids[2], "c2", spans_json='{"total": [0, 1e400]}'),
            _stored(ids[3], "c3", timestamp="9999-12-31T23:59:59+00:00"),
            _stored(ids[4], "c4"),  # usable
        ],
    )
    df = read_store(store)
    # The 4 unusable records, and the torn line reported as the segment's damage (issue 23).
    assert df.height == 6 and df.filter(df["problem"].is_not_null()).height == 5
    [seg_row] = df.filter(df["correction_id"].is_null()).to_dicts()
    assert "is damaged (1 line(s) are not records)" in seg_row["problem"]
    latest = latest_per_document(df)
    assert latest["doc_id"].to_list() == [ids[4]]
    cur = curate(
        RECEIPT,
        df,
        {d: TEXT for d in ids},
        set(),
        {},
        tmp_path / "golden.json",
        SplitConfig(min_golden=100),
    )
    rec = {r["doc_id"]: r for r in cur.records.iter_rows(named=True)}
    assert {d: rec[d]["reason"] for d in ids[:4]} == dict.fromkeys(ids[:4], "unusable_record")
    assert "integer offsets" in rec[ids[0]]["issues"]
    assert rec[ids[4]]["reason"] is None
    CorrectionMemory(tmp_path / "memory").learn(df)  # the memory does not crash either


def test_a_bad_file_in_the_inbox_is_rejected_and_the_others_imported(tmp_path: Path) -> None:
    """Issue 11: one bad file failed the run and blocked every valid file after it."""
    wd = Workdir(tmp_path)
    (wd.corrections_inbox / "a-bad.json").write_text(json.dumps([_task(1)]))
    os.symlink("/etc/passwd", wd.corrections_inbox / "b-link.jsonl")
    os.mkfifo(wd.corrections_inbox / "c-pipe.jsonl")
    (wd.corrections_inbox / "d-good.jsonl").write_text(_line() + "\n")
    long_name = "e" * 245 + ".jsonl"
    (wd.corrections_inbox / long_name).write_text(_line("aaaa000000000002") + "\n")
    raw = os.path.join(os.fsencode(wd.corrections_inbox), b"f-\xff.jsonl")
    Path(os.fsdecode(raw)).write_text(_line(annotator="bob") + "\n")
    (wd.corrections_inbox / ".tmp-stale.jsonl").write_text("half")
    os.utime(wd.corrections_inbox / ".tmp-stale.jsonl", (0, 0))
    out = import_inbox(wd, RECEIPT, KNOWN)
    assert sorted(out.rejected) == ["a-bad.json", "b-link.jsonl", "c-pipe.jsonl"]
    assert "a symlink" in out.rejected["b-link.jsonl"][0]
    assert [i["file"] for i in out.imported] == ["d-good.jsonl", long_name, "f-\\xff.jsonl"]
    assert out.swept == [".tmp-stale.jsonl"]
    assert list(wd.corrections_inbox.iterdir()) == []  # everything was filed away
    rejected = {p.name for p in wd.corrections_rejected.iterdir()}
    assert {"a-bad.json", "a-bad.json.reasons.txt", "b-link.jsonl", "c-pipe.jsonl"} <= rejected
    assert (wd.corrections_rejected / "b-link.jsonl").is_symlink()  # moved as itself
    for p in wd.corrections_archive.iterdir():
        assert len(p.name.encode()) <= 255
    store = read_store(wd.corrections_store)
    assert store.height == 3 and "f-\\xff.jsonl" in store["source_file"].to_list()


def test_the_cli_files_long_and_odd_names_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11: a corrections file name over ~239 bytes was stored, then the archive copy
    failed with ``File name too long`` (exit 1, a traceback)."""
    import docasset.core.intake.ledger as intake
    from docasset.cli import main

    monkeypatch.setattr(intake, "known_doc_ids", lambda wd: KNOWN)
    home = tmp_path / "home"
    good = tmp_path / ("g" * 245 + ".jsonl")
    good.write_text(_line() + "\n")
    assert main(["--home", str(home), "corrections", "import", str(good)]) == 0
    [archived] = (home / "corrections" / "archive").iterdir()
    assert len(archived.name.encode()) <= 255 and archived.read_bytes() == good.read_bytes()
    bad = tmp_path / ("b" * 245 + ".jsonl")
    bad.write_text(_line(timestamp="9999-01-01T00:00:00Z") + "\n")
    assert main(["--home", str(home), "corrections", "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "in the future" in err and "Traceback" not in err
    names = sorted(p.name for p in (home / "corrections" / "rejected").iterdir())
    assert len(names) == 2 and names[1].endswith(".reasons.txt")
    assert all(len(n.encode()) <= 255 for n in names)
    assert read_store(home / "corrections" / "store").height == 1


def _page_task(*results: object) -> dict:
    return {
        "data": {"doc_id": "aaaa000000000001", "pages": ["/img/a.png"]},
        "annotations": [
            {
                "completed_by": {"id": 3},
                "updated_at": "2026-11-24T10:00:00Z",
                "result": list(results),
            }
        ],
    }


def _box(**kw: object) -> dict:
    value = {"x": 1.0, "y": 2.0, "width": 5, "height": 5, "rectanglelabels": ["TOTAL"], **kw}
    return {"id": "r1", "type": "rectanglelabels", "from_name": "field", "value": value}


def _typed(text: object) -> dict:
    return {"id": "r1", "type": "textarea", "from_name": "value", "value": {"text": text}}


@pytest.mark.parametrize(
    ("task", "reason"),
    [
        (_page_task(7), "result 1 is not an object"),
        (_page_task({"type": "textarea", "from_name": "value", "value": [1]}), "object 'value'"),
        (_page_task(_box(x="left"), _typed(["9.00"])), "numeric x, y, page"),
        (_page_task({**_box(), "item_index": "two"}, _typed(["9.00"])), "numeric x, y, page"),
        (_page_task(_box(rectanglelabels=[["TOTAL"]]), _typed(["9.00"])), "label names"),
        (_page_task(_box(), _typed("9.00")), "'text' must be a list of strings"),
        (
            _page_task({"type": "choices", "from_name": "verdict", "value": {"choices": [[1]]}}),
            "'choices' must be a list of strings",
        ),
        ({**_page_task(), "annotations": "all"}, "'annotations' must be a list"),
    ],
)
def test_malformed_page_annotations_are_rejected_whole(
    tmp_path: Path, task: dict, reason: str
) -> None:
    """The page-image config's parser is total too (these raised TypeError, ValueError and
    AttributeError before)."""
    good = _page_task(_box(), _typed(["9.00"]))
    exc = _rejected(tmp_path, "ls.json", json.dumps([good, task]))
    assert reason in str(exc), exc.problems


def test_a_good_page_annotation_is_still_stored(tmp_path: Path) -> None:
    f = tmp_path / "ls.json"
    f.write_text(json.dumps([_page_task(_box(), _typed(["9.00"]))]))
    assert import_file(f, tmp_path / "store", RECEIPT, KNOWN).stored == 1
    row = read_store(tmp_path / "store").row(0, named=True)
    assert json.loads(row["fields_json"]) == {"total": "9.00"}
    assert row["annotator"] == "label-studio-user-3"
