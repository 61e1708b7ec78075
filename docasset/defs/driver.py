"""Drive the real asset graph without a daemon: tick sensors, execute their run requests.

The demo, the end-to-end tests and the production simulation use this so that every run is a
real Dagster run on the given instance (visible in ``dagster dev`` afterwards), exactly as the
daemon would launch it, only synchronously. Cursors persist in the working directory, and run
keys already used on the instance are skipped, as the daemon does.
"""

from __future__ import annotations

import json
import weakref
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from docasset.core.extraction.extract import EXTRACTION_FAILED
from docasset.core.extraction.routing import Blocker
from docasset.core.intake.inbox import InboxConfig, claim, read_manifest, scan_inbox
from docasset.core.intake.ledger import read_ledger
from docasset.core.progress import Progress
from docasset.core.recovery import clear_pending, forget_run_processes, held
from docasset.core.workdir import Workdir
from docasset.defs.recovery import INGEST_JOB, failure_reason, plan_batches, process_tags

# Pooled storage connections, as Dagster's webserver holds them, without its query timeout.
_POOL = {"statement_timeout": 0, "pool_recycle": 3600, "max_overflow": 4}
_POOLED: weakref.WeakSet[dg.DagsterInstance] = weakref.WeakSet()


class LocalDriver:
    """Ticks sensors and launches jobs in-process on one Dagster instance.

    The driver's process runs every run it launches, so it keeps the instance's storage
    connections open between queries (``pool_connections``): on a Postgres instance every
    query and stored event otherwise opens a new connection, which is a new server process
    (measured with ``evals.bench_run_cost``: the server's CPU per one-document run fell from
    1.7 to 0.2 s, docs/ocr-cost.md). SQLite storage has no pool: nothing changes there.
    """

    def __init__(
        self,
        instance: dg.DagsterInstance,
        defs: dg.Definitions,
        state_dir: Path,
        log_level: str = "WARNING",
        pool_connections: bool = True,
    ) -> None:
        if pool_connections and instance not in _POOLED:
            instance.optimize_for_webserver(**_POOL)  # a second call would leak the first pool
            _POOLED.add(instance)
        self.instance = instance
        self.state_dir = state_dir
        self.log_level = log_level
        self.defs = defs
        self._cursor_file = state_dir / "sensor-cursors.json"

    def _cursors(self) -> dict[str, str]:
        return (
            json.loads(self._cursor_file.read_text("utf-8")) if self._cursor_file.is_file() else {}
        )

    def _save_cursor(self, name: str, cursor: str) -> None:
        cursors = self._cursors()
        cursors[name] = cursor
        self._cursor_file.write_text(json.dumps(cursors, indent=1), "utf-8")

    def tick(
        self, sensor_name: str, run_config: dict | None = None
    ) -> list[dg.ExecuteInProcessResult]:
        """Evaluate one sensor tick and run what it requests; returns the run results.

        ``run_config`` fills in requests that carry none (as a launchpad user would)."""
        sensor = self.defs.resolve_sensor_def(sensor_name)
        with dg.build_sensor_context(
            instance=self.instance,
            cursor=self._cursors().get(sensor_name),
            definitions=self.defs,
            sensor_name=sensor_name,
            resources=dict(self.defs.resources or {}),
            # With a ref, the context resolves requests for partitions the tick itself adds.
            instance_ref=self.instance.get_ref() if self.instance.is_persistent else None,
        ) as context:
            data = sensor.evaluate_tick(context)
        for req in data.dynamic_partitions_requests or []:
            if isinstance(req, dg.AddDynamicPartitionsRequest):
                self.instance.add_dynamic_partitions(
                    req.partitions_def_name, list(req.partition_keys)
                )
        for event in data.asset_events or []:  # e.g. Label Studio's annotations, pulled
            self.instance.report_runless_asset_event(event)
        if data.cursor is not None:
            self._save_cursor(sensor_name, data.cursor)
        results = []
        for rr in data.run_requests or []:
            if rr.run_key and self.instance.get_runs(
                filters=dg.RunsFilter(tags={"dagster/run_key": rr.run_key}), limit=1
            ):
                continue  # the daemon never launches one run key twice
            tags = {**(rr.tags or {}), "dagster/sensor_name": sensor_name}
            if rr.run_key:
                tags["dagster/run_key"] = rr.run_key
            job_name = rr.job_name or sensor.job_name
            if job_name is None:
                raise dg.DagsterInvariantViolationError(
                    f"sensor {sensor_name} requested a run without a job"
                )
            config = dict(rr.run_config) if rr.run_config else run_config
            results.append(self.run(job_name, rr.partition_key, config, tags))
        return results

    def run(
        self,
        job_name: str,
        partition_key: str | None = None,
        run_config: dict | None = None,
        tags: dict[str, str] | None = None,
    ) -> dg.ExecuteInProcessResult:
        """Execute a job of the definitions in-process (failures are returned, not raised)."""
        job = self.defs.resolve_job_def(job_name)
        config = {
            "loggers": {"console": {"config": {"log_level": self.log_level}}},
            **(run_config or {}),
        }
        # This process executes the whole run: if it dies, the run is dead (recovery).
        result = job.execute_in_process(
            instance=self.instance,
            partition_key=partition_key,
            run_config=config,
            tags={**(tags or {}), **process_tags()},
            raise_on_error=False,
        )
        forget_run_processes(self.state_dir, result.run_id)
        return result


