"""Benchmark: does a day's work cost the same with 30 past batches as with one?

```bash
.venv/bin/python -m evals.bench_history --batches 1,30 [--docs-per-batch 3] [--work DIR]
```

One working directory lives through simulated days (the clock is moved with ``time-machine``,
one day per batch, so every batch is predicted on its own day, as in production). Day 0: a
bootstrap batch is ingested, corrected by the simulated operators and trains the first
production model. Then small history batches arrive, one a day, each ingested through the
inbox sensor and corrected (operators' JSONL through the corrections sensor). When the history
holds K small batches (each K of ``--batches``), the next day is measured in a fresh process,
its peak-RSS mark reset before each step (``/proc/self/clear_refs``), so each peak is the
step's own:

- ``ingest``: a new batch of ``--docs-per-batch`` receipts in the inbox -> inbox sensor tick
  -> ``ingest_job``;
- ``curate``: the operators' corrections of that batch -> corrections sensor tick ->
  ``corrections_job``, then ``curated_training_set`` (from ``retrain_job``, nothing else);
- ``health``: ``health_job`` for the day.

The benchmark only drives sensors and jobs by name and reads their run results, so it measures
whatever the data flows are. Prints one JSON object: each time and peak RSS per K, and the
ratio largest K / smallest K of each (the goal: <= 1.3). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

GOAL_RATIO = 1.3
OPS = ("ingest", "curate", "health")
_NOON = timedelta(hours=12)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _load_avg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


# --- the simulated deployment -------------------------------------------------------------------


class Deployment:
    """A working directory, its SQLite Dagster instance and the simulated operators."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.dagster_home = root / "dagster_home"
        self.gen = root / "generated"
        self.params = json.loads((root / "bench.json").read_text("utf-8"))

    @staticmethod
    def create(root: Path, params: dict[str, Any]) -> Deployment:
        (root / "dagster_home").mkdir(parents=True, exist_ok=True)
        (root / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        (root / "bench.json").write_text(json.dumps(params, indent=1), "utf-8")
        return Deployment(root)

    def definitions(self) -> Any:
        from docasset.definitions import build_definitions
        from docasset.defs.settings import Settings

        return build_definitions(str(self.home), Settings(**self.params["settings"]))

    def arrive(self, batch: str, n: int, seed: int, when: datetime) -> Path:
        """``n`` new receipts in the inbox, arrived a minute before ``when``; their labelled
        folder (for the operators) is returned."""
        from docasset.core.workdir import Workdir
        from docasset.sim.synthetic.generate import generate

        out = self.gen / batch
        shutil.rmtree(out, ignore_errors=True)
        inbox = Workdir(self.home).inbox
        stamp = (when - timedelta(minutes=1)).timestamp()
        for d in generate(out, n, seed=seed, prefix=f"{batch}-"):
            dst = inbox / d.image_path.name
            shutil.copy(d.image_path, dst)
            os.utime(dst, (stamp, stamp))  # the inbox's settle time reads the simulated clock
        return out

    def correct(self, batch: str, labelled: Path, when: datetime) -> None:
        """The operators' corrections of a batch's documents, in the corrections inbox."""
        from docasset.core.workdir import Workdir
        from docasset.sim.operators import corrections_from_keys, write_corrections

        wd = Workdir(self.home)
        recs = corrections_from_keys(wd, labelled / "key", None, "bench-operator", when)
        write_corrections(wd.corrections_inbox / f"{batch}.jsonl", recs)


def _instance(dagster_home: Path) -> Any:
    import dagster as dg

    return dg.DagsterInstance.from_config(str(dagster_home))


def _check(label: str, results: list[Any]) -> None:
    if not results or not all(r.success for r in results):
        raise SystemExit(f"{label}: expected successful runs, got {[r.success for r in results]}")


def build_history(dep: Deployment, days: list[date], first_batch: int) -> float:
    """One small batch a day on ``days`` (ingested and corrected); returns the seconds taken."""
    import time_machine

    from docasset.defs.driver import LocalDriver

    started = time.perf_counter()
    defs = dep.definitions()
    with _instance(dep.dagster_home) as instance:
        driver = LocalDriver(instance, defs, dep.home)
        for i, day in enumerate(days):
            k = first_batch + i
            when = datetime.combine(day, datetime.min.time(), UTC) + _NOON
            with time_machine.travel(when, tick=True):
                labelled = dep.arrive(f"h{k:03d}", dep.params["docs_per_batch"], 1000 + k, when)
                _check(f"history batch {k} intake", driver.tick("inbox_sensor"))
                dep.correct(f"h{k:03d}", labelled, when)
                _check(f"history batch {k} corrections", driver.tick("corrections_sensor"))
            _log(f"history: batch {k} on {day} ({time.perf_counter() - started:.0f} s)")
    return time.perf_counter() - started


def bootstrap(dep: Deployment, day: date) -> float:
    """Day 0: a bootstrap batch, corrected, trains the first production model."""
    import time_machine

    from docasset.defs.driver import LocalDriver

    started = time.perf_counter()
    defs = dep.definitions()
    train = {"ops": {"candidate_model": {"config": {"epochs": dep.params["epochs"]}}}}
    when = datetime.combine(day, datetime.min.time(), UTC) + _NOON
    with _instance(dep.dagster_home) as instance, time_machine.travel(when, tick=True):
        driver = LocalDriver(instance, defs, dep.home)
        labelled = dep.arrive("boot", dep.params["bootstrap_docs"], 7, when)
        _check("bootstrap intake", driver.tick("inbox_sensor"))
        dep.correct("boot", labelled, when)
        _check("bootstrap corrections", driver.tick("corrections_sensor"))
        runs = driver.tick("retrain_sensor", train) or [driver.run("retrain_job", None, train)]
        _check("bootstrap training", runs)
        promoted = {
            e.asset_key.to_user_string() for r in runs for e in r.get_asset_materialization_events()
        }
        if "serving_model" not in promoted:  # production_model reports a promotion there
            raise SystemExit("bootstrap: no production model was promoted")
    _log(f"bootstrap: {dep.params['bootstrap_docs']} documents and a first model on {day}")
    return time.perf_counter() - started


# --- one measured day (runs in a fresh subprocess) --------------------------------------------


def _status_mb(field: str) -> float:
    """A memory figure of this process from ``/proc/self/status`` (``VmRSS``, ``VmHWM``)."""
    status = Path("/proc/self/status").read_text("utf-8")
    return round(int(status.split(f"{field}:")[1].split()[0]) / 1024, 1)


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def _peak_rss_mb() -> float:
    """This process's peak RSS. ``VmHWM`` rather than ``ru_maxrss``: Linux carries the parent's
    high-water mark across fork + exec into ``ru_maxrss``, so a child would report at least the
    benchmark driver's RSS."""
    return _status_mb("VmHWM")


def _reset_peak() -> bool:
    """Start a new peak-RSS window at the current RSS (Linux >= 4.0); False when refused."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _run_op(op: str, driver: Any, defs: Any, instance: Any, day: date) -> tuple[list, dict]:
    """One step through the sensors and jobs: its run results and its sub-step seconds."""
    import dagster as dg

    if op == "ingest":
        return driver.tick("inbox_sensor"), {}
    if op == "health":
        return [driver.run("health_job", day.isoformat())], {}
    t0 = time.perf_counter()
    results = driver.tick("corrections_sensor")
    t1 = time.perf_counter()
    results.append(
        defs.resolve_job_def("retrain_job").execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey("curated_training_set")],
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            raise_on_error=False,
        )
    )
    sub = {"corrections_import_s": round(t1 - t0, 3)}
    return results, {**sub, "curated_set_s": round(time.perf_counter() - t1, 3)}


def measure_steps(root: Path, day: date, batch: str) -> dict[str, Any]:
    """The measured steps of ``day`` (the new ``batch`` is in the inbox): seconds, memory, and
    what each materialized."""
    import time_machine

    from docasset.defs.driver import LocalDriver

    dep = Deployment(root)
    defs = dep.definitions()
    when = datetime.combine(day, datetime.min.time(), UTC) + _NOON
    steps: dict[str, Any] = {}
    with _instance(dep.dagster_home) as instance, time_machine.travel(when, tick=True):
        driver = LocalDriver(instance, defs, dep.home)
        for op in OPS:
            if op == "curate":
                dep.correct(batch, dep.gen / batch, when)  # the operators' work: not measured
            reset = _reset_peak()
            rss = _rss_mb()
            t0 = time.perf_counter()
            results, sub = _run_op(op, driver, defs, instance, day)
            seconds = time.perf_counter() - t0
            peak = _peak_rss_mb()
            _check(op, results)
            events = [e for r in results for e in r.get_asset_materialization_events()]
            out: dict[str, Any] = {"seconds": round(seconds, 3), **sub}
            out["materialized"] = sorted({e.asset_key.to_user_string() for e in events})
            if op == "health":  # what the day's health saw (absent metadata: None, not 0)
                meta = events[-1].materialization.metadata if events else {}
                modelled = meta.get("documents_modelled")
                out["documents_modelled"] = modelled.value if modelled is not None else None
            out["rss_before_mb"] = rss
            out["peak_rss_mb"] = peak
            out["rss_increase_mb"] = round(peak - rss, 1)
            out["peak_is_the_steps_own"] = reset  # else: the peak so far in this process
            steps[op] = out
    return steps


def measure_day(dep: Deployment, k: int, day: date) -> dict[str, Any]:
    """A new batch, its corrections plus the curated set, and the day's health, on ``day``,
    in a fresh Python process."""
    when = datetime.combine(day, datetime.min.time(), UTC) + _NOON
    batch = f"m{k:03d}"
    dep.arrive(batch, dep.params["docs_per_batch"], 5000 + k, when)
    cmd = [sys.executable, "-m", "evals.bench_history", "_day", "--root", str(dep.root)]
    cmd += ["--day", day.isoformat(), "--batch", batch]
    load = _load_avg()
    proc = subprocess.run(
        cmd, env={**os.environ, "OMP_THREAD_LIMIT": "1"}, stdout=subprocess.PIPE, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"measured day {day} failed (exit {proc.returncode}) in {dep.root}")
    steps: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    for op in OPS:
        _log(f"K={k}: {op} {steps[op]['seconds']} s, peak RSS {steps[op]['peak_rss_mb']} MB")
    return {"day": day.isoformat(), "history_batches": k, "loadavg": [load, _load_avg()], **steps}


# --- the whole benchmark ------------------------------------------------------------------------


def _ratio(a: float, b: float) -> float | None:
    return round(b / a, 3) if a > 0 else None


def bench(work: Path, ks: list[int], docs_per_batch: int, bootstrap_docs: int, epochs: int) -> dict:
    """Bootstrap, then history up to each K and one measured day; the figures as a dict."""
    ks = sorted(set(ks))
    params = {
        "docs_per_batch": docs_per_batch,
        "bootstrap_docs": bootstrap_docs,
        "epochs": epochs,
        "settings": {
            "inbox": {"settle_seconds": 0.0},
            "retrain": {"min_corrections": max(2, bootstrap_docs // 3)},
            "split": {"min_golden": max(2, bootstrap_docs // 4)},
        },
    }
    dep = Deployment.create(work, params)
    # One day per history batch and per measured day, all before today (real clock).
    n_days = 1 + ks[-1] + 1
    day0 = datetime.now(UTC).date() - timedelta(days=n_days + 1)
    started = time.perf_counter()
    boot_s = bootstrap(dep, day0)
    history_s = 0.0
    day, done, runs = day0 + timedelta(days=1), 0, {}
    for k in ks:
        if k > done:
            days = [day + timedelta(days=i) for i in range(k - done)]
            history_s += build_history(dep, days, done + 1)
            day, done = day + timedelta(days=k - done), k
        runs[str(k)] = measure_day(dep, k, day)
        day, done = day + timedelta(days=1), done + 1  # the measured batch is history now
    lo, hi = runs[str(ks[0])], runs[str(ks[-1])]
    ratios = {f"{op}_s": _ratio(lo[op]["seconds"], hi[op]["seconds"]) for op in OPS}
    rss = {op: _ratio(lo[op]["peak_rss_mb"], hi[op]["peak_rss_mb"]) for op in OPS}
    # The peak includes ~260 MB of imports; the increase over the RSS before the step is its own.
    rss_increase = {op: _ratio(lo[op]["rss_increase_mb"], hi[op]["rss_increase_mb"]) for op in OPS}
    return {
        "batches": ks,
        "docs_per_batch": docs_per_batch,
        "bootstrap_docs": bootstrap_docs,
        "work": str(work),
        "seconds": {k: {op: r[op]["seconds"] for op in OPS} for k, r in runs.items()},
        "peak_rss_mb": {k: {op: r[op]["peak_rss_mb"] for op in OPS} for k, r in runs.items()},
        "ratio": ratios,
        "peak_rss_ratio": rss,
        "rss_increase_ratio": rss_increase,
        "goal_ratio": GOAL_RATIO,
        "meets_goal": {k: v is not None and v <= GOAL_RATIO for k, v in {**ratios, **rss}.items()},
        "runs": runs,
        "bootstrap_s": round(boot_s, 1),
        "history_build_s": round(history_s, 1),
        "total_s": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints one JSON object on stdout."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", default="1,30", help="history sizes K, comma-separated")
    ap.add_argument("--docs-per-batch", type=int, default=3)
    ap.add_argument("--bootstrap-docs", type=int, default=16, help="documents of the first model")
    ap.add_argument("--epochs", type=int, default=10, help="training epochs of the first model")
    ap.add_argument("--work", type=Path, default=None, help="kept working dir (default: tmp)")
    ap.add_argument("mode", nargs="?", choices=["_day"], help=argparse.SUPPRESS)
    ap.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--day", type=date.fromisoformat, help=argparse.SUPPRESS)
    ap.add_argument("--batch", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.mode == "_day":
        print(json.dumps(measure_steps(args.root, args.day, args.batch)))
        return 0
    ks = [int(x) for x in args.batches.split(",") if x.strip()]
    if len(ks) < 2 or min(ks) < 1 or args.docs_per_batch < 1 or args.bootstrap_docs < 4:
        ap.error("--batches needs two or more sizes >= 1; --docs-per-batch >= 1; bootstrap >= 4")
    with tempfile.TemporaryDirectory(prefix="bench_history_") as tmp:
        work = (args.work or Path(tmp)).resolve()
        if work.exists() and any(work.iterdir()):
            ap.error(f"--work {work} is not empty (the benchmark starts from nothing)")
        work.mkdir(parents=True, exist_ok=True)
        out = bench(work, ks, args.docs_per_batch, args.bootstrap_docs, args.epochs)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
