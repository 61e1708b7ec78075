"""Benchmark: the ``ocr_text`` stage against its engine run bare, on the same pages and cores.

```bash
.venv/bin/python -m evals.bench_ocr --images DIR [--engine tesseract|rapidocr|hybrid] \
    [--workers N] [--repeat R] [--limit N]
.venv/bin/python -m evals.bench_ocr --dataset ../shared/sroie-dev \
    --engine tesseract,hybrid,rapidocr [--limit N] [--repeat R]
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

Prints one JSON object on stdout: per repetition both sides' CPU seconds (this process and
its Tesseract processes) and wall seconds; the **paired CPU ratio** ``raw CPU / pipeline CPU``
of each repetition (the sides of one repetition run back to back on the same pages; CPU time
barely moves with other users' load, wall time does) with its median, min and max (target >=
0.9); CPU seconds per page of both sides; wall figures under ``wall`` for reference; the
peak RSS of the process; what preprocessing was applied. With ``--dataset`` (SROIE layout:
``img/``, ``box/``, ``key/``) also the key values found in the pipeline's text (counts, share,
Wilson interval, by field). ``--engine a,b`` runs each engine in its own process and prints a
``table`` (engine, CPU-s/page, CPU ratio, key values found, peak RSS) with the reports.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
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
from docasset.core.ocr.engine import Engine, ocr_documents
from docasset.core.ocr.hybrid import EscalationConfig
from docasset.core.ocr.names import ENGINE_NAMES
from docasset.core.ocr.rapid import RapidConfig, RapidEngine, loaded_rapidocr
from docasset.core.ocr.tesseract import OcrConfig, prepare_page
from docasset.core.ocr.text import document_text
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
    texts: dict[str, str]


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
    frames: dict[str, pl.DataFrame] = {}
    for doc_id, out in ocr_documents(
        scans, engine, limits=limits, workers=workers, qualities=measured
    ):
        if isinstance(out, Exception):
            failed += 1
            continue
        frames[doc_id] = out
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
        # Joined into text after the timed part (not the stage's work: the documents asset's).
        {d: document_text(f, d) for d, f in frames.items()},
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
    """Median and spread (min, max) of per-repetition values."""
    return {
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
    }


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score 95 % interval of a share ``k / n``."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))


def key_values_found(
    dataset: Path, doc_texts: dict[str, str], rid_of: dict[str, str]
) -> dict[str, Any]:
    """Key values (SROIE ``key/NNN.json``) found verbatim in each receipt's pipeline text,
    ignoring case and whitespace (:mod:`evals.ocr_quality`'s ``key_found``): counts, share
    with its Wilson interval, by field. Receipts whose OCR failed count as not found."""
    from evals.ocr_quality import KEY_FIELDS, load_receipts, normalise, score_texts

    receipts = [r for r in load_receipts(dataset, None) if r.rid in set(rid_of.values())]
    texts = {rid_of[d]: normalise(t.splitlines()) for d, t in doc_texts.items()}
    by_field: dict[str, dict[str, Any]] = {}
    found = total = 0
    for field in KEY_FIELDS:
        wanted = [r for r in receipts if r.keys.get(field)]
        result = score_texts("", 0, wanted, texts, 0, 0.0, 0.0)
        k = round(result.key_hit_by_field.get(field, 0.0) * len(wanted))
        by_field[field] = {"found": k, "of": len(wanted)}
        found, total = found + k, total + len(wanted)
    return {
        "receipts": len(receipts),
        "found": found,
        "of": total,
        "share": round(found / total, 4) if total else None,
        "interval95": wilson(found, total),
        "by_field": by_field,
    }


def bench(
    images: Path,
    workers: int,
    repeat: int,
    config: OcrConfig | None = None,
    engine_name: str = "tesseract",
    limit: int | None = None,
    dataset: Path | None = None,
) -> dict[str, object]:
    """Run both sides ``repeat`` times (pipeline then raw, back to back) and return the report;
    with ``dataset`` (a SROIE-style folder with ``key/``) also the key values found."""
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
    rid_of: dict[str, str] = {}
    for p in paths:
        try:
            scan = inspect_file(p, limits)
        except ScanError:
            continue
        scans.append((scan.doc_id, scan))
        rid_of[scan.doc_id] = p.stem
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
                    "pipeline_cpu_s": round(pipe.cpu, 3),
                    "raw_cpu_s": round(raw_cpu, 3),
                    "cpu_ratio": round(raw_cpu / pipe.cpu, 4),
                    "pipeline_python_cpu_s": round(pipe.py_cpu, 3),
                    "pipeline_s": round(pipe.seconds, 3),
                    "raw_s": round(raw_s, 3),
                    "wall_ratio": round(raw_s / pipe.seconds, 4),
                    "rapid_pages": len(pipe.rapid_pages),
                }
            )
            _log(f"run {i + 1}: {reps[-1]}  load {load[-1]}")
    assert pipe is not None
    cpu_ratios = [r["cpu_ratio"] for r in reps]
    wall_ratios = [r["wall_ratio"] for r in reps]
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report: dict[str, object] = {
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
        # The statistic: per repetition, bare-engine CPU seconds / pipeline CPU seconds (this
        # process + its Tesseract processes). The two sides of a repetition run back to back
        # on the same pages; CPU time barely moves with other users' load (wall time does), so
        # this is the throughput ratio an idle machine would show. Target >= 0.9.
        "cpu_ratio": _stats(cpu_ratios),
        "cpu_ratios": cpu_ratios,
        "target_cpu_ratio": 0.9,
        # One core's work per page, per side (median and spread over the repetitions).
        "pipeline_cpu_s_per_page": _stats([r["pipeline_cpu_s"] / n for r in reps]),
        "raw_cpu_s_per_page": _stats([r["raw_cpu_s"] / n for r in reps]),
        # The pipeline's own Python work on top of the engines (decode, page quality,
        # preprocessing, rows and word boxes, frames; RapidOCR's inference runs in-process
        # and is counted here too).
        "pipeline_python_cpu_s_per_page": _stats([r["pipeline_python_cpu_s"] / n for r in reps]),
        # Wall time, for reference only: it follows the machine's load.
        "wall": {
            "ratio": _stats(wall_ratios),
            "ratios": wall_ratios,
            "raw_pages_per_s": round(n / statistics.median(r["raw_s"] for r in reps), 4),
            "pipeline_pages_per_s": round(n / statistics.median(r["pipeline_s"] for r in reps), 4),
        },
        # ru_maxrss of this process: engines in-process, frames (Tesseract's processes are
        # not counted: a forked child's figure includes the parent's pages before exec).
        "peak_rss_mb": round(peak_rss / 1024),
        "pipeline_words": pipe.words,
        "pipeline_failed_documents": pipe.failed,
        "loadavg": load,
    }
    if dataset is not None:
        report["key_values_found"] = key_values_found(dataset, pipe.texts, rid_of)
    return report


def _engines_in_subprocesses(argv: list[str], engines: list[str]) -> dict[str, object]:
    """One fresh process per engine (so each peak RSS is that engine's), then the table."""
    reports: dict[str, Any] = {}
    for name in engines:
        cmd = [sys.executable, "-m", "evals.bench_ocr", *argv, "--engine", name]
        _log(f"engine {name}: {' '.join(cmd[1:])}")
        res = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
        reports[name] = json.loads(res.stdout.strip().splitlines()[-1])
    table = []
    for name, r in reports.items():
        kv = r.get("key_values_found") or {}
        table.append(
            {
                "engine": name,
                "pipeline_cpu_s_per_page": r["pipeline_cpu_s_per_page"]["median"],
                "raw_cpu_s_per_page": r["raw_cpu_s_per_page"]["median"],
                "cpu_ratio": r["cpu_ratio"]["median"],
                "cpu_ratio_min_max": [r["cpu_ratio"]["min"], r["cpu_ratio"]["max"]],
                "key_values_found": kv.get("share"),
                "key_values_interval95": kv.get("interval95"),
                "peak_rss_mb": r["peak_rss_mb"],
            }
        )
    return {"table": table, "engines": reports}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints the JSON report on stdout."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, default=None, help="folder of scans (or labelled)")
    ap.add_argument(
        "--dataset",
        type=Path,
        default=None,
        help="SROIE-style folder (img/, box/, key/): its scans (unless --images) and the key "
        "values found in the pipeline's text",
    )
    ap.add_argument(
        "--engine",
        default=OcrConfig().engine,
        help=f"one of {', '.join(ENGINE_NAMES)}, or several comma-separated (one process each)",
    )
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeat", type=int, default=1, help="repetitions (pipeline, then raw)")
    ap.add_argument("--limit", type=int, default=None, help="first N scan files only")
    args = ap.parse_args(argv)
    images = args.images or args.dataset
    if images is None or not images.is_dir():
        print(f"not a directory: {images} (give --images or --dataset)", file=sys.stderr)
        return 2
    engines = [e.strip() for e in args.engine.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINE_NAMES]
    if unknown or not engines:
        print(f"unknown engine {unknown}: use {', '.join(ENGINE_NAMES)}", file=sys.stderr)
        return 2
    if len(engines) > 1:
        child = ["--images", str(images), "--workers", str(args.workers)]
        child += ["--repeat", str(args.repeat)]
        child += ["--dataset", str(args.dataset)] if args.dataset else []
        child += ["--limit", str(args.limit)] if args.limit else []
        print(json.dumps(_engines_in_subprocesses(child, engines)))
        return 0
    report = bench(
        images,
        args.workers,
        max(1, args.repeat),
        engine_name=engines[0],
        limit=args.limit,
        dataset=args.dataset,
    )
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
