"""Crash injection: ``docasset ingest`` killed (``os._exit(137)``, as ``kill -9``) at named
points, then run again: every document ends up processed exactly once (issue 23, defect 1).

Each case runs the real command in a subprocess with ``DOCASSET_CRASH_AT=<point>``
(``docasset.core.crash``), checks that the kill left the run ``STARTED`` with its work half
done, runs ``docasset ingest`` again and asserts exactly-once: no document lost, none doubled
in the ledger, the documents index, the archive, the OCR words, the predictions or the review
queue; the dead run is reported failed and a third run is a no-op.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from docasset.core.crash import CRASH_ENV, CRASH_EXIT, POINTS
from docasset.core.intake.inbox import InboxConfig
from docasset.core.intake.index import DocumentIndex
from docasset.core.intake.ledger import read_ledger
from docasset.core.recovery import pending_batches
from docasset.core.workdir import Workdir
from docasset.definitions import build_definitions
from docasset.defs.driver import LocalDriver, ingest
from docasset.defs.settings import Settings

pytestmark = pytest.mark.e2e  # real runs through the Dagster graph

EXE = str(Path(sys.executable).parent / "docasset")
INGEST_POINTS = [
    "ocr",
    "index_claim",
    "file_away",
    "predictions_before_write",
    "predictions_after_write",
    "review_export",
]


def _env(crash: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "DOCASSET_HOME")}
    env["OMP_THREAD_LIMIT"] = "1"
    if crash:
        env[CRASH_ENV] = crash
    return env


def recover(home: Path) -> list[dict]:
    """What ``docasset ingest`` does, in this process (the command itself is exercised by
    tests/test_cli.py): claim, recover, run; returns its JSON objects."""
    with _instance(home) as inst:
        driver = LocalDriver(inst, build_definitions(str(home), Settings()), home, "CRITICAL")
        res = ingest(driver, Workdir(home), InboxConfig().batch_max_files)
    assert res.ok, res.notes
    return res.outcomes


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory, receipts_dir: Path) -> dict[str, Path]:
    """One home per crash point, each with ``docasset ingest`` killed at that point (the
    commands run two at a time: most of their time is start-up)."""
    homes: dict[str, Path] = {}
    procs: list[tuple[str, subprocess.Popen[str]]] = []
    for point in INGEST_POINTS:
        home = tmp_path_factory.mktemp(point) / "work"
        _fill_inbox(Workdir(home), receipts_dir)
        homes[point] = home
    pending = list(INGEST_POINTS)
    while pending or procs:
        while pending and len(procs) < 2:
            point = pending.pop(0)
            procs.append((point, _launch(homes[point], point)))
        point, proc = procs.pop(0)
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == CRASH_EXIT, f"{point}: {err[-2000:]}"
    return homes


def _launch(home: Path, crash: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [EXE, "ingest", "--home", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(crash),
    )


def _instance(home: Path) -> dg.DagsterInstance:
    """The instance ``docasset ingest --home HOME`` uses (``HOME/../dagster_home``)."""
    return dg.DagsterInstance.from_config(str(home.parent / "dagster_home"))


def _runs(home: Path) -> list[dg.DagsterRun]:
    with _instance(home) as inst:
        return list(reversed(inst.get_runs(filters=dg.RunsFilter(job_name="ingest_job"))))


def _fill_inbox(wd: Workdir, receipts_dir: Path) -> str:
    """A receipt, the same bytes again under another name, and a truncated JPEG."""
    img = sorted((receipts_dir / "img").iterdir())[0]
    shutil.copy(img, wd.inbox / img.name)
    shutil.copy(img, wd.inbox / "zz-again.png")
    (wd.inbox / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 40)
    return img.name


def assert_exactly_once(wd: Workdir, good: str, rows: list[dict]) -> None:
    """Every entry reported once, the document processed once, in every store."""
    assert sorted(r["file"] for r in rows) == sorted([good, "zz-again.png", "cut.jpg"]), rows
    by_file = {r["file"]: r for r in rows}
    [batch] = {r["batch"] for r in rows}
    doc = by_file[good]["doc_id"]
    assert (by_file[good]["status"], by_file[good]["route"]) == ("ok", "review"), by_file[good]
    assert (by_file["zz-again.png"]["status"], by_file["zz-again.png"]["doc_id"]) == (
        "duplicate",
        doc,
    )
    assert by_file["cut.jpg"]["status"] == "quarantined"
    ledger = read_ledger(wd, batch)
    assert len(ledger) == len({r["entry"] for r in ledger}) == 3  # one record per entry
    assert sorted(r["status"] for r in ledger) == ["duplicate", "ok", "quarantined"]
    assert DocumentIndex.for_root(wd.root).accepted_ids() == {doc}
    assert [p.name.split(".")[0] for p in wd.archive.iterdir() if p.is_file()] == [doc]
    assert len(list((wd.archive / "duplicates" / batch).iterdir())) == 1
    storage = wd.root / "storage"
    words = pl.read_parquet(storage / "ocr_text" / f"{batch}.parquet")
    assert words["doc_id"].unique().to_list() == [doc]
    key = [c for c in ("doc_id", "page", "block", "par", "line", "word") if c in words.columns]
    assert len(key) > 3 and words.select(key).is_duplicated().sum() == 0  # no word read twice
    preds = pl.read_parquet(storage / "predictions" / f"{batch}.parquet")
    assert preds["doc_id"].unique().to_list() == [doc]
    assert preds.select("doc_id", "field").is_duplicated().sum() == 0
    queue = (wd.root / "review" / batch / "queue.jsonl").read_text().splitlines()
    assert [json.loads(q)["doc_id"] for q in queue] == [doc]
    assert pending_batches(wd) == []


@pytest.mark.parametrize("point", INGEST_POINTS)
def test_ingest_killed_at_a_point_resumes_exactly_once(
    point: str, killed: dict[str, Path], receipts_dir: Path
) -> None:
    assert point in POINTS
    home = killed[point]
    wd = Workdir(home)
    good = sorted((receipts_dir / "img").iterdir())[0].name
    [dead] = _runs(home)
    assert dead.status == dg.DagsterRunStatus.STARTED  # what the kill leaves on the instance
    assert list(wd.inbox.iterdir()) == []  # claimed: only a recovering run can finish it
    assert pending_batches(wd) == [dead.tags["dagster/partition"]]

    assert_exactly_once(wd, good, recover(home))
    first, retry = _runs(home)
    assert first.run_id == dead.run_id and first.status == dg.DagsterRunStatus.FAILURE
    assert retry.status == dg.DagsterRunStatus.SUCCESS and retry.tags["docasset/attempt"] == "1"
    assert recover(home) == []  # nothing left: a no-op
    assert len(_runs(home)) == 2


_TICK = """
import sys
from pathlib import Path
import dagster as dg
from docasset.definitions import build_definitions
from docasset.defs.driver import LocalDriver
from docasset.defs.settings import Settings
home, dagster_home, sensor = sys.argv[1:4]
with dg.DagsterInstance.from_config(dagster_home) as inst:
    defs = build_definitions(home, Settings(inbox={"settle_seconds": 0.0}))
    LocalDriver(inst, defs, Path(home), "CRITICAL").tick(sensor)
