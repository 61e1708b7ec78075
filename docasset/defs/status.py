"""``docasset status``: batches, runs, stranded work and what to do, read from the working
directory and the Dagster instance (nothing is changed: dead runs are shown, not reaped)."""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from docasset.core.intake.inbox import InboxConfig
from docasset.core.recovery import held, released
from docasset.core.training.registry import TMP_VERSION
from docasset.core.workdir import Workdir
from docasset.defs.recovery import (
    QUEUED,
    RUNNING,
    failure_reason,
    is_dead,
    plan_batches,
)

CORRECTIONS_JOB, RETRAIN_JOB = "corrections_job", "retrain_job"


def _visible(d: os.PathLike[str] | str) -> int:
    return sum(1 for n in os.listdir(d) if not n.startswith("."))


def _run(instance: dg.DagsterInstance, wd: Workdir, run: dg.DagsterRun, grace: float) -> dict:
    dead = is_dead(wd, run, grace)
    status = "dead" if dead else run.status.value.lower()
    out: dict[str, Any] = {"run_id": run.run_id, "status": status}
    if run.status == dg.DagsterRunStatus.FAILURE:
        out["reason"] = failure_reason(instance, run)
    return out


def status(instance: dg.DagsterInstance, wd: Workdir, cfg: InboxConfig) -> dict[str, Any]:
    """Everything ``docasset status`` shows, as one JSON-able dict (``todo``: what a person
    should do, one line each; empty when nothing is stranded)."""
    todo: list[str] = []
    batches: list[dict[str, Any]] = []
    for p in plan_batches(instance, wd, cfg, read_only=True):
        b, step = p.batch_id, p.step
        row: dict[str, Any] = {"batch": b, "runs": p.runs, "state": step.action}
        if step.action == "run":
            row["state"] = "retry" if p.runs else "not_run"
            row["reason"] = step.reason
            todo.append(
                f"batch {b}: {'run again' if p.runs else 'never run'}"
                + (f" (last failure: {step.reason})" if step.reason else "")
                + ": `docasset ingest` runs it (the inbox_sensor does on its next tick)"
            )
        elif step.action == "wait":
            row["run_id"] = step.run_id
        elif step.action == "held":
            rec = held(wd, b) or {}
            row.update(run_id=rec.get("run_id"), bad_share=rec.get("bad_share"))
            todo.append(
                f"batch {b}: held by the scan_quality gate (bad-scan share "
                f"{rec.get('bad_share')} > {rec.get('threshold')}); check its scans in "
                f"archive/, then `docasset release {b} --reason ...`"
            )
        else:
            row.update(state="given_up", reason=step.reason, run_id=step.run_id)
            todo.append(
                f"batch {b}: gave up after {step.attempt} failed runs (last: {step.reason}); "
                f"fix the cause, then `docasset release {b} --reason ...` to run it again"
            )
        if (rel := released(wd, b)) is not None:
            row["released_by"] = rel.get("released_by")
        batches.append(row)

    grace = cfg.dead_run_seconds
    corr = list(instance.get_runs(filters=dg.RunsFilter(job_name=CORRECTIONS_JOB), limit=1))
    corrections: dict[str, Any] = {
        "inbox": _visible(wd.corrections_inbox),
        "last_run": _run(instance, wd, corr[0], grace) if corr else None,
    }
    last = corrections["last_run"]
    if last and last["status"] in ("failure", "dead"):
        todo.append(
            f"corrections: the last import run {last['run_id']} {last['status']}"
            + (f" ({last['reason']})" if last.get("reason") else "")
            + "; the corrections_sensor runs it again (bounded by "
            "settings.corrections.import_retries)"
        )
    live = list(
        instance.get_runs(filters=dg.RunsFilter(job_name=RETRAIN_JOB, statuses=[*QUEUED, *RUNNING]))
    )
    retrain = [_run(instance, wd, r, grace) for r in live]
    for r in retrain:
        if r["status"] == "dead":
            todo.append(
                f"retraining run {r['run_id']}: its process is gone; the retrain_sensor "
                "reports it failed and runs it again on its next tick"
            )
    temp = sorted(p.name for p in wd.models.glob(f"{TMP_VERSION}*"))
    return {
        "home": str(wd.root),
        "inbox": _visible(wd.inbox),
        "batches_claimed": sum(1 for _ in wd.batches.glob("*.json")),
        "batches_unfinished": batches,
        "corrections": corrections,
        "retraining_runs": retrain,
        "models_temp": temp,
        "todo": todo,
    }


def render(s: dict[str, Any]) -> str:
    """The human-readable ``docasset status``."""
    lines = [
        f"docasset home {s['home']}",
        f"inbox: {s['inbox']} entr{'y' if s['inbox'] == 1 else 'ies'} waiting",
        f"batches: {s['batches_claimed']} claimed, "
        f"{len(s['batches_unfinished'])} without a successful ingest run",
    ]
    for b in s["batches_unfinished"]:
        extra = f" - {b['reason']}" if b.get("reason") else ""
        lines.append(f"  {b['batch']}  {b['state']}  ({b['runs']} run(s)){extra}")
    c = s["corrections"]
    last = c["last_run"]
    lines.append(
        f"corrections: {c['inbox']} file(s) in the inbox; last import run "
        + (f"{last['run_id']} {last['status']}" if last else "none")
    )
    lines.append(
        "retraining: "
        + (", ".join(f"{r['run_id']} {r['status']}" for r in s["retraining_runs"]) or "no run")
        + " in flight"
    )
    if s["models_temp"]:
        lines.append(
            f"models: {len(s['models_temp'])} temp dir(s) of a model write (in progress, or "
            "killed: swept when the registry is next opened)"
        )
    lines.append("what to do:" if s["todo"] else "what to do: nothing, no work is stranded")
    lines += [f"  - {t}" for t in s["todo"]]
    return "\n".join(lines)