# --- docasset ingest: what the daemon would do for the inbox, once ----------------------------

_NO_OUTPUT = (dg.DagsterError, KeyError)


def _output(run: dg.ExecuteInProcessResult, node: str) -> pl.DataFrame | None:
    try:
        out = run.output_for_node(node)
    except _NO_OUTPUT:  # the step failed or was skipped (a blocking gate): no frame
        return None
    return out if isinstance(out, pl.DataFrame) else None


def _outcomes(wd: Workdir, batch_id: str, run: dg.ExecuteInProcessResult) -> list[dict[str, Any]]:
    """One ``docasset ingest`` object per entry of a batch, from its run."""
    scans = _output(run, "raw_scans")
    preds = _output(run, "predictions")
    routes: dict[str, str] = {}
    notes: dict[str, str] = {}
    if preds is not None:
        for r in preds.unique(subset=["doc_id"], keep="first").iter_rows(named=True):
            routes[r["doc_id"]] = r["route"]
            # By kind: a document the extraction failed on (not a blocker whose text says so).
            failed = [
                Blocker(b["kind"], b["field"], b["detail"] or "").text
                for b in r["blocker_details"] or []
                if b["kind"] == EXTRACTION_FAILED
            ]
            if failed:
                notes[r["doc_id"]] = "; ".join(failed)
    rows: dict[str, dict[str, Any]] = {}
    if scans is not None:
        for r in scans.unique(subset=["entry"], keep="first").iter_rows(named=True):
            rows[r["entry"]] = r
    recorded = {str(r.get("entry") or r["source_name"]): r for r in read_ledger(wd, batch_id)}
    out = []
    for e in read_manifest(wd, batch_id)["entries"]:
        rec = rows.get(e["entry"]) or recorded.get(e["entry"])
        item: dict[str, Any] = {"file": e["source_name"], "batch": batch_id, "doc_id": None}
        if rec is None:
            why = f"not processed: run {run.run_id} failed"
            out.append({**item, "status": "failed", "reason": why, "route": None})
            continue
        status, doc_id = rec["status"], rec["doc_id"]
        reason = None
        if status == "quarantined":
            reason = f"{rec['reason']}: {rec['detail']}" if rec.get("detail") else rec["reason"]
        elif status == "duplicate":
            reason = rec.get("detail") or "duplicate"
        else:
            reason = notes.get(doc_id)
        route = routes.get(doc_id) if status == "ok" else None
        out.append({**item, "doc_id": doc_id, "status": status, "reason": reason, "route": route})
    return out


