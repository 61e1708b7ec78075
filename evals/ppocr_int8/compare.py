"""CPU per page and key values found of RapidOCR configurations on SROIE receipts, in one run.

    python -m evals.ppocr_int8.compare --dataset ../shared/sroie-dev --ids 100-199 \
        --variant fp32:fp32:fp32:6.67 --variant default:int8:fp32:3

A variant is ``name:det_model:rec_model:rec_min_ratio`` (see ``RapidConfig``). Every variant
reads the same pages in this process, one after the other (CPU seconds of the process, so a
loaded machine stretches wall time, not the figure much); ``key_found`` counts the key values
(company, date, address, total) found verbatim in the text, ignoring case and whitespace;
``same_text`` the pages whose segment texts equal the first variant's. Ends with Tesseract run
bare (``tesseract IMG - --psm 3 tsv``) on the same pages for the ratio.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from docasset.core.ocr.rapid import RapidConfig, loaded_rapidocr


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s).lower()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--ids", default="040-099", help="first-last receipt ids (inclusive)")
    p.add_argument("--variant", action="append", required=True)
    a = p.parse_args(argv)
    if not (a.dataset / "img").is_dir():
        print(f"error: {a.dataset}/img not found (the SROIE folder)", file=sys.stderr)
        return 2
    lo, hi = (int(x) for x in a.ids.split("-"))
    ids = [f"{i:03d}" for i in range(lo, hi + 1)]
    pages = {i: np.asarray(Image.open(a.dataset / "img" / f"{i}.jpg").convert("L")) for i in ids}
    keys = {i: json.loads((a.dataset / "key" / f"{i}.json").read_text()) for i in ids}
    total = sum(len(k) for k in keys.values())
    first: dict[str, list[str]] | None = None
    out: dict[str, dict[str, object]] = {}
    for spec in a.variant:
        name, det, rec, ratio = spec.split(":")
        cfg = RapidConfig(det_model=det, rec_model=rec, rec_min_ratio=float(ratio))
        engine = loaded_rapidocr(cfg)
        engine(pages[ids[0]])  # warm
        t0 = time.process_time()
        texts = {i: list(engine(pages[i]).txts or ()) for i in ids}
        cpu = time.process_time() - t0
        first = first or texts
        found = sum(
            _squash(str(v)) in _squash(" ".join(texts[i])) for i in ids for v in keys[i].values()
        )
        out[name] = {
            "cpu_s_per_page": round(cpu / len(ids), 3),
            "key_found": f"{found}/{total}",
            "same_text": f"{sum(texts[i] == first[i] for i in ids)}/{len(ids)}",
        }
        print(name, out[name], file=sys.stderr, flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for i in ids:
        subprocess.run(
            ["tesseract", str(a.dataset / "img" / f"{i}.jpg"), "-", "--psm", "3", "tsv"],
            capture_output=True,
            env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin:/bin"},
            check=False,
        )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_t = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / len(ids)
    out["tesseract_bare"] = {"cpu_s_per_page": round(cpu_t, 3)}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
