"""Do the routing thresholds hold on documents they were not chosen on?

    python -m evals.calibration_splits --dataset DIR --ocr-cache FILE [--splits 10] [--folds 5] \
        [--min-ocr-conf 0.8]

Parses every document of ``--dataset`` with a spaCy model that never trained on it
(cross-fitting, ``calibration_folds`` = 3), then, ``--splits`` times, splits the documents at
random into 60 % calibration and 40 % scored: the confidence model and the thresholds are
fitted on the first part (``--folds`` out-of-fold folds; 0 chooses the thresholds in sample)
and the second is routed by them, model alone (no vendor history). Prints JSON: fields
accepted and their accuracy over all splits, per field, and every accepted error
(split, document, field, value, truth, confidence).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import spacy
from spacy.tokens import Doc

from docasset.core.datasets.labelled import read_labelled_folder
from docasset.core.datasets.offline import training_docs
from docasset.core.extraction.evidence import doc_words
from docasset.core.extraction.extract import LAYOUT_META, Calibration, ModelBundle, predict_text
from docasset.core.extraction.fields import DocType, load_doctype, values_match
from docasset.core.extraction.routing import RoutingConfig
from docasset.core.training.train import TrainConfig, calibrate, cross_fitted
from docasset.errors import LabelledDataError
from evals.run import load_texts


def split_scores(
    doctype: DocType,
    docs: list[Doc],
    parsed: dict[str, Doc],
    splits: int,
    folds: int,
    routing: RoutingConfig | None = None,
) -> dict[str, Any]:
    """The figures of the module docstring for cross-fitted ``parsed`` documents."""
    routing = routing or RoutingConfig()
    counts = {s.name: [0, 0] for s in doctype.fields}  # field -> [right, accepted]
    errors: list[dict[str, Any]] = []
    ids = sorted(parsed)
    nlp = spacy.blank("en")  # only its vocabulary is used: the entities come from ``parsed``
    n_fields = 0
    for k in range(splits):
        order = ids[:]
        random.Random(k).shuffle(order)
        cal_ids = set(order[: int(0.6 * len(order))])
        cal = [d for d in docs if d.user_data["doc_id"] in cal_ids]
        bundle = ModelBundle(nlp, doctype, Calibration(), {}, meta={LAYOUT_META: True})
        calibrate(bundle, cal, routing, parsed, folds=folds)
        for d in docs:
            doc_id = d.user_data["doc_id"]
            if doc_id in cal_ids:
                continue
            pred = predict_text(bundle, doc_id, d.text, parsed[doc_id], doc_words(d), None, routing)
            for spec in doctype.fields:
                f = pred.fields[spec.name]
                n_fields += 1
                if f.status != "accepted" or f.value is None:
                    continue
                truth = d.user_data["fields"].get(spec.name) or None
                ok = values_match(spec, f.value, truth)
                counts[spec.name][0] += ok
                counts[spec.name][1] += 1
                if not ok:
                    errors.append(
                        {"split": k, "doc": doc_id, "field": spec.name, "value": f.value,
                         "truth": truth, "confidence": f.confidence}
                    )  # fmt: skip
    right = sum(r for r, _ in counts.values())
    accepted = sum(n for _, n in counts.values())
    return {
        "splits": splits,
        "folds": folds,
        "documents": len(ids),
        "field_automation": round(accepted / n_fields, 4) if n_fields else None,
        "accepted_field_accuracy": round(right / accepted, 4) if accepted else None,
        "accepted_errors": accepted - right,
        "per_field": {
            f: {"accepted": n, "accuracy": round(r / n, 4) if n else None}
            for f, (r, n) in counts.items()
        },
        "errors": errors,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.calibration_splits", description=__doc__)
    p.add_argument("--dataset", required=True, help="labelled folder (e.g. the SROIE half a)")
    p.add_argument("--ocr-cache", required=True, help="OCR cache of evals.run (JSON)")
    p.add_argument("--doc-type", default="receipt")
    p.add_argument("--splits", type=int, default=10)
    p.add_argument("--folds", type=int, default=5, help="out-of-fold folds (0: in sample)")
    p.add_argument(
        "--min-ocr-conf", type=float, help="routing.min_ocr_conf (default: the setting's)"
    )
    a = p.parse_args(argv)
    doctype = load_doctype(a.doc_type)
    try:
        labelled = read_labelled_folder(Path(a.dataset))
    except LabelledDataError as exc:
        print(exc, file=sys.stderr)
        return 2
    ocr = load_texts(labelled, Path(a.ocr_cache), None)
    docs, _ = training_docs(labelled, ocr.texts, doctype, ocr.word_conf)
    parsed = cross_fitted(docs, docs[:20], doctype, TrainConfig(calibration_folds=3))
    if not parsed:
        print(f"{a.dataset}: too few documents to cross-fit", file=sys.stderr)
        return 2
    docs = [d for d in docs if d.user_data["doc_id"] in parsed]
    routing = RoutingConfig()
    if a.min_ocr_conf is not None:
        routing = replace(routing, min_ocr_conf=a.min_ocr_conf)
    out = split_scores(doctype, docs, parsed, a.splits, a.folds, routing)
    print(json.dumps({**out, "min_ocr_conf": routing.min_ocr_conf}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
