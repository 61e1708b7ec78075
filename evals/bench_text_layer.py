"""Benchmark: CPU per page of born-digital PDF pages read from their text layer vs the same
pages rendered and OCR'd, paired in one run.

```bash
nice -n 10 .venv/bin/python -m evals.bench_text_layer --dataset ../shared/vrdu-dev \
    [--limit 10] [--engine tesseract|rapidocr|hybrid]
```

For each of the first ``--limit`` PDFs (sorted by id) the same pages are read twice, back to
back in one process, one worker: **text layer** (``text_layer: auto``, the ``TextLayerEngine``
with its decision: glyphs, ink coverage, and the sample OCR of invisible layers) and **OCR**
(``text_layer: never``: render at the intake DPI, then the engine). CPU is this process's plus
its waited-for Tesseract subprocesses'. Only pages the text-layer side read as ``pdf-text``
count: a document with a page it sent to OCR is skipped (that page costs the same both
ways). Prints one JSON object: pages, CPU seconds per page of each side, their ratio
(target <= 1/20 = 0.05) and the page reasons. Progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from docasset.core.datasets.labelled import read_labelled_folder
from docasset.core.datasets.offline import process_cpu_seconds
from docasset.core.extraction.fields import load_doctype
from docasset.core.extraction.ocr_escalation import default_engine
from docasset.core.intake.scans import IntakeLimits, inspect_file
from docasset.core.ocr.names import ENGINE_NAMES
from docasset.core.ocr.pdf_text import PDF_TEXT, page_reasons
from docasset.core.ocr.tesseract import OcrConfig
from docasset.errors import LabelledDataError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.bench_text_layer", description=__doc__)
    p.add_argument("--dataset", required=True, help="labelled folder with PDFs (img/ + key/)")
    p.add_argument("--limit", type=int, default=10, help="PDFs measured (first by id)")
    p.add_argument("--engine", choices=ENGINE_NAMES, default=OcrConfig().engine)
    p.add_argument("--doc-type", default="ad_order")
    a = p.parse_args(argv)
    doctype = load_doctype(a.doc_type)
    layer = default_engine(doctype, a.engine, "auto")
    ocr = default_engine(doctype, a.engine, "never")
    limits = IntakeLimits()
    try:
        labelled = read_labelled_folder(Path(a.dataset))
    except LabelledDataError as exc:
        print(exc, file=sys.stderr)
        return 2
    docs = [d for d in labelled if d.image.suffix.lower() == ".pdf"]
    cpu_layer = cpu_ocr = 0.0
    pages = mixed = 0
    reasons: dict[str, int] = {}
    for d in docs[: a.limit]:
        scan = inspect_file(d.image, limits)
        t0 = process_cpu_seconds()
        words = layer.read_document(scan, limits, None)
        t1 = process_cpu_seconds()
        for why, n in page_reasons(words).items():
            reasons[why] = reasons.get(why, 0) + n
        digital = set(words.filter(words["engine"] == PDF_TEXT)["page"].to_list())
        if len(digital) != len(scan.pages):  # a page went to OCR: its cost is OCR's both ways
            mixed += 1
            continue
        t2 = process_cpu_seconds()
        ocr.read_document(scan, limits, None)
        t3 = process_cpu_seconds()
        cpu_layer += t1 - t0
        cpu_ocr += t3 - t2
        pages += len(digital)
        print(
            f"{d.id}: {len(digital)} pages, layer {t1 - t0:.3f}s, ocr {t3 - t2:.2f}s",
            file=sys.stderr,
        )
    out = {
        "documents": min(a.limit, len(docs)),
        "pdf_text_pages": pages,
        "documents_skipped_with_ocr_pages": mixed,
        "engine": a.engine,
        "cpu_per_page_text_layer": round(cpu_layer / pages, 4) if pages else None,
        "cpu_per_page_ocr": round(cpu_ocr / pages, 4) if pages else None,
        "ratio": round(cpu_layer / cpu_ocr, 4) if cpu_ocr > 0 else None,
        "target_ratio": 0.05,
        "page_reasons": reasons,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
