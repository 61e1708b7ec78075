"""How often a document type's header identifier (its YAML ``vendor:``) names the vendor.

    python -m evals.vendor_ids --dataset ../shared/vrdu-dev --first 100 \\
        [--doc-type ad_order] [--ocr-cache FILE] [--sample 20] [--seed 0] [--show]

For the first ``--first`` documents of the folder (sorted ids: vrdu-dev's development half),
reads the text (the OCR cache of ``evals.run``; an absent file is written by reading the
folder with the type's default engine: text layer first, OCR where needed) and reports:

- ``identified``: documents whose header prints an identifier
  (``vendor_keys.header_key``), with a 95 % Wilson interval, and ``distinct`` identifiers;
- ``repeats_recognised``: documents arriving (in id order) after a corrected document with the
  same identifier taught the registry (``vendors.build_registry``; each document is corrected
  once seen): those ``predictions`` matches to a known vendor;
- ``sample``: ``--sample`` identified documents drawn with ``--seed``, each with the header
  line the identifier was read on: what a person checks by hand (there is no station label in
  the data set: precision is judged by reading the text, and said so).

``--show`` lists every document (identifier or none, and its first lines). This reads no
label: it may be run on the development half as often as needed; never on the scored half.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

from docasset.core.datasets.labelled import read_labelled_folder
from docasset.core.evaluation.intervals import wilson
from docasset.core.extraction.fields import DocType, load_doctype
from docasset.core.extraction.ocr_escalation import default_engine
from docasset.core.extraction.vendor_keys import document_keys, header_key
from docasset.core.extraction.vendors import Observation, build_registry, match_vendor
from docasset.errors import LabelledDataError
from evals.run import load_ocr


def _line_at(text: str, pos: int) -> str:
    """The line of ``text`` holding offset ``pos``."""
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start : end if end >= 0 else len(text)].strip()


def measure(
    doctype: DocType, texts: dict[str, str], sample: int, seed: int, show: bool
) -> dict[str, Any]:
    """The figures of the module docstring over ``texts`` (id -> text, in arrival order)."""
    if doctype.vendor is None:
        raise SystemExit(f"document type {doctype.name!r} has no vendor: block in its YAML")
    found: dict[str, tuple[str, str, str]] = {}  # id -> (key, as printed, its line)
    observed: list[Observation] = []
    repeats = 0
    for doc_id, text in texts.items():
        keys = document_keys(doctype, text)
        if observed and keys:
            m = match_vendor(text, build_registry(observed), keys, by_name=False)
            repeats += m is not None and m.vendor_id is not None
        k = header_key(doctype.vendor, text)
        if k is None:
            continue
        found[doc_id] = (k.value, text[k.start : k.end], _line_at(text, k.start))
        observed.append(Observation(f"c-{doc_id}", doc_id, k.value, keys=(k.ident,)))
    n, hit = len(texts), len(found)
    ci = wilson(hit, n)
    picked = random.Random(seed).sample(sorted(found), min(sample, hit))
    out: dict[str, Any] = {
        "doc_type": doctype.name,
        "documents": n,
        "identified": hit,
        "identified_share": round(hit / n, 4) if n else None,
        "identified_ci95": [round(x, 4) for x in ci] if ci else None,
        "distinct": len({v[0] for v in found.values()}),
        "repeats_recognised": repeats,
        "sample": [{"doc": d, "id": found[d][1], "line": found[d][2][:120]} for d in picked],
    }
    if show:
        out["all"] = {
            d[:8]: (found[d][1] if d in found else None, " / ".join(texts[d].split("\n")[:3])[:100])
            for d in texts
        }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.vendor_ids", description=__doc__)
    p.add_argument("--dataset", required=True, help="labelled folder (img/ + key/)")
    p.add_argument("--first", type=int, help="the first N documents by sorted id")
    p.add_argument("--doc-type", default="ad_order")
    p.add_argument("--ocr-cache", help="evals.run OCR cache (written if absent)")
    p.add_argument("--sample", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--show", action="store_true")
    a = p.parse_args(argv)
    doctype = load_doctype(a.doc_type)
    try:
        docs = read_labelled_folder(Path(a.dataset))[: a.first]
    except LabelledDataError as exc:
        print(exc, file=sys.stderr)
        return 2
    cache = Path(a.ocr_cache) if a.ocr_cache else None
    ocr = load_ocr(docs, cache, 1, default_engine(doctype, None))
    texts = {d.id: ocr.texts[d.id] for d in docs if d.id in ocr.texts}
    print(json.dumps(measure(doctype, texts, a.sample, a.seed, a.show), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