"""
_REGISTER = """
import sys
from pathlib import Path
from docasset.core.training.registry import Registry
reg = Registry(Path(sys.argv[1]))
reg.register(reg.load("production"), {"training_set_version": "crash-test"})
"""


def _script(code: str, *args: str, crash: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(crash),
    )


def test_corrections_import_killed_mid_import_is_retried_exactly_once(loop, tmp_path: Path) -> None:
    """Killed after the segment was stored, before its file was archived: the sensor's next
    tick reaps the dead run and runs the import again; nothing is stored twice."""
    from docasset.core.validation.corrections import read_store
    from docasset.sim.operators import corrections_from_keys, write_corrections

    home, dagster_home = tmp_path / "work", tmp_path / "dagster_home"
    shutil.copytree(loop.home, home)
    dagster_home.mkdir()
    wd = Workdir(home)
    recs = corrections_from_keys(wd, loop.boot_dir / "key", None, "carol")[:6]
    write_corrections(wd.corrections_inbox / "carol.jsonl", recs)
    before = read_store(wd.corrections_store).height
    with _instance(home) as inst:
        inst.add_dynamic_partitions("batches", loop.instance.get_dynamic_partitions("batches"))

    res = _script(
        _TICK, str(home), str(dagster_home), "corrections_sensor", crash="corrections_import"
    )
    assert res.returncode == CRASH_EXIT, res.stderr[-2000:]
    assert read_store(wd.corrections_store).height == before + 6  # stored ...
    assert [p.name for p in wd.corrections_inbox.iterdir()] == ["carol.jsonl"]  # not archived

    with _instance(home) as inst:
        defs = build_definitions(str(home), Settings(inbox={"settle_seconds": 0.0}))
        [run] = LocalDriver(inst, defs, home, "CRITICAL").tick("corrections_sensor")
        assert run.success
        first, retry = reversed(inst.get_runs(filters=dg.RunsFilter(job_name="corrections_job")))
        assert first.status == dg.DagsterRunStatus.FAILURE  # the dead run, reaped
        assert retry.tags["dagster/run_key"].endswith("-retry1")
        assert inst.get_latest_materialization_event(dg.AssetKey("promotion_status"))
    store = read_store(wd.corrections_store)
    assert store.height == before + 6  # exactly once
    assert (store["annotator"] == "carol").sum() == 6
    assert list(wd.corrections_inbox.iterdir()) == []
    assert len(list(wd.corrections_archive.rglob("*carol*"))) == 1


def test_registry_write_killed_midway_is_swept_and_registers_exactly_once(
    loop, tmp_path: Path
) -> None:
    """Retraining killed while writing its model version: the temp directory (MBs) is swept
    when the registry is next opened, and the next write adds exactly one version."""
    from docasset.core.training.registry import Registry

    models = tmp_path / "models"
    shutil.copytree(loop.home / "models", models)
    versions = [v.version for v in Registry(models).versions()]
    res = _script(_REGISTER, str(models), crash="registry_write")
    assert res.returncode == CRASH_EXIT, res.stderr[-2000:]
    [left] = list(models.glob(".tmp-*"))
    assert sum(f.stat().st_size for f in left.rglob("*") if f.is_file()) > 100_000
    reg = Registry(models)
    assert reg.swept == [left.name] and not list(models.glob(".tmp-*"))
    assert [v.version for v in reg.versions()] == versions  # nothing half-registered
    res = _script(_REGISTER, str(models), crash="")
    assert res.returncode == 0, res.stderr[-2000:]
    assert [v.version for v in Registry(models).versions()] == [
        *versions,
        f"v{len(versions) + 1:04d}",
    ]
