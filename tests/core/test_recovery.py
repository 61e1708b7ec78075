"""Recovery decisions and records (pure: no Dagster), and the crash points."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from docasset.core.crash import CRASH_ENV, CRASH_EXIT
from docasset.core.recovery import (
    RunView,
    clear_pending,
    forget_run_processes,
    held,
    hold,
    mark_pending,
    next_step,
    pending_batches,
    process_gone,
    record_run_process,
    release,
    released,
    run_is_dead,
    run_processes,
    this_process,
)
from docasset.core.workdir import Workdir


def _gone() -> dict:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return {"host": socket.gethostname(), "pid": proc.pid, "start": None}


def test_next_step_runs_waits_holds_retries_and_gives_up() -> None:
    ok, live = RunView("r0", "success"), RunView("r1", "in_flight")
    fail, dead = RunView("f1", "failure", "disk full"), RunView("d1", "dead", "gone")
    assert next_step([], 2, False).action == "run"
    assert next_step([fail, ok], 2, False).action == "done"
    assert next_step([fail, live], 2, False).run_id == "r1"
    assert next_step([fail], 2, True).action == "held"
    step = next_step([fail, dead], 2, False)
    assert (step.action, step.attempt, step.run_id) == ("run", 2, "d1")  # dead counts
    step = next_step([fail, dead, RunView("f2", "failure", "disk full")], 2, False)
    assert (step.action, step.attempt, step.reason) == ("give_up", 3, "disk full")
    # Released: the excused runs no longer count, the next attempt has a new number.
    step = next_step([fail, dead, RunView("f2", "failure")], 2, False, frozenset({"f1", "d1"}))
    assert (step.action, step.attempt) == ("run", 3)


def test_a_process_is_gone_once_exited_and_unknown_on_another_host() -> None:
    assert process_gone(this_process()) is False
    assert process_gone(_gone()) is True
    assert process_gone({**this_process(), "host": "elsewhere"}) is None
    # The same pid with another start time is another process (pid reuse).
    assert process_gone({**this_process(), "start": "1"}) is True


def test_run_is_dead_in_process_at_once_recorded_after_the_grace() -> None:
    assert run_is_dead(_gone(), [], 120.0)
    assert not run_is_dead(this_process(), [], 120.0)
    rec = {**_gone(), "at": 1000.0}
    assert not run_is_dead(None, [rec], 120.0, now=1100.0)  # between two steps, maybe
    assert run_is_dead(None, [rec], 120.0, now=1121.0)
    # A parallel step still running keeps the run alive, however old the others are.
    assert not run_is_dead(None, [rec, {**this_process(), "at": 0.0}], 120.0, now=1e9)
    assert not run_is_dead(None, [], 120.0)  # nothing known: never declared dead


def test_run_process_records_one_per_process(tmp_path: Path) -> None:
    record_run_process(tmp_path, "r1")
    [rec] = run_processes(tmp_path, "r1")
    assert rec["pid"] == os.getpid() and run_processes(tmp_path, "r2") == []
    forget_run_processes(tmp_path, "r1")
    assert run_processes(tmp_path, "r1") == []


def test_pending_hold_and_release_records(tmp_path: Path) -> None:
    wd = Workdir(tmp_path)
    mark_pending(wd, "b1")
    mark_pending(wd, "b2")
    clear_pending(wd, "b1")
    assert pending_batches(wd) == ["b2"]
    hold(wd, "b2", "run-1", {"bad_share": 0.8, "threshold": 0.5})
    assert held(wd, "b2")["run_id"] == "run-1" and released(wd, "b2") is None
    rec = release(wd, "b2", "scans checked: faint but readable", "alice")
    assert held(wd, "b2") is None and pending_batches(wd) == ["b2"]
    assert rec["gate_released"] and rec["excused_runs"] == ["run-1"]
    assert released(wd, "b2")["released_by"] == "alice"
    # A batch recovery gave up on: its failed runs are excused, the gate is not released.
    rec = release(wd, "b3", "disk fixed", "bob", ["f1", "f2"])
    assert not rec["gate_released"] and rec["excused_runs"] == ["f1", "f2"]
    (wd.batches / ".held" / "b4.json").parent.mkdir(exist_ok=True)
    (wd.batches / ".held" / "b4.json").write_text("{torn")
    assert held(wd, "b4") == {"damaged_record": str(wd.batches / ".held" / "b4.json")}


@pytest.mark.parametrize("point", ["ocr", "registry_write"])
def test_crashpoint_kills_the_process_only_at_its_point(point: str) -> None:
    code = "from docasset.core.crash import crashpoint; crashpoint('ocr'); print('after')"
    env = {**os.environ, CRASH_ENV: point}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if point == "ocr":
        assert (res.returncode, res.stdout) == (CRASH_EXIT, "")
    else:
        assert (res.returncode, res.stdout) == (0, "after\n")
