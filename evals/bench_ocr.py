"""Benchmark: the ``ocr_text`` stage against the plain ``tesseract`` command line.

```bash
.venv/bin/python -m evals.bench_ocr --images DIR [--workers N] [--repeat R]
```

Both sides get the same pages, the same preprocessing, the same Tesseract options and the same
parallelism (``OMP_THREAD_LIMIT=1``, ``--workers`` processes at a time, default one per core):

- **pipeline**: what the ``ocr_text`` asset runs: it receives each document's ``ScanFile`` and
  page measures from ``raw_scans`` (prepared untimed here), and
  :func:`~docasset.core.ocr.tesseract.ocr_documents` is timed (page decode, preprocessing, one
  ``image_to_data`` call per page, the validated polars word frame).
- **raw**: every page is decoded and preprocessed once up front with the same
  :func:`~docasset.core.ocr.tesseract.prepare_page` and
  :class:`~docasset.core.ocr.tesseract.OcrConfig`, written as PNG to a temporary directory
  (not timed), then ``tesseract IMG OUT --psm N [--dpi D] -l LANG tsv`` is timed over them.

Prints one JSON object on stdout: pages/s of both sides, their ratio
(``pipeline / raw``; the target is >= 0.9) and what preprocessing was applied. With
``--repeat`` the sides alternate and the best time of each is kept (the machine is shared, so
the fastest run is the one least disturbed by other load). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from docasset.core.intake.scans import (
    IntakeLimits,
    PageQuality,
    ScanFile,
    effective_dpi,
    inspect_file,
    iter_pages,
    page_quality,
)
from docasset.core.ocr.tesseract import OcrConfig, ocr_documents, prepare_page
from docasset.errors import ScanError

_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".pdf"}


@dataclass(frozen=True)
class RawPage:
    """A preprocessed page written for the command line, with the flags the pipeline uses."""

    path: Path
    flags: tuple[str, ...]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def scan_paths(images: Path) -> list[Path]:
    """The scan files of ``images`` (or of ``images/img`` for a labelled folder), sorted."""
    root = images / "img" if (images / "img").is_dir() else images
    return sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in _SUFFIXES)


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
            flags = tesseract_flags(effective_dpi(info.dpi, quality), scale, config)
            pages.append(RawPage(out, flags))
    return pages


def _cpu_seconds(who: int | None = None) -> float:
    """User + system CPU time so far of this process (``RUSAGE_SELF``), of its finished
    children (``RUSAGE_CHILDREN``), or of both (None)."""
    total = 0.0
    for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN) if who is None else (who,):
        ru = resource.getrusage(w)
        total += ru.ru_utime + ru.ru_stime
    return total


def run_raw(
    pages: list[RawPage], out_dir: Path, workers: int, timeout_s: float
) -> tuple[float, float]:
    """Run ``tesseract ... tsv`` on every page, ``workers`` processes at a time.

    Returns (wall seconds, CPU seconds of this process and the Tesseract processes).
    """
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def one(page: RawPage) -> None:
        base = out_dir / page.path.stem
        cmd = ["tesseract", str(page.path), str(base), *page.flags, "tsv"]
        subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=timeout_s)

    cpu, started = _cpu_seconds(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, pages))
    return time.perf_counter() - started, _cpu_seconds() - cpu


def run_pipeline(
    paths: list[Path], config: OcrConfig, limits: IntakeLimits, workers: int
) -> tuple[float, float, float, int, int]:
    """The ``ocr_text`` stage over ``paths``, as the asset runs it.

    The asset receives each document's ``ScanFile`` and page measures from ``raw_scans`` (the
    intake stage), so those are prepared untimed here, like the raw side's preprocessing is;
    the timed part is ``ocr_documents``: page decode, preprocessing, one Tesseract call per
    page and the word frames.

    Returns (wall seconds, CPU seconds incl. Tesseract, CPU seconds of this Python process,
    words, failed documents).
    """
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

    py_cpu, cpu, started = _cpu_seconds(resource.RUSAGE_SELF), _cpu_seconds(), time.perf_counter()
    words = failed = 0
    for _, out in ocr_documents(
        scans, config=config, limits=limits, workers=workers, qualities=measured
    ):
        if isinstance(out, Exception):
            failed += 1
        else:
            words += out.height
    py_cpu = _cpu_seconds(resource.RUSAGE_SELF) - py_cpu
    return time.perf_counter() - started, _cpu_seconds() - cpu, py_cpu, words, failed


def bench(
    images: Path, workers: int, repeat: int, config: OcrConfig | None = None
) -> dict[str, object]:
    """Run both sides ``repeat`` times (alternating) and return the JSON report."""
    config = config or OcrConfig()
    limits = IntakeLimits()
    paths = scan_paths(images)
    if not paths:
        raise SystemExit(f"no scans (png/jpg/tif/pdf) in {images}")
    os.environ["OMP_THREAD_LIMIT"] = "1"
    raw_times: list[float] = []
    pipe_times: list[float] = []
    raw_cpu: list[float] = []
    pipe_cpu: list[float] = []
    pipe_py_cpu: list[float] = []
    load: list[list[float]] = []
    with tempfile.TemporaryDirectory(prefix="bench_ocr_") as tmp:
        prep_dir, out_dir = Path(tmp) / "prepared", Path(tmp) / "out"
        prep_dir.mkdir()
        out_dir.mkdir()
        _log(f"preprocessing {len(paths)} files for the raw side (not timed)")
        raw_pages = prepare_raw(paths, prep_dir, config, limits)
        words = failed = 0
        for i in range(repeat):
            load.append(_load_avg())
            wall, cpu = run_raw(raw_pages, out_dir, workers, config.timeout_s)
            raw_times.append(wall)
            raw_cpu.append(cpu)
            _log(f"run {i + 1}: raw {len(raw_pages) / raw_times[-1]:.3f} pages/s  load {load[-1]}")
            load.append(_load_avg())
            seconds, cpu, py, words, failed = run_pipeline(paths, config, limits, workers)
            pipe_times.append(seconds)
            pipe_cpu.append(cpu)
            pipe_py_cpu.append(py)
            _log(f"run {i + 1}: pipeline {len(raw_pages) / seconds:.3f} pages/s  load {load[-1]}")
    n = len(raw_pages)
    raw_pps = n / min(raw_times)
    pipe_pps = n / min(pipe_times)
    return {
        "images": str(images),
        "files": len(paths),
        "pages": n,
        "workers": workers,
        "repeat": repeat,
        "omp_thread_limit": 1,
        "preprocessing": {
            **asdict(config),
            "applied": "decode, EXIF transpose, 8-bit gray, page_quality, prepare_page "
            f"(deskew={config.deskew}, osd={config.osd}, "
            f"upscale_below_dpi={config.upscale_below_dpi}); raw side reads it as PNG",
        },
        "tesseract_flags_example": list(raw_pages[0].flags) if raw_pages else [],
        "raw_seconds": [round(t, 3) for t in raw_times],
        "pipeline_seconds": [round(t, 3) for t in pipe_times],
        "raw_pages_per_s": round(raw_pps, 4),
        "pipeline_pages_per_s": round(pipe_pps, 4),
        "ratio": round(pipe_pps / raw_pps, 4),
        "target_ratio": 0.9,
        # CPU time per page is far less sensitive to other users' load than wall time:
        # raw / pipeline CPU per page is the throughput ratio an idle machine would show.
        "raw_cpu_s_per_page": round(min(raw_cpu) / n, 4),
        "pipeline_cpu_s_per_page": round(min(pipe_cpu) / n, 4),
        "cpu_ratio": round(min(raw_cpu) / min(pipe_cpu), 4),
        # The pipeline's own Python work (intake, decode, page quality, preprocessing, frames):
        # what it spends on top of Tesseract.
        "pipeline_python_cpu_s_per_page": round(min(pipe_py_cpu) / n, 4),
        "pipeline_words": words,
        "pipeline_failed_documents": failed,
        "loadavg": load,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints the JSON report on stdout."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, required=True, help="folder of scans (or labelled)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeat", type=int, default=1, help="alternating runs; best one kept")
    args = ap.parse_args(argv)
    if not args.images.is_dir():
        print(f"not a directory: {args.images}", file=sys.stderr)
        return 2
    print(json.dumps(bench(args.images, args.workers, max(1, args.repeat))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
