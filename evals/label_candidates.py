"""Where the right value sits among a field's rule candidates (labels read from the layout).

    python -m evals.label_candidates --dataset /tmp/vrdu/a --doc-type ad_order \\
        --ocr-cache /tmp/vrdu-a.json [--text-only]

Per field: how many documents have their labelled value as the first rule candidate, the
second, ..., among the first four (what the ranker sees), later, or not at all; ``--text-only``
reads the labels from the text alone (no word boxes), as before the layout was used. Choose
on a training half only: this reads the labels.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from docasset.core.datasets.labelled import read_labelled_folder
from docasset.core.extraction.extract import field_candidates, other_labels
from docasset.core.extraction.fields import equivalent, load_doctype
from docasset.core.extraction.ocr_escalation import default_engine
from evals.run import load_ocr

SHOWN = 4  # rule candidates a field's options keep (extract.field_options)


def ranks(dataset: Path, doc_type: str, cache: Path, text_only: bool) -> dict[str, Counter[str]]:
    """Field -> counts of the labelled value's rank among the rule candidates."""
    doctype = load_doctype(doc_type)
    docs = read_labelled_folder(dataset)
    ocr = load_ocr(docs, cache, 1, default_engine(doctype, None))
    out: dict[str, Counter[str]] = {s.name: Counter() for s in doctype.fields}
    for d in docs:
        text = ocr.texts.get(d.id)
        if text is None:
            continue
        words = None if text_only else ocr.word_conf.get(d.id)
        for spec in doctype.fields:
            truth = d.fields.get(spec.name)
            if not truth:
                out[spec.name]["no label"] += 1
                continue
            cands = field_candidates(spec, text, True, words, other_labels(doctype, spec))
            at = next((i for i, c in enumerate(cands) if equivalent(spec, c.text, truth)), None)
            key = "absent" if at is None else (str(at + 1) if at < SHOWN else f">{SHOWN}")
            out[spec.name][key] += 1
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", required=True, help="labelled folder (img/ + key/)")
    p.add_argument("--doc-type", default="ad_order")
    p.add_argument("--ocr-cache", required=True, help="evals.run OCR cache (written if absent)")
    p.add_argument("--text-only", action="store_true", help="labels from the text alone")
    args = p.parse_args(argv)
    got = ranks(Path(args.dataset), args.doc_type, Path(args.ocr_cache), args.text_only)
    print(json.dumps({k: dict(sorted(v.items())) for k, v in got.items()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
