"""The production stack scales out: inbox batches run concurrently on two Celery workers.

``deploy/stack.sh up`` starts, in a temporary directory on free localhost ports, a throwaway
PostgreSQL cluster (``initdb`` + ``pg_ctl``), Redis, the code server, the daemon, the webserver
and two Celery workers, exactly as ``./run.sh stack`` does. Fifteen files are in the inbox
before the daemon starts; its inbox sensor claims them as five batches in one tick (the code
location is docasset's definitions with three files per batch: ``scale_out_defs``), and the
five runs go through the path every production batch takes: run queue (QueuedRunCoordinator)
-> CeleryRunLauncher -> Redis -> a worker. Four batches are good (two receipts and a re-sent
copy each); the fifth is mostly unusable (two blank pages, one receipt), so its blocking
``scan_quality`` gate must stop OCR and hold the batch. Everything started is stopped by pid /
process group, also when the test fails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from docasset.core.intake.ledger import read_ledger
from docasset.core.workdir import Workdir
from docasset.definitions import build_definitions
from docasset.defs.settings import Settings
from tests.integration.scale_out_defs import FILES_PER_BATCH

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy" / "stack.sh"
GOOD = ["a", "b", "c", "d"]  # batch prefixes; files sort by name into batches of three
BAD = "e"
RUN_TIMEOUT_S = 300

pytestmark = pytest.mark.integration


@dataclass
class Stack:
    """What the module's stack left behind once the inbox runs finished."""

    dir: Path
    home: Path
    env: dict[str, str]
    instance: dg.DagsterInstance
    runs: Sequence[dg.DagsterRun]
    pids: dict[str, int]
    up_output: str

    def batch_of(self, prefix: str) -> str:
        [batch] = {
            str(r["batch_id"])
            for r in read_ledger(Workdir(self.home))
            if str(r["source_name"]).startswith(f"{prefix}-")
        }
        return batch

    def run_of(self, prefix: str) -> dg.DagsterRun:
        [run] = [r for r in self.runs if r.tags["dagster/partition"] == self.batch_of(prefix)]
        return run


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _fill_inbox(inbox: Path, receipts: Path) -> None:
    """Good batches: two receipts and a re-sent copy; the bad one: a receipt and two blank
    pages (genuinely poor scans: files intake refuses are not scans and do not count)."""
    from PIL import Image

    imgs = iter(sorted((receipts / "img").glob("*.png")))
    for p in GOOD:
        first, second = next(imgs), next(imgs)
        shutil.copy(first, inbox / f"{p}-0.png")
        shutil.copy(second, inbox / f"{p}-1.png")
        shutil.copy(first, inbox / f"{p}-2-resent.png")
    data = next(imgs).read_bytes()
    (inbox / f"{BAD}-0.png").write_bytes(data)
    for i in (1, 2):  # distinct sizes: not duplicates of each other
        Image.new("L", (800 + i, 1000), 255).save(inbox / f"{BAD}-{i}-blank.png", dpi=(300, 300))


def _stack_env(env_file: Path) -> dict[str, str]:
    """The variables ``stack.sh up`` recorded (what every process of the stack runs with)."""
    out = subprocess.run(
        ["bash", "-c", f'source "{env_file}" && env -0'],
        capture_output=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
    ).stdout.decode()
    return dict(kv.split("=", 1) for kv in out.split("\0") if "=" in kv)


def _recorded_pids(stack_dir: Path) -> dict[str, int]:
    return {p.stem: int(p.read_text()) for p in (stack_dir / "pids").glob("*.pid")}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "gone"


def _kill_leftovers(stack_dir: Path) -> None:
    """SIGKILL every process group ``stack.sh down`` left (it removes the pid files it stops)."""
    for name, pid in _recorded_pids(stack_dir).items():
        if name == "postgres" or not _alive(pid):
            continue
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    data = stack_dir / "pg" / "data"
    if (data / "postmaster.pid").exists():
        pg_ctl = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
        cmd = [str(pg_ctl), "-D", str(data), "-m", "immediate", "stop"]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, capture_output=True, timeout=60, check=False)


