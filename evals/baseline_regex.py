"""The naive Tesseract + regex baseline, scored like ``evals.run`` (for comparison only).

    python -m evals.baseline_regex --dataset DIR [--ocr-cache FILE] [--out FILE]

Company = the first OCR line, address = the next two lines, date = the first date the date
regex finds, total = the amount on the strongest TOTAL-keyword line, else the largest amount.
No model, no layout features beyond line order, no calibration (every document is "review").
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from docasset.core.datasets.labelled import read_labelled_folder
from docasset.core.evaluation.metrics import score
from docasset.core.extraction.fields import load_doctype, parse_amount
from docasset.core.extraction.routing import Blocker, DocPrediction, FieldPrediction
from docasset.core.extraction.rules import find_amounts, find_dates, find_totals
from evals.run import EXIT_OK, EXIT_USAGE, ceiling, load_texts


def _field(value: str | None) -> FieldPrediction:
    return FieldPrediction(value, 0, 0, "rule" if value else "none", "baseline", 0.0)


def baseline_fields(text: str) -> dict[str, str | None]:
    """The naive guesses for the four receipt fields."""
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    dates = find_dates(text)
    totals = find_totals(text)
    amounts = find_amounts(text)
    if totals:
        total: str | None = totals[0].text
    elif amounts:
        total = max(amounts, key=lambda c: parse_amount(c.text) or 0).text
    else:
        total = None
    return {
        "company": lines[0] if lines else None,
        "address": " ".join(lines[1:3]) or None,
        "date": dates[0].text if dates else None,
        "total": total,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.baseline_regex")
    p.add_argument("--dataset", required=True)
    p.add_argument("--ocr-cache")
    p.add_argument("--out")
    args = p.parse_args(argv)
    if not Path(args.dataset).is_dir():
        print(f"error: dataset folder {args.dataset} does not exist", file=sys.stderr)
        return EXIT_USAGE
    doctype = load_doctype("receipt")
    docs = read_labelled_folder(Path(args.dataset))
    cache = Path(args.ocr_cache) if args.ocr_cache else None
    texts = load_texts(docs, cache, None).texts
    preds = [
        DocPrediction(
            d.id,
            {k: _field(v) for k, v in baseline_fields(texts[d.id]).items()},
            "review",
            [Blocker("no_model", None, "regex baseline")],
            None,
        )
        for d in docs
        if d.id in texts
    ]
    s = score(doctype, preds, {d.id: d.fields for d in docs}).as_dict()
    out = {
        "micro_f1": round(s["micro"]["f1"], 4),  # type: ignore[index]
        "f1": {k: round(v["f1"], 4) for k, v in s["fields"].items()},  # type: ignore[attr-defined]
        "ceiling": ceiling(doctype, docs, texts),
        "n_docs": s["n_docs"],
    }
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2), "utf-8")
    print(json.dumps(out))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
