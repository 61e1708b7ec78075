"""Benchmark: the fixed cost of a one-document ingest run against the bare OCR of it.

```bash
.venv/bin/python -m evals.bench_run_cost --model DIR [--profile OUT.prof] \
    [--instance-yaml dagster.yaml --server-pid PID] PNG [PNG ...]
```

One process plays a long-lived ingest worker (a Celery run worker, or ``docasset ingest``
claiming several batches): a fresh working directory with ``--model`` registered as the
``production`` version, a SQLite Dagster instance in a temp dir as ``docasset ingest`` creates
it, the definitions the ``docasset ingest`` command builds. The first scan is ingested once
untimed (imports, model load, engine load: what a worker pays once). Then each scan is
ingested alone (intake -> OCR -> predictions -> review: one Dagster run through
``ingest_once``) and its CPU seconds (this process + its Tesseract processes) are paired with
the bare OCR of the same scan, measured right after in the same process:
:func:`~docasset.core.ocr.engine.ocr_documents` with the deployment's engine, warm. The
target is run / bare OCR <= 2.

``--instance-yaml`` replaces the instance's ``dagster.yaml`` (e.g. Postgres storage, as the
deployed stack has it); ``--server-pid`` adds the CPU of that process and its children (the
Postgres postmaster: its backends do the storage's work in other processes) to the run's
CPU, read from ``/proc``. Each run also reports how many events it stored.

Prints one JSON object on stdout (per scan: run and OCR CPU seconds and their ratio; median
and range of the ratio; load average; peak RSS); progress on stderr. ``--profile`` writes a
CPU-time cProfile of the measured runs (not of the bare OCR).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from docasset.core.datasets.offline import process_cpu_seconds
from evals.bench_intake import write_pages


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _ticks(pid: int) -> int:
    """utime + stime + cutime + cstime of ``pid`` (clock ticks; 0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(f) for f in fields[11:15])  # fields 14-17 of proc(5), after pid and comm


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid``, its waited-for children, and its live children (/proc)."""
    live = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # ppid
            live += sum(int(f) for f in fields[11:13])
    return (_ticks(pid) + live) / os.sysconf("SC_CLK_TCK")


def bench(
    model: Path,
    scans: list[Path],
    profile: Path | None = None,
    instance_yaml: Path | None = None,
    server_pid: int | None = None,
    pool: bool = True,
) -> dict[str, Any]:
    """Ingest ``scans[0]`` untimed, then each scan alone, paired with its bare OCR."""
    import dagster as dg

    from docasset.cli import _use_instance, ingest_definitions
    from docasset.core.extraction.extract import ModelBundle
    from docasset.core.intake.scans import IntakeLimits, inspect_file
    from docasset.core.ocr.engine import ocr_documents
    from docasset.core.training.registry import Registry
    from docasset.core.workdir import Workdir
    from docasset.defs.driver import LocalDriver, ingest_once
    from docasset.defs.ocr_engines import ocr_engine_for
    from docasset.defs.settings import Settings

    os.environ["OMP_THREAD_LIMIT"] = "1"
    prof = cProfile.Profile(time.process_time) if profile else None
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench_run_cost_") as tmp:
        home = Path(tmp) / "work"
        wd = Workdir(home)
        reg = Registry(wd.models)
        mv = reg.register(ModelBundle.load(model), {"training_set_version": "bench"})
        reg.set_alias("production", mv.version, "bench_run_cost")
        settings = Settings()
        engine = ocr_engine_for(settings).engine(settings, None)
        limits = IntakeLimits()
        os.environ.pop("DAGSTER_HOME", None)
        dagster_home = Path(tmp) / "dagster_home"
        if instance_yaml is not None:
            dagster_home.mkdir()
            shutil.copy(instance_yaml, dagster_home / "dagster.yaml")
        _use_instance(dagster_home)  # the instance ``docasset ingest`` creates (or the given)

        def cpu_now() -> float:
            server = tree_cpu_seconds(server_pid) if server_pid is not None else 0.0
            return process_cpu_seconds() + server

        with dg.DagsterInstance.get() as instance:
            event_storage = type(instance.event_log_storage).__name__
            defs = ingest_definitions(home, settings)
            driver = LocalDriver(instance, defs, home, pool_connections=pool)

            def run(scan: Path, tag: str, measured: bool = True) -> tuple[float, bool, int]:
                # A distinct copy (PNG text chunk): a re-sent file would be a duplicate.
                [page] = write_pages([scan], Path(tmp) / "staged", 1, tag)
                shutil.copy(page, wd.inbox / page.name)
                cpu = cpu_now()
                if prof and measured:
                    prof.enable()
                _, ok = ingest_once(driver, wd, settings.inbox_config().batch_max_files)
                if prof and measured:
                    prof.disable()
                cpu = cpu_now() - cpu
                [last] = instance.get_runs(limit=1)
                events = len(instance.get_records_for_run(last.run_id, limit=100_000).records)
                return cpu, ok, events

            _log(f"warm-up run on {scans[0].name}")
            run(scans[0], "warm", measured=False)
            for i, scan in enumerate(scans):
                run_cpu, ok, events = run(scan, f"r{i}")
                sf = inspect_file(Path(tmp) / "staged" / f"r{i}-00000.png", limits)
                cpu = process_cpu_seconds()
                for _, out in ocr_documents([(sf.doc_id, sf)], engine, limits=limits, workers=1):
                    if isinstance(out, Exception):
                        raise out
                ocr_cpu = process_cpu_seconds() - cpu
                rows.append(
                    {
                        "scan": scan.name,
                        "run_ok": ok,
                        "events_stored": events,
                        "run_cpu_s": round(run_cpu, 3),
                        "ocr_cpu_s": round(ocr_cpu, 3),
                        "ratio": round(run_cpu / ocr_cpu, 3),
                        "loadavg": [round(x, 2) for x in os.getloadavg()],
                    }
                )
                _log(str(rows[-1]))
    if prof and profile:
        prof.dump_stats(str(profile))
    ratios = [r["ratio"] for r in rows]
    return {
        "engine": settings.ocr_config().engine,
        "event_storage": event_storage,
        "pooled_connections": pool,
        "runs": rows,
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "target_ratio_max": 2.0,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints the JSON report on stdout."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True, help="a trained model (docasset train)")
    ap.add_argument("--profile", type=Path, default=None, help="write a CPU-time cProfile here")
    ap.add_argument(
        "--instance-yaml", type=Path, default=None, help="the instance's dagster.yaml instead"
    )
    ap.add_argument(
        "--server-pid", type=int, default=None, help="add this process tree's CPU (Postgres)"
    )
    ap.add_argument(
        "--no-pool", action="store_true", help="a new storage connection per query (before)"
    )
    ap.add_argument("scans", type=Path, nargs="+", help="PNG scans; the first also warms up")
    args = ap.parse_args(argv)
    out = bench(
        args.model, args.scans, args.profile, args.instance_yaml, args.server_pid, not args.no_pool
    )
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