def _wait_for_runs(instance: dg.DagsterInstance, n: int) -> Sequence[dg.DagsterRun]:
    """The inbox sensor's runs once ``n`` exist and all finished."""
    end = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < end:
        runs = instance.get_runs(
            filters=dg.RunsFilter(tags={"dagster/sensor_name": "inbox_sensor"})
        )
        if len(runs) >= n and all(r.is_finished for r in runs):
            return runs
        time.sleep(1)
    raise AssertionError(f"{n} inbox runs did not finish in {RUN_TIMEOUT_S} s: {runs}")


@pytest.fixture(scope="module")
def stack(receipts_dir: Path) -> Iterator[Stack]:
    # The postgres user (the cluster's owner when we are root) must traverse the directory.
    base = Path(tempfile.mkdtemp(prefix="docasset-stack-"))
    base.chmod(0o755)
    stack_dir, home = base / "stack", base / "work"
    _fill_inbox(Workdir(home).inbox, receipts_dir)
    pg, redis, code, web = _free_ports(4)
    # Only this test's settings: no DOCASSET_* of the caller's shell (an existing Postgres...).
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DOCASSET_")},
        "DOCASSET_STACK_DIR": str(stack_dir),
        "DOCASSET_HOME": str(home),
        "DOCASSET_PG_PORT": str(pg),
        "DOCASSET_REDIS_PORT": str(redis),
        "DOCASSET_CODE_PORT": str(code),
        "DOCASSET_WEB_PORT": str(web),
        "DOCASSET_CODE_MODULE": "tests.integration.scale_out_defs",
    }
    try:
        up = subprocess.run(
            [str(STACK), "up"], env=env, capture_output=True, text=True, timeout=400, check=False
        )
        assert up.returncode == 0, up.stdout + up.stderr
        pids = _recorded_pids(stack_dir)
        with pytest.MonkeyPatch.context() as mp:
            for k, v in _stack_env(stack_dir / "env.sh").items():
                mp.setenv(k, v)
            with dg.DagsterInstance.get() as instance:
                runs = _wait_for_runs(instance, len(GOOD) + 1)
                yield Stack(stack_dir, home, env, instance, runs, pids, up.stdout)
    finally:
        subprocess.run([str(STACK), "down"], env=env, capture_output=True, timeout=300, check=False)
        _kill_leftovers(stack_dir)
        shutil.rmtree(base, ignore_errors=True)


def test_stack_runs_on_postgres_and_prints_the_ui(stack: Stack) -> None:
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    assert isinstance(stack.instance.run_storage, PostgresRunStorage)
    assert isinstance(stack.instance.event_log_storage, PostgresEventLogStorage)
    url = f"http://127.0.0.1:{stack.env['DOCASSET_WEB_PORT']}"
    assert f"UI: {url}" in stack.up_output
    with urllib.request.urlopen(f"{url}/server_info", timeout=30) as resp:
        assert resp.status == 200 and "dagster_webserver_version" in json.loads(resp.read())
    assert {"postgres", "redis", "codeserver", "daemon", "webserver", "worker1", "worker2"} <= set(
        stack.pids
    )


def test_four_batches_succeed_concurrently_on_two_workers(stack: Stack) -> None:
    good = [stack.run_of(p) for p in GOOD]
    assert [r.status for r in good] == [dg.DagsterRunStatus.SUCCESS] * len(GOOD)
    assert all(r.tags.get("dagster-celery/task_id") for r in good)  # launched as Celery tasks
    assert {r.tags["docasset/run_kind"] for r in good} == {"ingest"}
    workers = {stack.pids["worker1"], stack.pids["worker2"]}
    ran_in: set[int] = set()
    for run in good:
        [pid] = [
            int(e.message.split("pid: ")[1].rstrip(")."))
            for e in stack.instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
            if e.message.startswith("Started process for run")
        ]
        ran_in.add(os.getpgid(pid))  # the worker's process group (its pool process runs it)
    assert ran_in == workers, (ran_in, workers)
    # Two slots, two ingest runs at a time at most (QueuedRunCoordinator limits), and used.
    records = stack.instance.get_run_records(
        filters=dg.RunsFilter(run_ids=[r.run_id for r in stack.runs])
    )
    spans = [(r.start_time, r.end_time) for r in records]
    assert all(s is not None and e is not None for s, e in spans)
    overlap = max(sum(s <= t < e for s, e in spans) for t, _ in spans)  # type: ignore[operator]
    assert overlap == 2, spans


