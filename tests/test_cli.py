"""The docasset command line, run as users run it (subprocess of the console script)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).parent / "docasset")


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=600, cwd=cwd)


@pytest.fixture(scope="module")
def model_dir(receipts_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model") / "m"
    res = _run(
        "train",
        "--dataset",
        str(receipts_dir),
        "--doc-type",
        "receipt",
        "--out",
        str(out),
        "--epochs",
        "3",
        "--ocr-engine",
        "hybrid",
    )
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["n_train"] + summary["n_dev"] == 12 and summary["ocr_failures"] == 0
    assert summary["ocr_engine"] == "hybrid"
    assert summary["ocr_pages_by_engine"] == {"tesseract": 12}  # clean pages: none re-read
    # Progress on stderr (stdout holds the JSON summary only): OCR counts, then each epoch.
    assert "ocr: 12/12 documents (100%)" in res.stderr, res.stderr[-2000:]
    assert "training: 1/3 epochs" in res.stderr and "held-out accuracy" in res.stderr
    return out


def test_train_writes_a_loadable_model(model_dir: Path) -> None:
    meta = json.loads((model_dir / "model.json").read_text())
    assert meta["doc_type"] == "receipt" and set(meta["thresholds"]) == {
        "company",
        "date",
        "address",
        "total",
    }
    assert (model_dir / "pipeline" / "meta.json").is_file()
    assert meta["ocr"]["engine"] == "hybrid"  # trained with --ocr-engine hybrid (the fixture)


def test_extract_with_another_ocr_engine_warns(
    model_dir: Path, receipts_dir: Path, tmp_path: Path
) -> None:
    img = sorted((receipts_dir / "img").iterdir())[0]
    out = tmp_path / "p.jsonl"
    res = _run(
        "extract",
        "--model",
        str(model_dir),
        "--out",
        str(out),
        "--ocr-engine",
        "rapidocr",
        str(img),
    )
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["ocr_engine"] == "rapidocr"
    assert "trained on hybrid text" in summary["ocr_engine_warning"]
    assert "trained on hybrid text" in res.stderr
    assert (
        _run(
            "extract",
            "--model",
            str(model_dir),
            "--out",
            str(out),
            "--ocr-engine",
            "abbyy",
            str(img),
        ).returncode
        == 2
    )  # not an engine: a usage error


def test_extract_writes_one_json_object_per_document(
    model_dir: Path, receipts_dir: Path, tmp_path: Path
) -> None:
    imgs = sorted((receipts_dir / "img").iterdir())
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    out = tmp_path / "p.jsonl"
    res = _run(
        "extract",
        "--model",
        str(model_dir),
        "--out",
        str(out),
        str(imgs[0]),
        str(imgs[1]),
        str(bad),
    )
    assert res.returncode == 1  # one input failed, and it says which and why
    assert "broken" in res.stderr and "corrupt" in res.stderr
    assert "ocr: 2/2 documents (100%)" in res.stderr  # the corrupt file never reached OCR
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["doc"] for r in rows] == [imgs[0].stem, imgs[1].stem]
    for r in rows:
        assert set(r) >= {"doc", "fields", "normalized", "confidence", "route", "blockers"}
        assert r["route"] in ("auto", "review") and set(r["fields"]) == {
            "company",
            "date",
            "address",
            "total",
        }
        truth = json.loads((receipts_dir / "key" / f"{r['doc']}.json").read_text())
        assert (
            r["fields"]["total"] is not None
            and r["normalized"]["total"] == f"{float(truth['total'].replace(',', '')):.2f}"
        )


def test_corrections_import_and_model_commands(tmp_path: Path) -> None:
    home = tmp_path / "home"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"doc_id": "nope", "fields": {}, "annotator": "a", "timestamp": "x"}\n')
    res = _run("--home", str(home), "corrections", "import", str(bad))
    assert res.returncode == 1
    assert (
        "line 1" in res.stderr
        and "unknown document id" in res.stderr
        and "nothing stored" in res.stderr
    )
    res = _run("--home", str(home), "model", "rollback")
    assert res.returncode == 1 and "no earlier production version" in res.stderr
    assert _run("--home", str(home), "model", "list").returncode == 0
    res = _run("--home", str(home), "model", "promote", "v0042", "--reason", "test")
    assert res.returncode == 1 and "not found" in res.stderr


def test_extract_keeps_inputs_that_share_a_file_stem(
    model_dir: Path, receipts_dir: Path, tmp_path: Path
) -> None:
    """Issue 11: two inputs named ``x.png`` in two folders gave 2 in, 1 out, exit 0."""
    imgs = sorted((receipts_dir / "img").iterdir())
    for folder, src in (("a", imgs[0]), ("b", imgs[1])):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.png").write_bytes(src.read_bytes())
    out = tmp_path / "p.jsonl"
    a, b = str(tmp_path / "a" / "x.png"), str(tmp_path / "b" / "x.png")
    res = _run("extract", "--model", str(model_dir), "--out", str(out), a, b, a)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert (summary["inputs"], summary["documents"], summary["failed"]) == (2, 2, 0)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(r["doc"] for r in rows) == [a, b]  # the same file named twice is one input


def test_ingest_claims_the_inbox_runs_the_graph_and_reports_every_entry(
    receipts_dir: Path, tmp_path: Path
) -> None:
    import os

    home = tmp_path / "deploy" / "work"
    inbox = home / "inbox"
    inbox.mkdir(parents=True)
    imgs = sorted((receipts_dir / "img").iterdir())[:2]
    for p in imgs:
        (inbox / p.name).write_bytes(p.read_bytes())
    (inbox / "zz-again.png").write_bytes(imgs[0].read_bytes())
    (inbox / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 40)
    os.symlink("/etc/passwd", inbox / "link.png")
    unset = ("DAGSTER_HOME", "DOCASSET_HOME", "DOCASSET_LABEL_STUDIO_URL")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    cmd = [EXE, "ingest", "--home", str(home)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = [json.loads(x) for x in res.stdout.splitlines()]  # stdout holds JSON lines only
    by_file = {r["file"]: r for r in rows}
    assert sorted(by_file) == sorted(
        [*(p.name for p in imgs), "zz-again.png", "cut.jpg", "link.png"]
    )
    for r in rows:
        assert set(r) == {"file", "batch", "doc_id", "status", "reason", "route"}
        assert r["batch"] == rows[0]["batch"]
    for p in imgs:
        ok = by_file[p.name]
        assert ok["status"] == "ok" and ok["route"] == "review" and len(ok["doc_id"]) == 16
    assert by_file["zz-again.png"]["status"] == "duplicate"
    assert by_file["zz-again.png"]["doc_id"] == by_file[imgs[0].name]["doc_id"]
    assert (by_file["cut.jpg"]["status"], by_file["cut.jpg"]["route"]) == ("quarantined", None)
    assert by_file["cut.jpg"]["reason"].startswith("corrupt")
    assert by_file["link.png"]["reason"].startswith("not_regular_file: symlink")
    assert "ocr: 2/2 documents (100%)" in res.stderr, res.stderr[-2000:]
    assert "ingest: 1/1 batches (100%)" in res.stderr and "run succeeded: 1 duplicate" in res.stderr
    assert list(inbox.iterdir()) == []
    assert (tmp_path / "deploy" / "dagster_home" / "dagster.yaml").is_file()  # embedded default
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert again.returncode == 0 and again.stdout == ""  # nothing new: a no-op


def test_ingest_runs_with_label_studio_configured_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What `. docasset.env` sets (issue #25: ingest used to build its definitions without it).
    import dagster as dg

    from docasset.cli import ingest_definitions
    from docasset.defs.settings import Settings

    monkeypatch.setenv("DOCASSET_LABEL_STUDIO_URL", "http://127.0.0.1:8765")
    monkeypatch.setenv("DOCASSET_LABEL_STUDIO_TOKEN", "personal-access-token")
    defs = ingest_definitions(tmp_path, Settings())
    ls = defs.resources["label_studio"]
    # Named variables in the resource config (the token never shows in run config) ...
    assert (ls.url.env_var_name, ls.token.env_var_name) == (
        "DOCASSET_LABEL_STUDIO_URL",
        "DOCASSET_LABEL_STUDIO_TOKEN",
    )
    # ... resolved to the environment's values when the ingest run starts.
    with dg.build_resources({"label_studio": ls, "home": defs.resources["home"]}) as res:
        assert res.label_studio.configured()
        assert res.label_studio.url == "http://127.0.0.1:8765"
        assert res.label_studio.token == "personal-access-token"
        assert res.home.root == str(tmp_path)
    assert "label_studio" in defs.resolve_job_def("ingest_job").required_resource_keys
    monkeypatch.delenv("DOCASSET_LABEL_STUDIO_URL")
    assert not ingest_definitions(tmp_path, Settings()).resources["label_studio"].configured()


def test_a_second_demo_in_the_same_directory_refuses_to_start(tmp_path: Path) -> None:
    """Issue 11: two demos in one work directory left files in the inbox and one demo
    without a model, and both reported success."""
    from docasset.core.files import locked

    with locked(tmp_path / ".demo.lock"):  # a demo is running here
        res = _run("demo", "--workdir", str(tmp_path), "--fresh")
    assert res.returncode == 1 and "another docasset demo is running" in res.stderr
    assert not (tmp_path / "work").exists()  # --fresh deleted nothing, nothing was started


def test_a_held_batch_says_so_and_is_released_by_a_documented_command(
    receipts_dir: Path, tmp_path: Path
) -> None:
    """Issue 23 defect 4: a batch the scan_quality gate blocked exited 1 with a Dagster
    traceback, reported its documents ``"status": "ok", "route": null`` and was ignored by
    every later ingest; nothing said how to release it."""
    import os

    from PIL import Image

    home = tmp_path / "deploy" / "work"
    inbox = home / "inbox"
    inbox.mkdir(parents=True)
    good = sorted((receipts_dir / "img").iterdir())[0]
    (inbox / good.name).write_bytes(good.read_bytes())
    for i in range(2):  # genuinely poor scans: blank pages (distinct bytes: not duplicates)
        Image.new("L", (800 + i, 1000), 255).save(inbox / f"blank{i}.png", dpi=(300, 300))
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "DOCASSET_HOME")}

    def docasset(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [EXE, *args, "--home", str(home)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)

    res = docasset("ingest")
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr[-3000:]
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    [batch] = {r["batch"] for r in rows}
    assert {r["status"] for r in rows} == {"held"} and len(rows) == 3
    assert all(f"docasset release {batch}" in r["reason"] for r in rows)
    assert f"batch {batch}: batch held by the scan_quality gate" in res.stderr
    status = docasset("status", "--json")
    s = json.loads(status.stdout)
    assert [(b["batch"], b["state"]) for b in s["batches_unfinished"]] == [(batch, "held")]
    assert any(f"docasset release {batch}" in t for t in s["todo"])
    assert docasset("ingest").stdout == ""  # still held: not run again behind anyone's back

    rel = docasset("release", batch, "--reason", "blank backs of receipts, fine")
    assert rel.returncode == 0 and "scan_quality gate now passes for it" in rel.stdout
    again = docasset("ingest")
    assert again.returncode == 0, again.stderr[-3000:]
    done = {r["file"]: r for r in (json.loads(x) for x in again.stdout.splitlines())}
    assert done[good.name]["status"] == "ok" and done[good.name]["route"] == "review"
    assert {r["status"] for r in done.values()} == {"ok"} and len(done) == 3
    text = docasset("status").stdout
    assert "nothing, no work is stranded" in text and "0 without a successful" in text
    assert docasset("release", batch, "--reason", "again").returncode == 1  # nothing held


def _memory_entry(home: Path, annotator: str) -> None:
    mem = home / "memory"
    mem.mkdir(parents=True, exist_ok=True)
    rec = {
        "op": "add",
        "id": "m1",
        "vendor": "ACME",
        "field": "company",
        "value": "ACME SDN BHD",
        "source_correction": "c1",
        "annotator": annotator,
        "created_at": "2026-11-24T10:00:00+00:00",
        "kind": "value",
    }
    with open(mem / "entries.jsonl", "a") as fh:
        fh.write(json.dumps(rec) + "\n")


def test_memory_list_shows_control_characters_instead_of_running_them(tmp_path: Path) -> None:
    # Issue 23 defect 8: an annotator name set the terminal title and forged a log line.
    home = tmp_path / "work"
    _memory_entry(home, "eve\x1b]0;pwned\x07\nERROR forged line")
    res = _run("--home", str(home), "memory", "list")
    assert res.returncode == 0, res.stderr
    assert "\x1b" not in res.stdout and "\x07" not in res.stdout
    assert res.stdout.count("\n") == 1  # one entry, one line
    assert "eve\\x1b]0;pwned\\x07\\nERROR forged line" in res.stdout


def test_memory_list_tolerates_a_torn_last_line_with_a_warning(tmp_path: Path) -> None:
    # Issue 23 defect 12: a torn last line failed every predictions step (JSONDecodeError).
    home = tmp_path / "work"
    _memory_entry(home, "alice")
    with open(home / "memory" / "entries.jsonl", "a") as fh:
        fh.write('{"op": "add", "id": "m2", "ven')  # a write cut short
    res = _run("--home", str(home), "memory", "list")
    assert res.returncode == 0, res.stderr
    assert "m1" in res.stdout and "m2" not in res.stdout
    assert "torn last line" in res.stderr


def test_a_damaged_store_file_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    home = tmp_path / "work"
    _memory_entry(home, "alice")
    log = home / "memory" / "entries.jsonl"
    log.write_text("{damaged\n" + log.read_text())
    res = _run("--home", str(home), "memory", "list")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert f"{log}: line 1 is damaged" in res.stderr and "To recover:" in res.stderr


def test_vendors_import_list_show_export_and_conflicts(tmp_path: Path) -> None:
    home = str(tmp_path / "work")
    good = tmp_path / "vendors.csv"
    good.write_text(
        "vendor_id,name,key,address,phone\n"
        "acme,ACME SDN BHD,tax_id:000111222333,,\n"
        "acme,ACME SDN BHD,,1 JALAN SATU,03-1234 5678\n"
    )
    res = _run("--home", home, "vendors", "import", str(good))
    assert res.returncode == 0, res.stderr
    assert "imported 1 vendor(s)" in res.stdout
    res = _run("--home", home, "vendors", "list")
    assert res.returncode == 0 and "acme  'ACME SDN BHD'" in res.stdout
    assert "tax_id:000111222333" in res.stdout
    shown = json.loads(_run("--home", home, "vendors", "show", "acme").stdout)
    assert shown["branches"][0]["phones"] == ["phone:0312345678"] and shown["conflicts"] == []
    out = tmp_path / "out.json"
    assert _run("--home", home, "vendors", "export", str(out)).returncode == 0
    assert json.loads(out.read_text())["vendors"][0]["id"] == "acme"
    # Another vendor claiming the same tax id: stored, reported, exit 1; never merged.
    clash = tmp_path / "clash.json"
    clash.write_text(json.dumps([{"name": "OTHER CO", "keys": ["tax_id:000111222333"]}]))
    res = _run("--home", home, "vendors", "import", str(clash))
    assert res.returncode == 1 and "conflict shared_key tax_id:000111222333" in res.stdout
    res = _run("--home", home, "vendors", "list", "--conflicts")
    assert "tax_id:000111222333" in res.stdout and "OTHER CO" in res.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("name,key\nX,nonsense\n")
    res = _run("--home", home, "vendors", "import", str(bad))
    assert res.returncode == 1 and "line 2" in res.stderr
    assert _run("--home", home, "vendors", "show", "nobody").returncode == 1
