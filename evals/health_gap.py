"""Estimated vs realized accuracy on a streamed half of a labelled folder (SROIE by default).

    python -m evals.health_gap --dataset ../shared/sroie-dev --out OUT_DIR \
        [--split id|hash] [--ocr-cache FILE] [--dev-fraction 0.4] [--epochs 40] [--seed 0]

Trains a model on one half (``--split id``: ids below the median id, as the SROIE figures in
``evals/README.md``; ``hash``: a stable salted hash of the id), saves its health
reference as ``candidate_model`` does, streams the other half through extraction and the
production-health assessment, and compares per field the estimated accuracy (mean calibrated
confidence of the extracted values; no labels) with the realized accuracy (the same values
checked against the keys), on every streamed document and on the auto-routed ones.
Writes ``OUT/health_gap.json``, the health report ``OUT/health.{html,md,json}``, its drift
page ``OUT/drift.html`` and deepchecks' page ``OUT/deepchecks.html``. Exit codes: 0 ok, 2
dataset missing or unreadable.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from docasset.core.datasets.labelled import LabelledDoc, read_labelled_folder
from docasset.core.datasets.offline import split_docs, training_docs
from docasset.core.extraction.extract import predict_documents
from docasset.core.extraction.fields import load_doctype
from docasset.core.extraction.prediction_table import predictions_frame
from docasset.core.monitoring.assessment import AccuracyGap, ReportFiles
from docasset.core.monitoring.drift import run_drift
from docasset.core.monitoring.health import (
    accuracy_gap,
    assess,
    estimated_accuracy,
    feature_columns,
    window_features,
)
from docasset.core.monitoring.monitor import grade, write_report
from docasset.core.monitoring.thresholds import HealthThresholds
from docasset.core.training.health_reference import build_reference, document_features
from docasset.core.training.train import TrainConfig, train_model
from docasset.errors import DocassetError
from evals.run import load_texts

EXIT_OK, EXIT_USAGE = 0, 2
TARGET_POINTS = 5.0


def halves(docs: list[LabelledDoc], how: str) -> tuple[list[LabelledDoc], list[LabelledDoc]]:
    """(train half, streamed half): by sorted id (``id``) or by the stable id hash (``hash``)."""
    if how == "id":
        ids = sorted(d.id for d in docs)
        cut = ids[len(ids) // 2]
        return [d for d in docs if d.id < cut], [d for d in docs if d.id >= cut]
    # Salted: the unsalted id hash also splits train/dev (split_docs), and reusing it would
    # make the training half mostly dev documents.
    h = {
        d.id: int(hashlib.sha256(f"half:{d.id}".encode()).hexdigest()[:8], 16) / 2**32 for d in docs
    }
    return [d for d in docs if h[d.id] < 0.5], [d for d in docs if h[d.id] >= 0.5]


def gap_table(gap: AccuracyGap) -> dict[str, Any]:
    """Per field and over all extracted values: estimated, realized, gap in points, n."""
    rows: dict[str, Any] = {}
    for f, g in [*gap.fields.items(), ("all_fields", gap.overall())]:
        if not g.n or g.estimated is None or g.realized is None or g.gap is None:
            if f != "all_fields":
                rows[f] = {"n": 0}
            continue
        rows[f] = {
            "n": g.n,
            "estimated": round(g.estimated, 4),
            "realized": round(g.realized, 4),
            "gap_points": round(100 * g.gap, 2),
        }
    return {"sample": gap.sample, "n_docs": gap.n_docs, "fields": rows}


def run(args: argparse.Namespace) -> dict[str, Any]:
    doctype = load_doctype(args.doc_type)
    docs = read_labelled_folder(Path(args.dataset))
    train_half, stream_half = halves(docs, args.split)
    cache = Path(args.ocr_cache) if args.ocr_cache else None
    ocr = load_texts(docs, cache, args.workers)
    texts, failures = ocr.texts, ocr.failures
    tdocs, _ = training_docs(train_half, texts, doctype)
    train, dev = split_docs(tdocs, args.dev_fraction)
    bundle, report = train_model(
        train, dev, doctype, TrainConfig(epochs=args.epochs, patience=args.patience, seed=args.seed)
    )
    bundle.version = "health-gap"
    ref = build_reference(bundle, {"train": train, "dev": dev})
    stream = {d.id: texts[d.id] for d in stream_half if d.id in texts}
    preds = predict_documents(bundle, doctype, stream)
    frame = predictions_frame(doctype, preds, "stream", datetime.now(UTC))
    truths = {d.id: d.fields for d in stream_half if d.id in stream}
    gap_all = accuracy_gap(doctype, frame, truths, prefer_auto=False)
    gap_auto = accuracy_gap(doctype, frame, truths, prefer_auto=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # The whole label-free assessment on the stream, text features only (no scans here).
    t = HealthThresholds()
    features = window_features(doctype, frame, document_features(stream))
    ref_rows = ref.held_out() if ref.held_out().height >= t.min_drift_docs else ref.features
    drift = run_drift(
        ref_rows, features, feature_columns(doctype), out / "deepchecks.html", t.min_drift_docs
    )
    a = assess(
        day=datetime.now(UTC).date(),
        doctype=doctype,
        window=frame,
        features=features,
        problems={},
        ref=ref,
        ref_features=ref.features,
        truths=truths,
        drift=drift,
        trend=(),
        thresholds=t,
    )
    files = ReportFiles(str(out), "health.html", "health.md", "health.json", "drift.html")
    if drift.skipped is None:
        files = replace(files, deepchecks="deepchecks.html")
    day = grade(replace(a, files=files), t)
    write_report(day, t, out, ref_rows, features)
    result = {
        "dataset": str(args.dataset),
        "split": args.split,
        "n_train_half": len(train_half),
        "n_streamed": len(stream),
        "n_train": report.n_train,
        "n_dev": report.n_dev,
        "ocr_failures": len(failures),
        "estimated_accuracy_window": {k: round(v, 4) for k, v in estimated_accuracy(frame).items()},
        "reference_held_out": {
            "confidence": {k: round(v, 4) for k, v in ref.confidence.items()},
            "accuracy": {k: round(v, 4) for k, v in ref.accuracy.items()},
        },
        "all_streamed": gap_table(gap_all),
        "auto_routed": gap_table(gap_auto) if gap_auto.sample.startswith("auto") else None,
        "automation_rate": round(a.signals.automation_rate, 4) if a.signals else None,
        "verdict": day.verdict,
        "checks": {
            k: {"assessed": c.assessed, "passed": c.passed, "severity": c.severity}
            for k, c in day.checks.items()
        },
        "hints": [h.cause for h in a.hints],
        "target_points": TARGET_POINTS,
    }
    overall = result["all_streamed"]["fields"].get("all_fields", {})
    result["within_target"] = abs(overall.get("gap_points", 1e9)) <= TARGET_POINTS
    (out / "health_gap.json").write_text(json.dumps(result, indent=2), "utf-8")
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m evals.health_gap", description=__doc__.split("\n")[0]
    )
    p.add_argument("--dataset", default="../shared/sroie-dev", help="labelled folder")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--split", choices=("id", "hash"), default="id", help="how to halve")
    p.add_argument("--ocr-cache", help="JSON file reusing/storing the OCR texts (evals.run)")
    p.add_argument("--doc-type", default="receipt")
    p.add_argument("--dev-fraction", type=float, default=0.4, help="of the training half")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--patience", type=int, default=15)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=None, help="parallel OCR workers")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not (Path(args.dataset) / "img").is_dir():
        print(
            f"error: dataset {args.dataset} not found (expected a labelled folder img/ + key/; "
            "SROIE lives in ../shared/sroie-dev beside the repository)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        result = run(args)
    except DocassetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps({k: result[k] for k in ("all_streamed", "auto_routed", "within_target")}))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
