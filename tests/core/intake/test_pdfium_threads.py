"""PDFium is not thread-safe: PDFs read from several threads at once must not crash.

The OCR driver reads documents in worker threads, and raw_scans, the text-layer reader and
page rendering all call PDFium. Without one process-wide lock two threads calling it at once
crashed the process (a segfault, seen on the vrdu PDFs). The readers run in a child process
so that a crash fails this test instead of killing the test worker.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = """
import sys, threading
from pathlib import Path
from docasset.core.intake.scans import IntakeLimits, born_digital_pages, inspect_file, iter_pages
from docasset.core.ocr.pdf_text import TextLayerConfig, decide_document

paths = [Path(p) for p in sys.argv[1:]]
limits = IntakeLimits(pdf_dpi=72)
pages = [0] * 6

def work(k):
    for p in paths[k % 3 :: 3]:
        scan = inspect_file(p, limits)
        born_digital_pages(scan)
        decide_document(scan, limits, "auto", TextLayerConfig(), None)
        pages[k] += sum(1 for _ in iter_pages(scan, limits))

threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(sum(pages))
"""


def test_pdfs_read_from_six_threads_at_once_do_not_crash_the_process(vrdu_dir: Path) -> None:
    pdfs = sorted((vrdu_dir / "img").glob("*.pdf"))[:6]
    assert len(pdfs) == 6
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, *map(str, pdfs)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert out.returncode == 0, f"exit {out.returncode} (-11: segfault): {out.stderr[-2000:]}"
    # Each PDF is read by two threads. Without the lock this crashed 3 runs in 3 (-5, -6, -11).
    expected = sum(len(inspect_pages(p)) for p in pdfs) * 2
    assert int(out.stdout.strip()) == expected


def inspect_pages(path: Path) -> tuple[object, ...]:
    from docasset.core.intake.scans import IntakeLimits, inspect_file

    return inspect_file(path, IntakeLimits(pdf_dpi=72)).pages
