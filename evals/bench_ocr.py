"""Benchmark: the ``ocr_text`` stage against its engine run bare, on the same pages and cores.

```bash
.venv/bin/python -m evals.bench_ocr --images DIR [--engine tesseract|rapidocr|hybrid] \
    [--workers N] [--repeat R] [--limit N]
```

Both sides get the same pages, the same preprocessing, the same engine options and the same
parallelism (one thread per engine call: ``OMP_THREAD_LIMIT=1`` for Tesseract, one ONNX
Runtime thread for RapidOCR; ``--workers`` calls at a time, default one per core); both sides
decode the images while timed:

- **pipeline**: what the ``ocr_text`` asset runs: it receives each document's ``ScanFile`` and
  page measures from ``raw_scans`` (prepared untimed here), and
  :func:`~docasset.core.ocr.engine.ocr_documents` with the engine is timed (page decode,
  preprocessing, the engine, rows and word boxes, the validated polars word frame; for
  ``hybrid`` also the escalation evidence).
- **raw**, the engine bare: *Tesseract*: every page is preprocessed once up front with the same
  :func:`~docasset.core.ocr.tesseract.prepare_page` and
  :class:`~docasset.core.ocr.tesseract.OcrConfig` and written as PNG (not timed), then
  ``tesseract IMG OUT --psm N [--dpi D] -l LANG tsv`` is timed over them (it decodes the PNG).
  *RapidOCR*: ``cv2.imread(file, IMREAD_GRAYSCALE)`` plus the ``RapidOCR`` call with the same
  instance and settings, timed. *hybrid*: Tesseract bare on every page plus RapidOCR bare on
  the pages the pipeline re-read (learnt from the pipeline run of the same repetition).

Prints one JSON object on stdout: pages/s of both sides per repetition, the **paired
ratio** ``pipeline pages/s / raw pages/s`` of each repetition (the sides of one repetition
run back to back, so they share the machine's load; the target is >= 0.9) with its median
and minimum, the same for CPU time, and what preprocessing was applied. Progress goes to
stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from docasset.core.datasets.offline import process_cpu_seconds
from docasset.core.extraction.fields import load_doctype
from docasset.core.extraction.ocr_escalation import make_engine
from docasset.core.intake.scans import (
    IntakeLimits,
    PageQuality,
    ScanFile,
    effective_dpi,
    inspect_file,
    iter_pages,
    page_quality,
)
from docasset.core.ocr.engine import ENGINE_NAMES, Engine, ocr_documents
from docasset.core.ocr.hybrid import EscalationConfig
from docasset.core.ocr.rapid import RapidConfig, RapidEngine, loaded_rapidocr
from docasset.core.ocr.tesseract import OcrConfig, prepare_page
from docasset.errors import ScanError

_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".pdf"}


@dataclass(frozen=True)
class RawPage:
    """One page for the bare engines: its preprocessed PNG and Tesseract flags, and the image
    RapidOCR reads (the scan itself; a PDF page rendered to PNG)."""

    doc_id: str
    page: int
    path: Path
    flags: tuple[str, ...]
    image: Path


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def scan_paths(images: Path, limit: int | None = None) -> list[Path]:
    """The scan files of ``images`` (or of ``images/img`` for a labelled folder), sorted."""
    root = images / "img" if (images / "img").is_dir() else images
    paths = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in _SUFFIXES)
    return paths[:limit] if limit else paths


def _load_avg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def tesseract_flags(dpi: float | None, scale: float, config: OcrConfig) -> tuple[str, ...]:
    """The command-line options :func:`~docasset.core.ocr.tesseract.ocr_page` passes for a page."""
    flags = ["--psm", str(config.psm)]
    if dpi:
        flags += ["--dpi", str(round(dpi * scale))]
    return (*flags, "-l", config.lang)


def prepare_raw(
    paths: list[Path], out_dir: Path, config: OcrConfig, limits: IntakeLimits
) -> list[RawPage]:
    """Decode and preprocess every page exactly as the pipeline does; write them as PNG."""
    pages: list[RawPage] = []
    for path in paths:
        scan = inspect_file(path, limits)
        for info, img in iter_pages(scan, limits):
            quality = page_quality(img, info.dpi)
            prepared, scale, _ = prepare_page(img, info.dpi, quality, config)
            out = out_dir / f"{scan.doc_id}-p{info.page}.png"
            prepared.save(out)
            image = path
            if scan.format == "pdf":
                image = out_dir / f"{scan.doc_id}-p{info.page}-page.png"
                img.save(image)
            flags = tesseract_flags(effective_dpi(info.dpi, quality), scale, config)
            pages.append(RawPage(scan.doc_id, info.page, out, flags, image))
    return pages


def _tesseract_bare(page: RawPage, out_dir: Path, timeout_s: float) -> None:
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    cmd = ["tesseract", str(page.path), str(out_dir / page.path.stem), *page.flags, "tsv"]
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=timeout_s)


def _rapid_bare(page: RawPage, config: RapidConfig) -> None:
    import cv2

    loaded_rapidocr(config)(cv2.imread(str(page.image), cv2.IMREAD_GRAYSCALE))


def run_raw(tasks: list[Callable[[], None]], workers: int) -> tuple[float, float]:
    """Run the bare engine calls ``workers`` at a time; (wall seconds, CPU seconds of this
    process and its Tesseract processes)."""
    cpu, started = process_cpu_seconds(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda task: task(), tasks))
    return time.perf_counter() - started, process_cpu_seconds() - cpu


@dataclass
class PipelineRun:
    """One timed pipeline run: wall and CPU seconds (all, and this Python process alone),
    words, failed documents, and the pages each engine produced."""

    seconds: float
    cpu: float
    py_cpu: float
    words: int
    failed: int
    rapid_pages: set[tuple[str, int]]


def _own_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def run_pipeline(
    scans: list[tuple[str, ScanFile]],
    measured: dict[str, list[PageQuality]],
    engine: Engine,
    limits: IntakeLimits,
    workers: int,
) -> PipelineRun:
    """The ``ocr_text`` stage over the scans, as the asset runs it (the timed part is
    ``ocr_documents``: page decode, preprocessing, the engine, the word frames)."""
    py_cpu, cpu, started = _own_cpu(), process_cpu_seconds(), time.perf_counter()
    words = failed = 0
    rapid: set[tuple[str, int]] = set()
    for _, out in ocr_documents(scans, engine, limits=limits, workers=workers, qualities=measured):
        if isinstance(out, Exception):
            failed += 1
            continue
        words += out.height
        on = out.filter(pl.col("engine") == "rapidocr").select("doc_id", "page").unique()
        rapid |= {(str(d), int(p)) for d, p in on.iter_rows()}
    return PipelineRun(
        time.perf_counter() - started,
        process_cpu_seconds() - cpu,
        _own_cpu() - py_cpu,
        words,
        failed,
        rapid,
    )


def _raw_tasks(
    name: str,
    pages: list[RawPage],
    rapid_pages: set[tuple[str, int]],
    out_dir: Path,
    ocr: OcrConfig,
    rapid: RapidConfig,
) -> list[Callable[[], None]]:
    """The bare engine calls the pipeline's work corresponds to."""
    tasks: list[Callable[[], None]] = []
    for p in pages:
        if name in ("tesseract", "hybrid"):
            tasks.append(lambda p=p: _tesseract_bare(p, out_dir, ocr.timeout_s))  # type: ignore[misc]
        if name == "rapidocr" or (name == "hybrid" and (p.doc_id, p.page) in rapid_pages):
            tasks.append(lambda p=p: _rapid_bare(p, rapid))  # type: ignore[misc]
    return tasks


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 4), "min": round(min(values), 4)}


