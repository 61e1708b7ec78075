"""Recovery by construction: what is left to do after any crash, as files, not memory.

Three records in the working directory, each a small file written atomically:

- ``batches/.pending/<batch>``: written when a batch is claimed, removed only once an ingest
  run of the batch **succeeded**. Every batch whose run died, failed or was blocked is found
  by listing this directory (O(unfinished batches), whatever the history).
- ``batches/.held/<batch>.json``: the ``scan_quality`` gate blocked the batch (genuinely poor
  scans): its documents are archived but not OCRed, predicted or queued for review until an
  operator releases it (``docasset release <batch> --reason ...``), which moves the record to
  ``batches/.released/<batch>.json`` (who, when, why) and lets the gate pass for that batch.
- ``runs/<run_id>.json``: the process (host, pid and its start time) that executes a run's
  steps, so that a run left ``STARTED`` by a killed process is recognized as dead without
  Dagster's run monitoring (off on the embedded instance).

:func:`next_step` is the pure decision per pending batch, given its runs.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from docasset.core.files import atomic_write
from docasset.core.workdir import Workdir

PENDING = ".pending"
HELD = ".held"
RELEASED = ".released"
RUNS = "runs"


# --- pending batches ---------------------------------------------------------------------


def mark_pending(wd: Workdir, batch_id: str) -> None:
    """Record that ``batch_id`` needs a successful ingest run."""
    d = wd.batches / PENDING
    d.mkdir(exist_ok=True)
    (d / batch_id).touch()


def pending_batches(wd: Workdir) -> list[str]:
    """Batches without a successful ingest run yet, oldest first."""
    d = wd.batches / PENDING
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def clear_pending(wd: Workdir, batch_id: str) -> None:
    """An ingest run of ``batch_id`` succeeded: nothing is left to do for it."""
    (wd.batches / PENDING / batch_id).unlink(missing_ok=True)


# --- held and released batches -----------------------------------------------------------


def _record(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError):
        # A torn record still says the batch is held/released; what is lost is the detail.
        return {"damaged_record": str(path)}
    return data if isinstance(data, dict) else {"damaged_record": str(path)}


def hold(wd: Workdir, batch_id: str, run_id: str, detail: dict[str, Any]) -> None:
    """Record that the scan-quality gate blocked ``batch_id`` in run ``run_id``."""
    d = wd.batches / HELD
    d.mkdir(exist_ok=True)
    rec = {"batch_id": batch_id, "run_id": run_id, "held_at": _now(), **detail}
    atomic_write(d / f"{batch_id}.json", json.dumps(rec, indent=1).encode())


def held(wd: Workdir, batch_id: str) -> dict[str, Any] | None:
    """The hold record of a batch the gate blocked and nobody released yet (None: not held)."""
    return _record(wd.batches / HELD / f"{batch_id}.json")


def released(wd: Workdir, batch_id: str) -> dict[str, Any] | None:
    """The release record of a batch an operator released (None: never released)."""
    return _record(wd.batches / RELEASED / f"{batch_id}.json")


def release(
    wd: Workdir, batch_id: str, reason: str, actor: str, failed_runs: list[str] | None = None
) -> dict[str, Any]:
    """Release a batch so that the next ``docasset ingest`` / inbox_sensor tick runs it again.

    A batch the gate holds: the gate passes for it from now on (``gate_released``). A batch
    recovery gave up on (``failed_runs``, after its cause was fixed): those runs no longer
    count against the retries. Every release is kept (who, when, why)."""
    rec = held(wd, batch_id)
    prev = released(wd, batch_id) or {}
    excused = list(prev.get("excused_runs") or [])
    excused += [str(rec["run_id"])] if rec and rec.get("run_id") else []
    excused += [r for r in failed_runs or [] if r not in excused]
    out = {
        **prev,
        **(rec or {}),
        "batch_id": batch_id,
        "gate_released": bool(prev.get("gate_released")) or rec is not None,
        "excused_runs": excused,
        "released_at": _now(),
        "released_by": actor,
        "reason": reason,
        "history": [*prev.get("history", []), {"at": _now(), "by": actor, "reason": reason}],
    }
    d = wd.batches / RELEASED
    d.mkdir(exist_ok=True)
    atomic_write(d / f"{batch_id}.json", json.dumps(out, indent=1).encode())
    (wd.batches / HELD / f"{batch_id}.json").unlink(missing_ok=True)
    mark_pending(wd, batch_id)
    return out


def held_batches(wd: Workdir) -> list[str]:
    d = wd.batches / HELD
    return sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []


# --- processes running runs --------------------------------------------------------------


def process_start(pid: int) -> str | None:
    """The start time of a process (clock ticks since boot, from ``/proc``); None when no
    such process exists. With the pid it identifies a process even after pid reuse."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def this_process() -> dict[str, Any]:
    """Host, pid and start time of the calling process."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "start": process_start(pid)}


def process_gone(proc: dict[str, Any]) -> bool | None:
    """Whether a process recorded by :func:`this_process` no longer exists: True (gone),
    False (still running), None (cannot tell: another host)."""
    if proc.get("host") != socket.gethostname():
        return None
    try:
        pid = int(proc["pid"])
    except (KeyError, TypeError, ValueError):
        return None
    start = process_start(pid)
    return start is None or (proc.get("start") is not None and start != str(proc["start"]))


def record_run_process(root: Path, run_id: str) -> None:
    """Record that this process executes (steps of) run ``run_id`` in the working directory
    at ``root`` (one record per process: parallel steps each have theirs)."""
    d = root / RUNS
    d.mkdir(exist_ok=True)
    rec = {**this_process(), "run_id": run_id, "at": time.time()}
    atomic_write(d / f"{run_id}.{os.getpid()}.json", json.dumps(rec).encode())


def run_processes(root: Path, run_id: str) -> list[dict[str, Any]]:
    """Every process recorded for a run (empty: none recorded)."""
    paths = sorted((root / RUNS).glob(f"{run_id}.*.json"))
    return [r for p in paths if (r := _record(p)) is not None]


def forget_run_processes(root: Path, run_id: str) -> None:
    """Drop a finished run's process records."""
    for p in (root / RUNS).glob(f"{run_id}.*.json"):
        p.unlink(missing_ok=True)


