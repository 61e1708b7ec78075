"""Runs as recovery sees them: dead runs found and reported failed, each pending batch's next
step (run, retry, wait, held, give up), the reason a run failed.

The embedded instance has no run monitoring, so a run whose process was killed stays
``STARTED`` for ever. Two records say which process executes a run: the tags a driver that
executes a whole run in-process puts on it (:func:`process_tags`: ``docasset ingest``, the
demo, the tests), and ``runs/<run_id>.json``, written by every step process that opens the
working directory (``DocassetHome``) for runs the daemon launched. A run whose process is
gone is reported failed on the instance (``reap``), so the UI, the sensors and ``docasset
status`` all see the same thing; then it counts as a failed attempt.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from docasset.core.intake.inbox import InboxConfig
from docasset.core.intake.ledger import unfinished_batches
from docasset.core.recovery import (
    RunView,
    Step,
    clear_pending,
    forget_run_processes,
    held,
    next_step,
    pending_batches,
    released,
    run_is_dead,
    run_processes,
    this_process,
)
from docasset.core.workdir import Workdir

INGEST_JOB = "ingest_job"
PID_TAG, HOST_TAG, START_TAG = "docasset/pid", "docasset/host", "docasset/pid_start"
PROCESS_TAGS = (PID_TAG, HOST_TAG, START_TAG)
QUEUED = {
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
}
RUNNING = {dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED}


def process_tags() -> dict[str, str]:
    """Tags of a run executed in-process by the calling process (``execute_in_process``)."""
    p = this_process()
    return {HOST_TAG: p["host"], PID_TAG: str(p["pid"]), START_TAG: str(p["start"])}


def _in_process(run: dg.DagsterRun) -> dict[str, object] | None:
    tags = run.tags
    if PID_TAG not in tags:
        return None
    start = tags.get(START_TAG)
    return {
        "host": tags.get(HOST_TAG),
        "pid": tags[PID_TAG],
        "start": None if start in (None, "None") else start,
    }


def is_dead(wd: Workdir, run: dg.DagsterRun, grace_seconds: float) -> bool:
    """Whether a started run has lost its process (see the module docstring)."""
    if run.status not in RUNNING:
        return False
    return run_is_dead(_in_process(run), run_processes(wd.root, run.run_id), grace_seconds)


def reap(
    instance: dg.DagsterInstance, wd: Workdir, runs: list[dg.DagsterRun], grace_seconds: float
) -> list[dg.DagsterRun]:
    """Report every dead run among ``runs`` failed on the instance; returns ``runs`` with
    their statuses as they now are."""
    out = []
    for run in runs:
        if run.is_finished:
            forget_run_processes(wd.root, run.run_id)
        elif is_dead(wd, run, grace_seconds):
            instance.report_run_failed(
                run,
                "docasset: the process executing this run is gone (killed or crashed); "
                "marked failed so that it can be retried",
            )
            forget_run_processes(wd.root, run.run_id)
            run = instance.get_run_by_id(run.run_id) or run
        out.append(run)
    return out


def failure_reason(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str:
    """Why a run failed, in one line: its failed step and error, else the run's message."""
    for rec in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        ev = rec.dagster_event
        err = ev.step_failure_data.error if ev and ev.step_failure_data else None
        if ev is not None and err is not None:
            text = err.message.strip()
            msg = text.splitlines()[0] if text else str(err.cls_name)
            return f"step {ev.step_key} failed: {msg}"[:500]
    for rec in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE):
        if rec.dagster_event and rec.dagster_event.message:
            return rec.dagster_event.message.strip().splitlines()[0][:500]
    return f"run {run.run_id} failed (see the run in the Dagster UI)"


def ingest_runs(instance: dg.DagsterInstance, batch_id: str) -> list[dg.DagsterRun]:
    """Every ingest run of a batch, oldest first."""
    filters = dg.RunsFilter(job_name=INGEST_JOB, tags={"dagster/partition": batch_id})
    return list(reversed(instance.get_runs(filters=filters)))


def view(instance: dg.DagsterInstance, run: dg.DagsterRun, dead: bool = False) -> RunView:
    """A run's state for :func:`next_step` (``dead``: its process is known gone)."""
    if dead:
        return RunView(run.run_id, "dead", "the process executing the run is gone")
    if run.status == dg.DagsterRunStatus.SUCCESS:
        return RunView(run.run_id, "success")
    if run.status in QUEUED or run.status in RUNNING:
        return RunView(run.run_id, "in_flight")
    return RunView(run.run_id, "failure", failure_reason(instance, run))


@dataclass(frozen=True)
class BatchPlan:
    """A pending batch and its next step."""

    batch_id: str
    step: Step
    runs: int
    failed_runs: tuple[str, ...] = ()

    @property
    def run_key(self) -> str:
        """The run key of the run to launch (the first run's key is the batch id)."""
        a = self.step.attempt
        return self.batch_id if a == 0 else f"{self.batch_id}-retry{a}"


def plan_batches(
    instance: dg.DagsterInstance,
    wd: Workdir,
    cfg: InboxConfig,
    skip: frozenset[str] = frozenset(),
    read_only: bool = False,
) -> list[BatchPlan]:
    """The next step of every batch that has no successful ingest run yet. Dead runs are
    reported failed first (``read_only``: only seen as dead, nothing written: status)."""
    out = []
    for b in sorted(set(pending_batches(wd)) | set(unfinished_batches(wd))):
        if b in skip:
            continue
        runs = ingest_runs(instance, b)
        if read_only:
            views = [view(instance, r, is_dead(wd, r, cfg.dead_run_seconds)) for r in runs]
        else:
            runs = reap(instance, wd, runs, cfg.dead_run_seconds)
            views = [view(instance, r) for r in runs]
        rel = released(wd, b)
        excused = frozenset(str(r) for r in (rel or {}).get("excused_runs") or [])
        step = next_step(views, cfg.ingest_retries, held(wd, b) is not None, excused)
        if step.action == "done":  # a run succeeded (the sensor saw it after the fact)
            if not read_only:
                clear_pending(wd, b)
            continue
        failed = tuple(v.run_id for v in views if v.state in ("failure", "dead"))
        out.append(BatchPlan(b, step, len(runs), failed))
    return out
