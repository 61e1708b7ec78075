"""Measure OCR on labelled receipts: Tesseract's preprocessing variants (to choose
``OcrConfig`` defaults), or one OCR engine with its cost (``--engine``).

    python -m evals.ocr_quality --dataset ../shared/sroie-dev [--limit N] [--out FILE]
    python -m evals.ocr_quality --dataset ../shared/sroie-dev --engine rapidocr \\
        [--workers 2] [--ocr-cache FILE]

With ``--engine`` the receipts go through the production OCR path once and it prints one
JSON object: ``cer_ci_mean`` (below), ``key_found`` (and by field), ``pages_by_engine``, and
``cost``: ``cpu_s_per_page`` (CPU seconds of the process and its Tesseract subprocesses per
page, i.e. one core's work), ``wall_s`` of the OCR stage with ``--workers`` documents in
parallel, ``peak_rss_mb`` (the process and its subprocesses, sampled) and the model load.

For each variant it reports, over the receipts:

* ``cer``: character error rate of the whole OCR text against the ground-truth lines in
  ``box/NNN.csv`` (``x1,y1,...,y4,transcript``; the transcript is everything after the 8th
  comma). Both texts are normalised the same way: whitespace runs collapsed to one space,
  lines stripped, empty lines dropped, lines joined by "\\n", case kept. CER = Levenshtein
  distance / len(reference), exact (row-vectorised DP in numpy), as the mean over receipts
  and pooled (total distance / total reference length). Reading order counts: a line read
  in a different order costs edits.
* ``cer_ci``: the same with both texts upper-cased. The SROIE transcripts are entirely upper
  case while most receipts print mixed case, so case-kept CER mostly counts correctly read
  lower-case letters; ``cer_ci`` is what the defaults are chosen by.
* ``key_hit``: share of key values (``key/NNN.json``: company, date, address, total) found
  verbatim in the OCR text, ignoring case and all whitespace.
* ``s_per_page``: mean seconds of ``ocr_page`` per page (quality measures, preprocessing,
  OSD, Tesseract), with ``--workers`` pages running at once.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from docasset.core.intake.scans import inspect_file, iter_pages
from docasset.core.ocr.names import ENGINE_NAMES
from docasset.core.ocr.tesseract import OcrConfig, ocr_page
from docasset.core.ocr.text import document_text
from docasset.errors import DocassetError

KEY_FIELDS = ("company", "date", "address", "total")
BASE_PSM = 3  # Tesseract's default layout analysis, for the preprocessing comparison
PREPROCESSING = {
    "none": {"upscale_below_dpi": 0.0, "deskew": False, "osd": False},
    "upscale": {"upscale_below_dpi": 250.0, "deskew": False, "osd": False},
    "deskew": {"upscale_below_dpi": 0.0, "deskew": True, "osd": False},
    "osd": {"upscale_below_dpi": 0.0, "deskew": False, "osd": True},
    "upscale+deskew": {"upscale_below_dpi": 250.0, "deskew": True, "osd": False},
}
PSMS = (3, 4, 6)


@dataclass(frozen=True)
class Receipt:
    """One labelled receipt: image path, normalised reference text and key values."""

    rid: str
    image: Path
    reference: str
    keys: dict[str, str]


@dataclass(frozen=True)
class Result:
    """One variant's scores over the receipts."""

    variant: str
    psm: int
    receipts: int
    failed: int
    cer_mean: float
    cer_pooled: float
    cer_ci_mean: float
    cer_ci_pooled: float
    key_hit: float
    key_hit_by_field: dict[str, float]
    s_per_page: float
    wall_s: float


def normalise(lines: list[str]) -> str:
    """Collapse whitespace inside lines, drop empty lines, join with "\\n"."""
    kept = (" ".join(line.split()) for line in lines)
    return "\n".join(line for line in kept if line)


def levenshtein(a: str, b: str) -> int:
    """Exact edit distance; one numpy pass per character of the longer string.

    Insertions within a row are a running minimum: d[j] = min_k (d'[k] + j - k), which is
    ``minimum.accumulate(d' - j) + j``.
    """
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    codes = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    cols = np.arange(len(b) + 1, dtype=np.int64)
    prev = cols.copy()
    for i, ch in enumerate(a, 1):
        cur = np.empty_like(prev)
        cur[0] = i
        np.minimum(prev[:-1] + (codes != ord(ch)), prev[1:] + 1, out=cur[1:])
        prev = np.minimum.accumulate(cur - cols) + cols
    return int(prev[-1])


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).casefold()


