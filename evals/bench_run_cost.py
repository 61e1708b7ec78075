"""Benchmark: the fixed cost of a one-document ingest run against the bare OCR of it.

```bash
.venv/bin/python -m evals.bench_run_cost --model DIR [--profile OUT.prof] PNG [PNG ...]
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


def bench(model: Path, scans: list[Path], profile: Path | None = None) -> dict[str, Any]:
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
        _use_instance(Path(tmp) / "dagster_home")  # the instance ``docasset ingest`` creates
        with dg.DagsterInstance.get() as instance:
            driver = LocalDriver(instance, ingest_definitions(home, settings), home)

            def run(scan: Path, tag: str, measured: bool = True) -> tuple[float, bool]:
                # A distinct copy (PNG text chunk): a re-sent file would be a duplicate.
                [page] = write_pages([scan], Path(tmp) / "staged", 1, tag)
                shutil.copy(page, wd.inbox / page.name)
                cpu = process_cpu_seconds()
                if prof and measured:
                    prof.enable()
                _, ok = ingest_once(driver, wd, settings.inbox_config().batch_max_files)
                if prof and measured:
                    prof.disable()
                return process_cpu_seconds() - cpu, ok

            _log(f"warm-up run on {scans[0].name}")
            run(scans[0], "warm", measured=False)
            for i, scan in enumerate(scans):
                run_cpu, ok = run(scan, f"r{i}")
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
    ap.add_argument("scans", type=Path, nargs="+", help="PNG scans; the first also warms up")
    args = ap.parse_args(argv)
    print(json.dumps(bench(args.model, args.scans, args.profile)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