def run_is_dead(
    in_process: dict[str, Any] | None,
    recorded: list[dict[str, Any]],
    grace_seconds: float,
    now: float | None = None,
) -> bool:
    """Whether a run that its instance still says is started has no process any more.

    ``in_process``: the process a driver executed the whole run in (its tags); gone means
    dead. Otherwise ``recorded``: the processes of its steps; all gone, the last one started
    more than ``grace_seconds`` ago (a multiprocess run starts a process per step), means
    dead. No record, or one on another host: not known dead (``docasset status`` shows it)."""
    if in_process is not None:
        return process_gone(in_process) is True
    if not recorded or any(process_gone(r) is not True for r in recorded):
        return False
    now = time.time() if now is None else now
    return now - max(float(r.get("at", 0.0)) for r in recorded) >= grace_seconds


# --- what to do with a pending batch -----------------------------------------------------


@dataclass(frozen=True)
class RunView:
    """One ingest run of a batch as recovery sees it; ``state``: success, failure, in_flight
    (queued or running) or dead (started, its process gone)."""

    run_id: str
    state: str
    reason: str | None = None


@dataclass(frozen=True)
class Step:
    """What to do with a pending batch: ``run`` (attempt ``attempt``, 0 = first), ``wait`` (a
    run is in flight), ``held`` (the gate blocked it: release it), ``done`` (a run succeeded)
    or ``give_up`` (failed ``attempt`` times; ``reason`` is the last failure)."""

    action: str
    attempt: int = 0
    reason: str | None = None
    run_id: str | None = None


def next_step(
    runs: list[RunView], retries: int, is_held: bool, excused: frozenset[str] = frozenset()
) -> Step:
    """The decision for one pending batch given its runs (oldest first).

    ``excused``: runs that do not count against ``retries`` (the run the gate blocked, once
    the batch is released). Dead runs count as failures."""
    if any(r.state == "success" for r in runs):
        return Step("done")
    live = [r for r in runs if r.state == "in_flight"]
    if live:
        return Step("wait", run_id=live[-1].run_id)
    if is_held:
        last = runs[-1] if runs else None
        return Step("held", run_id=last.run_id if last else None)
    failed = [r for r in runs if r.state in ("failure", "dead") and r.run_id not in excused]
    last_failed = failed[-1] if failed else None
    reason = last_failed.reason if last_failed else None
    run_id = last_failed.run_id if last_failed else None
    if len(failed) > retries:
        return Step("give_up", len(failed), reason, run_id)
    return Step("run", len(runs), reason, run_id)


def _now() -> str:
    return datetime.now(UTC).isoformat()