def load_receipts(root: Path, limit: int | None) -> list[Receipt]:
    """Receipts that have an image and a box file, in id order."""
    receipts = []
    for image in sorted((root / "img").glob("*.jpg")):
        box = root / "box" / f"{image.stem}.csv"
        if not box.is_file():
            continue
        rows = box.read_text(encoding="utf-8").splitlines()
        reference = normalise([row.split(",", 8)[8] if row.count(",") >= 8 else "" for row in rows])
        key_path = root / "key" / f"{image.stem}.json"
        keys = json.loads(key_path.read_text(encoding="utf-8")) if key_path.is_file() else {}
        receipts.append(Receipt(image.stem, image, reference, keys))
        if limit is not None and len(receipts) >= limit:
            break
    return receipts


def _ocr_receipt(receipt: Receipt, config: OcrConfig) -> tuple[str, list[float]]:
    scan = inspect_file(receipt.image)
    words, seconds = [], []
    for info, img in iter_pages(scan):
        start = time.perf_counter()
        words.append(ocr_page(img, doc_id=scan.doc_id, page=info.page, dpi=info.dpi, config=config))
        seconds.append(time.perf_counter() - start)
    text = document_text(pl.concat(words), scan.doc_id)
    return normalise(text.splitlines()), seconds


def run_variant(
    name: str, config: OcrConfig, receipts: list[Receipt], workers: int
) -> tuple[Result, dict[str, str]]:
    """OCR every receipt with ``config``; return the scores and the OCR text per receipt."""
    start = time.perf_counter()
    texts: dict[str, str] = {}
    seconds: list[float] = []
    failed = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {r.rid: pool.submit(_ocr_receipt, r, config) for r in receipts}
        for rid, future in futures.items():
            try:
                texts[rid], page_seconds = future.result()
                seconds.extend(page_seconds)
            except DocassetError as exc:
                failed += 1
                print(f"  {rid}: {exc}", file=sys.stderr)
    wall = time.perf_counter() - start
    s_per_page = round(float(np.mean(seconds)), 3) if seconds else 0.0
    return score_texts(name, config.psm, receipts, texts, failed, s_per_page, wall), texts


def score_texts(
    name: str,
    psm: int,
    receipts: list[Receipt],
    texts: dict[str, str],
    failed: int,
    s_per_page: float,
    wall: float,
) -> Result:
    """CER (case kept and case-insensitive) and key values found, over the receipts."""
    dists, dists_ci, refs, hits = [], [], [], {f: [] for f in KEY_FIELDS}
    for r in receipts:
        text = texts.get(r.rid, "")
        dists.append(levenshtein(text, r.reference))
        dists_ci.append(levenshtein(text.upper(), r.reference.upper()))
        refs.append(max(len(r.reference), 1))
        squashed = _squash(text)
        for field in KEY_FIELDS:
            if r.keys.get(field):
                hits[field].append(_squash(r.keys[field]) in squashed)
    all_hits = [h for field_hits in hits.values() for h in field_hits]
    return Result(
        variant=name,
        psm=psm,
        receipts=len(receipts),
        failed=failed,
        cer_mean=round(float(np.mean(np.array(dists) / np.array(refs))), 4),
        cer_pooled=round(sum(dists) / sum(refs), 4),
        cer_ci_mean=round(float(np.mean(np.array(dists_ci) / np.array(refs))), 4),
        cer_ci_pooled=round(sum(dists_ci) / sum(refs), 4),
        key_hit=round(float(np.mean(all_hits)), 4) if all_hits else 0.0,
        key_hit_by_field={f: round(float(np.mean(h)), 4) for f, h in hits.items() if h},
        s_per_page=s_per_page,
        wall_s=round(wall, 1),
    )


def _rank(result: Result) -> tuple[float, float]:
    # Lower case-insensitive CER first; key-value hits break ties.
    return (result.cer_ci_mean, -result.key_hit)


def markdown(results: list[Result]) -> str:
    """The results as a Markdown table."""
    head = "| variant | psm | CER | CER pooled | CER-ci | CER-ci pooled | key hit | "
    head += " | ".join(KEY_FIELDS) + " | s/page | failed |"
    lines = [head, "|" + "---|" * (10 + len(KEY_FIELDS))]
    for r in results:
        fields = " | ".join(f"{r.key_hit_by_field.get(f, 0):.3f}" for f in KEY_FIELDS)
        lines.append(
            f"| {r.variant} | {r.psm} | {r.cer_mean:.4f} | {r.cer_pooled:.4f}"
            f" | {r.cer_ci_mean:.4f} | {r.cer_ci_pooled:.4f} | {r.key_hit:.3f}"
            f" | {fields} | {r.s_per_page:.2f} | {r.failed} |"
        )
    return "\n".join(lines)


