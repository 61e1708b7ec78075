"""Evaluate a trained model on a labelled folder: OCR -> extraction -> SROIE-style scores.

    python -m evals.run --dataset DIR --model MODEL_DIR --out OUT_DIR [--ocr-cache FILE]

Writes ``OUT_DIR/predictions.jsonl`` (one object per document: the ``docasset extract`` fields
plus ``truth`` and per-field ``correct``), ``OUT_DIR/metrics.json`` and ``OUT_DIR/report.md``.
Exit codes: 0 ok, 2 dataset or model missing/unreadable. See ``evals/README.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from docasset.core.datasets.labelled import LabelledDoc, read_labelled_folder
from docasset.core.evaluation.metrics import score
from docasset.core.extraction.evidence import WordSpans
from docasset.core.extraction.extract import ModelBundle, predict_documents, predict_text
from docasset.core.extraction.fields import DocType
from docasset.core.extraction.prediction_table import to_json
from docasset.core.extraction.routing import DocPrediction
from docasset.errors import DocassetError

EXIT_OK, EXIT_USAGE = 0, 2


def squash(s: str) -> str:
    """Case- and whitespace-insensitive form (the SROIE text comparison)."""
    return "".join(s.split()).lower()


@dataclass
class OcrTexts:
    """OCR of a labelled folder: texts, word confidences, per-document seconds, failures, and
    the OCR wall seconds."""

    texts: dict[str, str]
    word_conf: dict[str, WordSpans]
    per_doc: dict[str, float]
    failures: dict[str, str]
    wall: float


def load_texts(docs: list[LabelledDoc], cache: Path | None, workers: int | None) -> OcrTexts:
    """OCR every document, or reuse an earlier run's OCR.

    With ``cache`` an earlier run's OCR is reused (and written when absent) so repeated
    evaluations of models do not repeat the OCR; its timings are the ones measured then.
    A cache written before word confidences were stored has none (the OCR-evidence features
    are then absent, as for an engine that reports no confidences).
    """
    ids = {d.id for d in docs}
    if cache is not None and cache.is_file():
        data = json.loads(cache.read_text("utf-8"))

        def pick(key: str) -> dict[str, Any]:
            return {k: v for k, v in data.get(key, {}).items() if k in ids}

        per_doc = pick("per_doc")
        spans = {
            k: [(int(s), int(e), float(c)) for s, e, c in v] for k, v in pick("word_conf").items()
        }
        return OcrTexts(pick("texts"), spans, per_doc, pick("failures"), sum(per_doc.values()))
    from docasset.core.datasets.offline import ocr_files

    run = ocr_files([(d.id, d.image) for d in docs], workers=workers)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(
            json.dumps(
                {
                    "texts": run.texts,
                    "word_conf": run.word_conf,
                    "per_doc": run.per_doc_seconds,
                    "failures": run.failures,
                }
            ),
            "utf-8",
        )
    return OcrTexts(run.texts, run.word_conf, run.per_doc_seconds, run.failures, run.seconds)


def ceiling(doctype: DocType, docs: list[LabelledDoc], texts: dict[str, str]) -> dict[str, float]:
    """Per field: share of documents whose true value appears verbatim (ignoring case and
    whitespace) in the OCR text: the exact-match recall no span extractor can exceed."""
    out: dict[str, float] = {}
    for spec in doctype.fields:
        rows = [
            squash(d.fields[spec.name]) in squash(texts.get(d.id, ""))
            for d in docs
            if d.fields.get(spec.name, "").strip()
        ]
        out[spec.name] = round(sum(rows) / len(rows), 4) if rows else 0.0
    return out


def latency(extract_s: list[float], ocr_s: list[float], ocr_wall: float) -> dict[str, float]:
    """Latency p50/p95 per document and throughput, extraction only and with OCR."""
    ex = np.array(extract_s) if extract_s else np.zeros(1)
    full = ex + (np.array(ocr_s) if ocr_s else 0.0)
    n = len(extract_s)
    return {
        "extract_p50_s": round(float(np.percentile(ex, 50)), 5),
        "extract_p95_s": round(float(np.percentile(ex, 95)), 5),
        "extract_docs_per_s": round(n / float(ex.sum()), 2) if ex.sum() > 0 else 0.0,
        "with_ocr_p50_s": round(float(np.percentile(full, 50)), 4),
        "with_ocr_p95_s": round(float(np.percentile(full, 95)), 4),
        "with_ocr_docs_per_s": round(n / (ocr_wall + float(ex.sum())), 3) if n else 0.0,
    }


def prediction_row(doctype: DocType, pred: DocPrediction, truth: dict[str, str]) -> dict:
    """One ``predictions.jsonl`` line: the ``docasset extract`` object plus truth and hits."""
    from docasset.core.extraction.fields import values_match

    row = to_json(doctype, pred)
    row["truth"] = {k: truth.get(k) for k in doctype.names}
    row["correct"] = {
        s.name: values_match(s, pred.fields[s.name].value, truth.get(s.name) or None)
        for s in doctype.fields
    }
    row["source"] = {k: f.source for k, f in pred.fields.items()}
    return row


def _fmt(v: float | None, digits: int = 3) -> str:
    return "n/a (none)" if v is None else f"{v:.{digits}f}"


def report_markdown(metrics: dict[str, Any]) -> str:
    """The human-readable report of ``metrics.json``."""
    s = metrics["scores"]
    lines = [
        f"# Evaluation: {metrics['model']} on {metrics['dataset']}",
        "",
        f"{s['n_docs']} documents scored, {metrics['ocr_failures']} OCR failures.",
        "",
        "| field | precision | recall | F1 | edit similarity | verbatim in OCR (ceiling) "
        "| accepted | accepted accuracy |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, f in s["fields"].items():
        lines.append(
            f"| {name} | {f['precision']:.3f} | {f['recall']:.3f} | {f['f1']:.3f} "
            f"| {f['similarity']:.3f} | {metrics['ceiling'][name]:.3f} "
            f"| {f['automation']:.3f} | {_fmt(f['accepted_accuracy'])} |"
        )
    m = s["micro"]
    lines += [
        f"| **micro** | {m['precision']:.3f} | {m['recall']:.3f} | **{m['f1']:.3f}** "
        f"| {m['similarity']:.3f} | | | |",
        "",
        f"- field automation: {s['field_automation']:.3f} of fields accepted, accepted-field "
        f"accuracy {_fmt(s['accepted_field_accuracy'])}",
        f"- touchless documents: {s['touchless_rate']:.3f} ({s['n_auto']} documents), "
        f"their accuracy {_fmt(s['touchless_accuracy'])}",
        f"- estimated operator seconds per document: {_fmt(s['operator_seconds_per_doc'], 1)} "
        f"({s['operator_seconds_convention']})",
        f"- documents per blocker kind: {json.dumps(s['blocker_docs'])}",
        f"- expected calibration error: {s['ece']:.4f}",
        f"- thresholds: {json.dumps(metrics['thresholds'])}",
        "",
        "## Latency",
        "",
        "| | p50 s | p95 s | docs/s |",
        "|---|---|---|---|",
    ]
    lat = metrics["latency"]
    lines += [
        f"| extraction only | {lat['extract_p50_s']} | {lat['extract_p95_s']} "
        f"| {lat['extract_docs_per_s']} |",
        f"| extraction, batched (nlp.pipe) | | | {lat.get('extract_batch_docs_per_s', '')} |",
        f"| OCR + extraction | {lat['with_ocr_p50_s']} | {lat['with_ocr_p95_s']} "
        f"| {lat['with_ocr_docs_per_s']} |",
        "",
        "## Reliability (all predicted fields)",
        "",
        "| confidence bin | n | mean confidence | accuracy |",
        "|---|---|---|---|",
    ]
    for r in s["reliability"]:
        lines.append(
            f"| {r['lo']:.1f}-{r['hi']:.1f} | {r['n']} | {r['confidence']:.3f} "
            f"| {r['accuracy']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """Run the whole evaluation and write the three output files; returns the metrics."""
    bundle = ModelBundle.load(Path(args.model))
    doctype = bundle.doctype
    docs = read_labelled_folder(Path(args.dataset))
    cache = Path(args.ocr_cache) if args.ocr_cache else None
    ocr = load_texts(docs, cache, args.workers)
    texts, ocr_s, failures, ocr_wall = ocr.texts, ocr.per_doc, ocr.failures, ocr.wall
    bundle.nlp(" ".join(["warm", "up"] * 10))  # first call allocates; not a document's cost
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    preds, extract_s, ocr_per = [], [], []
    truths = {d.id: d.fields for d in docs}
    with open(out / "predictions.jsonl", "w", encoding="utf-8") as fh:
        for d in docs:
            if d.id not in texts:
                continue
            t0 = time.perf_counter()
            pred = predict_text(bundle, d.id, texts[d.id], words=ocr.word_conf.get(d.id))
            extract_s.append(time.perf_counter() - t0)
            ocr_per.append(ocr_s.get(d.id, 0.0))
            preds.append(pred)
            row = prediction_row(doctype, pred, d.fields)
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    scores = score(doctype, preds, truths).as_dict()
    # Throughput of the batch path the predictions asset and `docasset extract` use (nlp.pipe).
    t0 = time.perf_counter()
    predict_documents(
        bundle, doctype, {k: texts[k] for k in truths if k in texts}, words=ocr.word_conf
    )
    batch_s = time.perf_counter() - t0
    lat = latency(extract_s, ocr_per, ocr_wall)
    lat["extract_batch_docs_per_s"] = round(len(preds) / batch_s, 2) if batch_s > 0 else 0.0
    metrics = {
        "dataset": str(args.dataset),
        "model": str(args.model),
        "model_version": bundle.version,
        "scores": scores,
        "ceiling": ceiling(doctype, docs, texts),
        "latency": lat,
        "ocr_failures": len(failures),
        "ocr_cached": bool(cache and cache.is_file()),
        "thresholds": bundle.thresholds,
        "doc_threshold": bundle.routing_thresholds().document,
        "doc_threshold_basis": bundle.meta.get("doc_threshold_basis"),
        "ocr_word_confidences": bool(ocr.word_conf),
        "training": bundle.meta.get("training", {}),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2), "utf-8")
    (out / "report.md").write_text(report_markdown(metrics), "utf-8")
    return metrics


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m evals.run", description=__doc__.split("\n")[0])
    p.add_argument("--dataset", required=True, help="labelled folder (img/ + key/)")
    p.add_argument("--model", required=True, help="model directory (docasset train --out)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--ocr-cache", help="JSON file reusing/storing the OCR texts and timings")
    p.add_argument("--workers", type=int, default=None, help="parallel OCR workers")
    return p.parse_args(argv)


def _round(v: float | None, digits: int = 4) -> float | None:
    return None if v is None else round(v, digits)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path(args.dataset).is_dir():
        print(f"error: dataset folder {args.dataset} does not exist", file=sys.stderr)
        return EXIT_USAGE
    try:
        metrics = evaluate(args)
    except DocassetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    s = metrics["scores"]
    summary = {
        "micro_f1": round(s["micro"]["f1"], 4),
        "f1": {k: round(v["f1"], 4) for k, v in s["fields"].items()},
        "automation_rate": round(s["automation_rate"], 4),
        "auto_accuracy": round(s["auto_accuracy"], 4),
        "field_automation": round(s["field_automation"], 4),
        "accepted_field_accuracy": _round(s["accepted_field_accuracy"]),
        "field_automation_by_field": {
            k: [round(v["automation"], 3), _round(v["accepted_accuracy"])]
            for k, v in s["fields"].items()
        },
        "touchless_rate": round(s["touchless_rate"], 4),
        "touchless_accuracy": _round(s["touchless_accuracy"]),
        "operator_seconds_per_doc": _round(s["operator_seconds_per_doc"], 2),
        "blocker_docs": s["blocker_docs"],
        "ece": round(s["ece"], 4),
        "ceiling": metrics["ceiling"],
        "latency": metrics["latency"],
        "out": args.out,
    }
    print(json.dumps(summary))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
