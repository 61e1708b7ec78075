"""Where an OCR worker's resident memory goes: checkpoints around imports, engine load, pages.

```bash
OMP_THREAD_LIMIT=1 nice -n 10 .venv/bin/python -m evals.rss_profile --images DIR \
    [--engine hybrid] [--passes 3] [--mem-pattern] [--no-arena]
```

One process plays a long-lived worker (``ocr_documents`` over the scans, one worker thread,
``passes`` times, as ``evals.bench_ocr``'s pipeline side does). At each checkpoint it prints
``/proc/self/status`` (VmRSS now, VmHWM the peak so far, RssAnon, RssFile) and glibc's
``mallinfo2`` summed over its arenas (``heap``: obtained from the OS with brk/arenas,
``mmap``: large blocks mapped alone, ``used``/``free``: in use / freed but still held), then
the CPU seconds, minor page faults per page and the peak RSS. Linux and glibc only.
"""

from __future__ import annotations

import argparse
import ctypes
import resource
import sys
from pathlib import Path


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _status_mb() -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) // 1024
    return out


def _malloc_mb() -> dict[str, int]:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _Mallinfo2
    m = libc.mallinfo2()
    return {
        "heap": m.arena >> 20,
        "mmap": m.hblkhd >> 20,
        "used": m.uordblks >> 20,
        "free": m.fordblks >> 20,
    }


def _checkpoint(label: str) -> None:
    print(f"{label:28s} {_status_mb()} malloc MB {_malloc_mb()}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints one line per checkpoint on stdout."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, required=True, help="folder of scans (or img/)")
    ap.add_argument("--engine", default="hybrid", help="tesseract, rapidocr or hybrid")
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument(
        "--mem-pattern", action="store_true", help="ONNX Runtime's memory pattern on (default off)"
    )
    ap.add_argument("--no-arena", action="store_true", help="its CPU arena off (default on)")
    args = ap.parse_args(argv)
    _checkpoint("start")
    from docasset.core.extraction.fields import load_doctype
    from docasset.core.extraction.ocr_escalation import make_engine
    from docasset.core.intake.scans import IntakeLimits, inspect_file, iter_pages, page_quality
    from docasset.core.ocr.engine import ocr_documents
    from docasset.core.ocr.hybrid import EscalationConfig
    from docasset.core.ocr.rapid import RapidConfig
    from docasset.core.ocr.tesseract import OcrConfig
    from evals.bench_ocr import scan_paths

    _checkpoint("imports")
    rapid = RapidConfig(mem_pattern=args.mem_pattern, cpu_mem_arena=not args.no_arena)
    engine = make_engine(
        args.engine, OcrConfig(), rapid, EscalationConfig(), load_doctype("receipt")
    )
    engine.warm_up()
    _checkpoint("engine loaded")
    limits = IntakeLimits()
    scans, measured = [], {}
    for path in scan_paths(args.images):
        scan = inspect_file(path, limits)
        scans.append((scan.doc_id, scan))
        measured[scan.doc_id] = [page_quality(img, i.dpi) for i, img in iter_pages(scan, limits)]
    if not scans:
        print(f"no scans in {args.images}", file=sys.stderr)
        return 2
    before = resource.getrusage(resource.RUSAGE_SELF)
    for n in range(args.passes):
        for k, (_, out) in enumerate(
            ocr_documents(scans, engine, limits=limits, workers=1, qualities=measured)
        ):
            if isinstance(out, Exception):
                print(f"document {k}: {out}", file=sys.stderr)
            if k in (0, len(scans) // 2, len(scans) - 1):
                _checkpoint(f"pass {n + 1} document {k + 1}")
    after = resource.getrusage(resource.RUSAGE_SELF)
    pages = args.passes * len(scans)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(
        f"CPU-s/page {cpu / pages:.3f} (this process), minor faults/page "
        f"{(after.ru_minflt - before.ru_minflt) // pages}, peak RSS {after.ru_maxrss // 1024} MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