def engine_run(
    engine_name: str, receipts: list[Receipt], workers: int, cache: Path | None
) -> dict[str, Any]:
    """One run of an OCR engine (``tesseract``, ``rapidocr``, ``hybrid``) over the receipts,
    through the production path (``docasset.core.datasets.offline.ocr_files``, ``workers``
    documents in parallel): quality, pages per engine and cost; with ``cache`` the texts and
    word tables are stored for ``evals.run --ocr-cache`` (which then need not OCR again)."""
    from docasset.core.datasets.offline import ocr_files, process_cpu_seconds
    from docasset.core.extraction.fields import load_doctype
    from docasset.core.extraction.ocr_escalation import default_engine
    from evals.run import PeakRss, ocr_cost, write_cache

    engine = default_engine(load_doctype("receipt"), engine_name)
    cpu, wall = process_cpu_seconds(), time.perf_counter()
    engine.warm_up()  # model loading is once per process, not a page's cost
    init = {
        "cpu_s": round(process_cpu_seconds() - cpu, 2),
        "wall_s": round(time.perf_counter() - wall, 2),
    }
    with PeakRss() as rss:
        run = ocr_files(
            [(r.rid, r.image) for r in receipts],
            engine,
            workers=workers,
            keep_words=cache is not None,
        )
    cost = {**ocr_cost(run, workers, rss.peak_mb), "engine_load": init}
    if cache is not None:
        write_cache(cache, run, cost)
    texts = {k: normalise(t.splitlines()) for k, t in run.texts.items()}
    result = score_texts(
        engine_name, OcrConfig().psm, receipts, texts, len(run.failures), 0.0, run.seconds
    )
    return {
        "engine": run.engine,
        "pages_by_engine": run.page_engines,
        "cost": cost,
        "cer_ci_mean": result.cer_ci_mean,
        "cer_ci_pooled": result.cer_ci_pooled,
        "cer_mean": result.cer_mean,
        "key_found": result.key_hit,
        "key_found_by_field": result.key_hit_by_field,
        "receipts": result.receipts,
        "failed": result.failed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, default=Path("../shared/sroie-dev"))
    parser.add_argument("--limit", type=int, default=None, help="first N receipts only")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON summary here")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--grid",
        action="store_true",
        help="every preprocessing variant at every psm (3x the time; psm and upscaling interact)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINE_NAMES,
        help="measure this OCR engine with its default settings instead of Tesseract's "
        "preprocessing variants",
    )
    parser.add_argument(
        "--ocr-cache", type=Path, help="with --engine: store texts and words for evals.run"
    )
    args = parser.parse_args(argv)
    root = args.dataset.resolve()
    if not (root / "img").is_dir() or not (root / "box").is_dir():
        print(
            f"ocr_quality: dataset not found: looked for img/ and box/ in {root}\n"
            "(pass --dataset; the SROIE dev set lives in ../shared/sroie-dev)",
            file=sys.stderr,
        )
        return 2
    receipts = load_receipts(root, args.limit)
    print(f"{len(receipts)} receipts from {root}, {args.workers} workers", file=sys.stderr)
    if args.engine:
        measured = {"dataset": str(root), "workers": args.workers}
        measured |= engine_run(args.engine, receipts, args.workers, args.ocr_cache)
        print(json.dumps(measured, indent=2))
        if args.out:
            args.out.write_text(json.dumps(measured, indent=2) + "\n", encoding="utf-8")
        return 0
    results = []
    psms = PSMS if args.grid else (BASE_PSM,)
    for psm in psms:
        for name, options in PREPROCESSING.items():
            result, _ = run_variant(name, OcrConfig(psm=psm, **options), receipts, args.workers)
            print(f"  {name} psm {psm}: {result}", file=sys.stderr)
            results.append(result)
    if not args.grid:  # greedy: the other layout modes for the best preprocessing only
        best = min(results, key=_rank)
        for psm in PSMS:
            if psm == best.psm:
                continue
            config = OcrConfig(psm=psm, **PREPROCESSING[best.variant])
            result, _ = run_variant(best.variant, config, receipts, args.workers)
            print(f"  {best.variant} psm {psm}: {result}", file=sys.stderr)
            results.append(result)
    chosen = min(results, key=_rank)
    summary = {
        "dataset": str(root),
        "receipts": len(receipts),
        "workers": args.workers,
        "cer_method": "exact Levenshtein (numpy row DP); chosen by cer_ci_mean",
        "chosen": {"variant": chosen.variant, "psm": chosen.psm},
        "defaults_in_code": asdict(OcrConfig()),
        "results": [asdict(r) for r in results],
    }
    print(markdown(results))
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