def bench(
    images: Path,
    workers: int,
    repeat: int,
    config: OcrConfig | None = None,
    engine_name: str = "tesseract",
    limit: int | None = None,
) -> dict[str, object]:
    """Run both sides ``repeat`` times (pipeline then raw, back to back) and return the report."""
    config = config or OcrConfig()
    rapid_config = RapidConfig()
    limits = IntakeLimits()
    paths = scan_paths(images, limit)
    if not paths:
        raise SystemExit(f"no scans (png/jpg/tif/pdf) in {images}")
    os.environ["OMP_THREAD_LIMIT"] = "1"
    engine = make_engine(
        engine_name, config, rapid_config, EscalationConfig(), load_doctype("receipt")
    )
    if engine_name != "tesseract":
        RapidEngine(rapid_config).warm_up()  # both sides use the one loaded instance
    # What raw_scans hands the OCR stage (ScanFile and page measures): prepared untimed.
    scans: list[tuple[str, ScanFile]] = []
    measured: dict[str, list[PageQuality]] = {}
    for p in paths:
        try:
            scan = inspect_file(p, limits)
        except ScanError:
            continue
        scans.append((scan.doc_id, scan))
        measured[scan.doc_id] = [
            page_quality(img, info.dpi) for info, img in iter_pages(scan, limits)
        ]
    reps: list[dict[str, Any]] = []
    load: list[list[float]] = []
    with tempfile.TemporaryDirectory(prefix="bench_ocr_") as tmp:
        prep_dir, out_dir = Path(tmp) / "prepared", Path(tmp) / "out"
        prep_dir.mkdir()
        out_dir.mkdir()
        _log(f"preprocessing {len(paths)} files for the raw side (not timed)")
        raw_pages = prepare_raw(paths, prep_dir, config, limits)
        n = len(raw_pages)
        pipe: PipelineRun | None = None
        for i in range(repeat):
            load.append(_load_avg())
            pipe = run_pipeline(scans, measured, engine, limits, workers)
            tasks = _raw_tasks(
                engine_name, raw_pages, pipe.rapid_pages, out_dir, config, rapid_config
            )
            raw_s, raw_cpu = run_raw(tasks, workers)
            reps.append(
                {
                    "pipeline_s": round(pipe.seconds, 3),
                    "raw_s": round(raw_s, 3),
                    "ratio": round(raw_s / pipe.seconds, 4),
                    "pipeline_cpu_s": round(pipe.cpu, 3),
                    "raw_cpu_s": round(raw_cpu, 3),
                    "cpu_ratio": round(raw_cpu / pipe.cpu, 4),
                    "pipeline_python_cpu_s": round(pipe.py_cpu, 3),
                    "rapid_pages": len(pipe.rapid_pages),
                }
            )
            _log(f"run {i + 1}: {reps[-1]}  load {load[-1]}")
    assert pipe is not None
    ratios = [r["ratio"] for r in reps]
    cpu_ratios = [r["cpu_ratio"] for r in reps]
    return {
        "images": str(images),
        "engine": engine.identity(),
        "files": len(paths),
        "pages": n,
        "pages_by_rapidocr": len(pipe.rapid_pages),
        "workers": workers,
        "repeat": repeat,
        "omp_thread_limit": 1,
        "preprocessing": {
            **asdict(config),
            "applied": "decode, EXIF transpose, 8-bit gray, page_quality, prepare_page "
            f"(deskew={config.deskew}, osd={config.osd}, "
            f"upscale_below_dpi={config.upscale_below_dpi}) for Tesseract (raw side reads it "
            "as PNG); RapidOCR reads the decoded page as it is",
        },
        "tesseract_flags_example": list(raw_pages[0].flags) if raw_pages else [],
        "repetitions": reps,
        # Paired: each repetition's two sides ran back to back under the same load.
        "ratio": _stats(ratios)["median"],
        "ratio_min": _stats(ratios)["min"],
        "ratios": ratios,
        "target_ratio": 0.9,
        "raw_pages_per_s": round(n / statistics.median(r["raw_s"] for r in reps), 4),
        "pipeline_pages_per_s": round(n / statistics.median(r["pipeline_s"] for r in reps), 4),
        # CPU time is far less sensitive to other users' load than wall time: raw / pipeline
        # CPU is the throughput ratio an idle machine would show.
        "cpu_ratio": _stats(cpu_ratios)["median"],
        "cpu_ratios": cpu_ratios,
        "raw_cpu_s_per_page": round(statistics.median(r["raw_cpu_s"] for r in reps) / n, 4),
        "pipeline_cpu_s_per_page": round(
            statistics.median(r["pipeline_cpu_s"] for r in reps) / n, 4
        ),
        # The pipeline's own Python work on top of the engines (decode, page quality,
        # preprocessing, rows and word boxes, frames; RapidOCR's inference runs in-process
        # and is counted here too).
        "pipeline_python_cpu_s_per_page": round(
            statistics.median(r["pipeline_python_cpu_s"] for r in reps) / n, 4
        ),
        "pipeline_words": pipe.words,
        "pipeline_failed_documents": pipe.failed,
        "loadavg": load,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints the JSON report on stdout."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, required=True, help="folder of scans (or labelled)")
    ap.add_argument("--engine", choices=ENGINE_NAMES, default=OcrConfig().engine)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeat", type=int, default=1, help="repetitions (pipeline, then raw)")
    ap.add_argument("--limit", type=int, default=None, help="first N scan files only")
    args = ap.parse_args(argv)
    if not args.images.is_dir():
        print(f"not a directory: {args.images}", file=sys.stderr)
        return 2
    report = bench(
        args.images, args.workers, max(1, args.repeat), engine_name=args.engine, limit=args.limit
    )
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