def _held(wd: Workdir, batch_id: str, out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Outcomes of a batch the scan-quality gate holds: its accepted documents are ``held``."""
    why = held_reason(wd, batch_id)
    return [{**o, "status": "held", "reason": why} if o["status"] == "ok" else o for o in out]


def held_reason(wd: Workdir, batch_id: str) -> str:
    rec = held(wd, batch_id) or {}
    share = rec.get("bad_share")
    what = f"bad-scan share {share:.2f} > {rec.get('threshold')}" if share is not None else ""
    return (
        f"batch held by the scan_quality gate ({what}): archived, not OCRed; after checking "
        f"the scans, release it with `docasset release {batch_id} --reason ...`"
    )


@dataclass
class Ingest:
    """What ``docasset ingest`` did: one object per entry, whether every run it launched
    succeeded, and notes on batches that need a person (held, given up, still running)."""

    outcomes: list[dict[str, Any]] = field(default_factory=list)
    ok: bool = True
    notes: list[str] = field(default_factory=list)


def ingest(
    driver: LocalDriver, wd: Workdir, batch_max_files: int, inbox: InboxConfig | None = None
) -> Ingest:
    """Claim what is in the inbox now (no settle wait), run the ingest job of each new batch
    and of every batch claimed earlier whose run did not succeed (never run, failed, or died
    with its process: retried up to ``inbox.ingest_retries`` times), and report every entry
    of the batches it ran. Files another process has open for writing stay in the inbox
    (status ``pending``); a batch the scan-quality gate blocks is ``held``."""
    cfg = inbox or InboxConfig(batch_max_files=batch_max_files)
    entries = scan_inbox(wd)
    claimed = claim(wd, [e for e in entries if not e.writing], batch_max_files)
    new = [c.batch_id for c in claimed]
    res = Ingest()
    todo: list[tuple[str, int]] = [(b, 0) for b in new]
    for p in plan_batches(driver.instance, wd, cfg, skip=frozenset(new)):
        if p.step.action == "run":
            todo.append((p.batch_id, p.step.attempt))
        elif p.step.action == "held":
            res.notes.append(f"batch {p.batch_id}: {held_reason(wd, p.batch_id)}")
        elif p.step.action == "wait":
            res.notes.append(f"batch {p.batch_id}: run {p.step.run_id} is in progress")
        else:
            res.notes.append(
                f"batch {p.batch_id}: gave up after {p.step.attempt} failed runs (last: "
                f"{p.step.reason}); fix the cause, then see `docasset status`"
            )
    if todo:
        driver.instance.add_dynamic_partitions("batches", [b for b, _ in todo])
    out = res.outcomes
    progress = Progress("ingest", len(todo), unit="batches", every=0)
    for b, attempt in todo:
        tags = {"docasset/trigger": "docasset ingest", "docasset/attempt": str(attempt)}
        run = driver.run(INGEST_JOB, b, tags=tags)
        outcomes = _outcomes(wd, b, run)
        if run.success:
            clear_pending(wd, b)
        elif held(wd, b) is not None:
            outcomes = _held(wd, b, outcomes)
            res.notes.append(f"batch {b}: {held_reason(wd, b)}")
        else:
            res.notes.append(f"batch {b}: {failure_reason(driver.instance, run.dagster_run)}")
        res.ok = res.ok and run.success
        out += outcomes
        counts = Counter(o["status"] for o in outcomes)
        status = "succeeded" if run.success else "FAILED"
        progress.step(
            note=f"batch {b} run {status}: "
            + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        )
    for e in entries:
        if e.writing:
            why = "open for writing by another process: left in the inbox"
            out.append(
                {
                    "file": e.display,
                    "batch": None,
                    "doc_id": None,
                    "status": "pending",
                    "reason": why,
                    "route": None,
                }
            )
    return res


def ingest_once(
    driver: LocalDriver, wd: Workdir, batch_max_files: int, inbox: InboxConfig | None = None
) -> tuple[list[dict], bool]:
    """:func:`ingest` as (one object per entry, whether every run succeeded)."""
    res = ingest(driver, wd, batch_max_files, inbox)
    return res.outcomes, res.ok


def pull_once(driver: LocalDriver) -> bool:
    """Pull Label Studio's new and updated annotations and import the corrections inbox, as
    the daemon's ``label_studio_sensor`` and ``corrections_sensor`` do (the pull checks each
    annotation and sends a refused one back to its task). Whether every import run succeeded."""
    runs = driver.tick("label_studio_sensor")  # it requests the import run of what it pulled
    runs += driver.tick("corrections_sensor")  # anything else waiting in the inbox
    return all(run.success for run in runs)