def test_no_document_is_lost_or_duplicated(stack: Stack) -> None:
    wd = Workdir(stack.home)
    ledger = read_ledger(wd)
    names = Counter(str(r["source_name"]) for r in ledger)
    assert len(names) == (len(GOOD) + 1) * FILES_PER_BATCH and set(names.values()) == {1}
    assert list(wd.inbox.iterdir()) == []
    assert all((stack.home / str(r["stored_path"])).is_file() for r in ledger)
    ok = [str(r["doc_id"]) for r in ledger if r["status"] == "ok"]
    # Every good batch's two receipts, and the held batch's three files (blank pages are
    # documents: the gate holds them, nothing is quarantined).
    assert len(ok) == len(set(ok)) == 2 * len(GOOD) + 3
    status = Counter(str(r["status"]) for r in ledger)
    assert status == {"ok": 2 * len(GOOD) + 3, "duplicate": len(GOOD)}
    defs = build_definitions(str(stack.home), Settings())
    seen: list[str] = []
    with defs.get_asset_value_loader(stack.instance) as loader:
        for p in GOOD:
            batch = stack.batch_of(p)
            preds = loader.load_asset_value("predictions", partition_key=batch)
            scans = loader.load_asset_value("raw_scans", partition_key=batch)
            batch_ok = {str(r["doc_id"]) for r in read_ledger(wd, batch) if r["status"] == "ok"}
            docs = preds["doc_id"].unique().to_list()
            assert set(docs) == batch_ok
            assert set(scans.filter(pl.col("status") == "ok")["doc_id"]) == batch_ok
            seen += docs
    assert len(seen) == len(set(seen)) == 2 * len(GOOD)


def test_blocking_gate_stops_ocr_of_the_unusable_batch(stack: Stack) -> None:
    run, batch = stack.run_of(BAD), stack.batch_of(BAD)
    assert run.status == dg.DagsterRunStatus.FAILURE
    [check] = [
        e.dagster_event.event_specific_data
        for e in stack.instance.all_logs(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        )
        if e.dagster_event is not None
    ]
    assert isinstance(check, dg.AssetCheckEvaluation)
    assert check.check_name == "scan_quality" and not check.passed
    assert check.metadata["bad_share"].value == pytest.approx(2 / 3)
    materialized = {
        name: stack.instance.get_materialized_partitions(dg.AssetKey(name))
        for name in ("raw_scans", "ocr_text", "predictions")
    }
    assert batch in materialized["raw_scans"]
    assert batch not in materialized["ocr_text"] and batch not in materialized["predictions"]
    assert {stack.batch_of(p) for p in GOOD} <= materialized["ocr_text"]
    # The batch is held, not lost: recovery records the hold with the gate's run, and
    # `docasset release <batch>` (docs/recovery.md) lets it through.
    hold = json.loads((stack.home / "batches" / ".held" / f"{batch}.json").read_text())
    assert hold["run_id"] == run.run_id


def test_stack_stop_ends_every_process_it_started(stack: Stack) -> None:
    down = subprocess.run(
        [str(STACK), "down"], env=stack.env, capture_output=True, text=True, timeout=300
    )
    assert down.returncode == 0, down.stdout + down.stderr
    left = {n: p for n, p in stack.pids.items() if _alive(p)}
    assert left == {}, left
    assert list((stack.dir / "pids").glob("*.pid")) == []
