"""Evaluate a trained model on a labelled folder: OCR -> extraction -> SROIE-style scores.

    python -m evals.run --dataset DIR --model MODEL_DIR --out OUT_DIR [--ocr-cache FILE]

Writes ``OUT_DIR/predictions.jsonl`` (one object per document: the ``docasset extract`` fields
plus ``truth`` and per-field ``correct``), ``OUT_DIR/metrics.json`` and ``OUT_DIR/report.md``.
Exit codes: 0 ok, 2 dataset or model missing/unreadable. See ``evals/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from docasset.core.datasets.labelled import LabelledDoc, read_labelled_folder
from docasset.core.evaluation.metrics import score
from docasset.core.extraction.evidence import WordSpans
from docasset.core.extraction.extract import ModelBundle, predict_documents, predict_text
from docasset.core.extraction.fields import DocType, load_doctype
from docasset.core.extraction.prediction_table import to_json
from docasset.core.extraction.routing import DocPrediction
from docasset.core.ocr.engine import OCR_META, Engine, engine_mismatch
from docasset.core.ocr.names import ENGINE_NAMES
from docasset.core.ocr.tesseract import OcrConfig
from docasset.errors import DocassetError, EvaluationError

if TYPE_CHECKING:
    from docasset.core.datasets.offline import OcrRun

EXIT_OK, EXIT_USAGE = 0, 2


def squash(s: str) -> str:
    """Case- and whitespace-insensitive form (the SROIE text comparison)."""
    return "".join(s.split()).lower()


@dataclass
class OcrTexts:
    """OCR of a labelled folder: texts, per-document seconds, failures, the wall seconds, the
    engine that read them (its ``identity()``), pages per page engine, and what the OCR cost
    when it was measured (``cost``: CPU per page, peak RSS, wall time, workers), and the word
    confidences (``word_conf``; a cache written before they were stored has none, so the
    OCR-evidence features are absent, as for an engine that reports no confidences)."""

    texts: dict[str, str]
    per_doc: dict[str, float]
    failures: dict[str, str]
    wall: float
    engine: dict[str, Any]
    page_engines: dict[str, int] = field(default_factory=dict)
    cost: dict[str, Any] = field(default_factory=dict)
    word_conf: dict[str, WordSpans] = field(default_factory=dict)


class PeakRss:
    """Peak resident memory of this process plus its subprocesses (Tesseract), sampled every
    ``interval`` seconds while the block runs (``ru_maxrss`` of children would count the
    forked Python image, not Tesseract's)."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil  # type: ignore[import-untyped]

        me = psutil.Process()
        while not self._stop.is_set():
            total = me.memory_info().rss
            for child in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):  # it may have exited meanwhile
                    total += child.memory_info().rss
            self.peak_mb = max(self.peak_mb, total / 2**20)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def ocr_cost(run: OcrRun, workers: int | None, peak_rss_mb: float | None) -> dict[str, Any]:
    """What an OCR run cost: CPU seconds per page (the work of one core), wall seconds with
    ``workers`` parallel documents, and the peak RSS of the process tree (:class:`PeakRss`)."""
    return {
        "pages": run.pages,
        "cpu_s_per_page": round(run.cpu_seconds / run.pages, 3) if run.pages else None,
        "wall_s": round(run.seconds, 1),
        "workers": workers or os.cpu_count() or 1,
        "peak_rss_mb": None if peak_rss_mb is None else round(peak_rss_mb),
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


def write_cache(path: Path, run: OcrRun, cost: dict[str, Any]) -> None:
    """Store an OCR run (texts, timings, failures, engine, cost) for later evaluations; with
    its word tables, when it kept them, in ``<path>.words.parquet``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "engine": run.engine,
        "page_engines": run.page_engines,
        "cost": cost,
        "texts": run.texts,
        "per_doc": run.per_doc_seconds,
        "failures": run.failures,
        "word_conf": run.word_conf,
    }
    path.write_text(json.dumps(data), "utf-8")
    if run.words:
        frames = [w.with_columns(key=pl.lit(k)) for k, w in run.words.items()]
        # diagonal: pages an engine read from a text layer carry the page_reason column
        pl.concat(frames, how="diagonal").write_parquet(
            path.with_name(path.name + ".words.parquet")
        )


def load_ocr(
    docs: list[LabelledDoc],
    cache: Path | None,
    workers: int | None,
    engine: Engine | None = None,
    engine_name: str | None = None,
) -> OcrTexts:
    """OCR every document with ``engine`` (default: the default engine setting), or reuse an
    earlier run's OCR from ``cache`` (written when absent).

    A cache holds one engine's OCR: one written by another engine than ``engine_name`` asked
    for raises :class:`EvaluationError` rather than scoring the wrong text."""
    if cache is not None and cache.is_file():
        data = json.loads(cache.read_text("utf-8"))
        cached = (data.get("engine") or {}).get("engine")
        wanted = engine.name if engine is not None else engine_name
        if cached is None or (wanted is not None and cached != wanted):
            raise EvaluationError(
                f"{cache} holds OCR by {cached or 'an unrecorded engine'}, not {wanted}: "
                "pass another --ocr-cache file"
            )
        ids = {d.id for d in docs}

        def pick(key: str) -> dict[str, Any]:
            return {k: v for k, v in data.get(key, {}).items() if k in ids}

        per_doc = pick("per_doc")
        return OcrTexts(
            pick("texts"),
            per_doc,
            pick("failures"),
            sum(per_doc.values()),
            data["engine"],
            data.get("page_engines", {}),
            data.get("cost", {}),
            _cached_word_conf(data, cache, ids),
        )
    from docasset.core.datasets.offline import ocr_files

    with PeakRss() as rss:
        run = ocr_files(
            [(d.id, d.image) for d in docs], engine, workers=workers, keep_words=cache is not None
        )
    cost = ocr_cost(run, workers, rss.peak_mb)
    if cache is not None:
        write_cache(cache, run, cost)
    return OcrTexts(
        run.texts,
        run.per_doc_seconds,
        run.failures,
        run.seconds,
        run.engine,
        run.page_engines,
        cost,
        run.word_conf,
    )


def _cached_word_conf(data: dict[str, Any], cache: Path, ids: set[str]) -> dict[str, WordSpans]:
    """The word confidences (and boxes) of a cache: stored, or computed from its word tables
    (``<cache>.words.parquet``) when the cache predates them (or stored confidences without
    boxes); none when neither exists."""
    from docasset.core.ocr.text import as_span, has_boxes, word_spans

    words = cache.with_name(cache.name + ".words.parquet")
    if "word_conf" in data:
        stored = {k: [as_span(w) for w in v] for k, v in data["word_conf"].items() if k in ids}
        if not words.is_file() or any(has_boxes(v) for v in stored.values()):
            return stored
    if not words.is_file():
        return {}

    out: dict[str, WordSpans] = {}
    for (key,), w in pl.read_parquet(words).partition_by("key", as_dict=True).items():
        if key in ids:
            out[str(key)] = word_spans(w.drop("key")).get(str(w["doc_id"][0]), [])
    return out


def load_texts(docs: list[LabelledDoc], cache: Path | None, workers: int | None) -> OcrTexts:
    """OCR of ``docs`` with the default engine (:func:`load_ocr`)."""
    return load_ocr(docs, cache, workers)


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
    cache = Path(args.ocr_cache) if args.ocr_cache else None
    cached = bool(cache and cache.is_file())
    training: dict[str, Any] = {}
    if args.train_dataset:
        training = train_for(args, cache)
    bundle = ModelBundle.load(Path(args.model))
    doctype = bundle.doctype
    docs = read_labelled_folder(Path(args.dataset))
    ocr = load_ocr(docs, cache, args.workers, _engine(args, doctype), args.ocr_engine)
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
        "ocr_cached": cached,
        "ocr_engine": ocr.engine,
        "ocr_pages_by_engine": {k: v for k, v in ocr.page_engines.items()},
        "ocr_cost": ocr.cost,
        "ocr_engine_warning": engine_mismatch(bundle.meta.get(OCR_META), ocr.engine),
        "key_found": key_found(doctype, docs, texts),
        "cer": cer_of(Path(args.dataset), texts),
        "thresholds": bundle.thresholds,
        "doc_threshold": bundle.routing_thresholds().document,
        "doc_threshold_basis": bundle.meta.get("doc_threshold_basis"),
        "ocr_word_confidences": bool(ocr.word_conf),
        "training": bundle.meta.get("training", {}),
        "trained_here": training,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2), "utf-8")
    (out / "report.md").write_text(report_markdown(metrics), "utf-8")
    return metrics


def _engine(args: argparse.Namespace, doctype: DocType) -> Engine:
    from docasset.core.extraction.ocr_escalation import default_engine

    return default_engine(doctype, args.ocr_engine)


def train_for(args: argparse.Namespace, cache: Path | None) -> dict[str, Any]:
    """Train a model on ``--train-dataset`` with the same OCR engine (and cache), save it to
    ``--model``: what ``docasset train --ocr-engine`` does, without repeating cached OCR."""
    from docasset.core.datasets.offline import train_labelled
    from docasset.core.training.train import TrainConfig

    doctype = load_doctype(args.doc_type)
    docs = read_labelled_folder(Path(args.train_dataset))
    ocr = load_ocr(docs, cache, args.workers, _engine(args, doctype), args.ocr_engine)
    trained = train_labelled(
        docs,
        ocr.texts,
        doctype,
        TrainConfig(epochs=args.epochs, seed=args.seed, calibration_folds=args.calibration_folds),
        args.dev_fraction,
        ocr.engine,
        str(args.train_dataset),
        ocr.word_conf,
    )
    trained.bundle.save(Path(args.model))
    r = trained.report
    return {
        "dataset": str(args.train_dataset),
        "n_train": r.n_train,
        "n_dev": r.n_dev,
        "best_epoch": r.best_epoch,
        "dev_accuracy": r.best_dev_accuracy,
        "documents_with_unaligned_values": len(trained.unaligned),
        "seconds": r.seconds,
    }


def key_found(doctype: DocType, docs: list[LabelledDoc], texts: dict[str, str]) -> float | None:
    """Share of all true key values found verbatim (case and whitespace ignored) in the text:
    the pooled :func:`ceiling`."""
    hits = [
        squash(d.fields[s.name]) in squash(texts.get(d.id, ""))
        for d in docs
        for s in doctype.fields
        if d.fields.get(s.name, "").strip()
    ]
    return round(sum(hits) / len(hits), 4) if hits else None


def cer_of(dataset: Path, texts: dict[str, str]) -> float | None:
    """Mean case-insensitive CER against ``box/`` transcripts when the folder has them
    (``evals.ocr_quality``'s measure), else None."""
    if not (dataset / "box").is_dir():
        return None
    from evals.ocr_quality import load_receipts, normalise, score_texts

    receipts = [r for r in load_receipts(dataset, None) if r.rid in texts]
    if not receipts:
        return None
    norm = {k: normalise(t.splitlines()) for k, t in texts.items()}
    return score_texts("", 0, receipts, norm, 0, 0.0, 0.0).cer_ci_mean


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m evals.run", description=__doc__.split("\n")[0])
    p.add_argument("--dataset", required=True, help="labelled folder (img/ + key/)")
    p.add_argument(
        "--model",
        required=True,
        help="model directory (docasset train --out; written to with --train-dataset)",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--ocr-cache", help="JSON file reusing/storing the OCR texts and timings")
    p.add_argument("--workers", type=int, default=None, help="parallel OCR workers")
    p.add_argument(
        "--ocr-engine",
        choices=ENGINE_NAMES,
        default=OcrConfig().engine,
        help="OCR engine of the texts (default: the Settings.ocr.engine default)",
    )
    p.add_argument("--train-dataset", help="train --model on this labelled folder first")
    p.add_argument("--doc-type", default="receipt", help="with --train-dataset")
    p.add_argument("--dev-fraction", type=float, default=0.4, help="with --train-dataset")
    p.add_argument("--epochs", type=int, default=40, help="with --train-dataset")
    p.add_argument("--seed", type=int, default=0, help="with --train-dataset")
    p.add_argument(
        "--calibration-folds",
        type=int,
        default=3,  # TrainConfig.calibration_folds
        help="with --train-dataset: cross-fitting folds (0: calibrate on the dev split alone)",
    )
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
        "key_found": metrics["key_found"],
        "cer": metrics["cer"],
        "ocr_engine": metrics["ocr_engine"]["engine"],
        "ocr_pages_by_engine": metrics["ocr_pages_by_engine"],
        "ocr_cost": metrics["ocr_cost"],
        "ocr_engine_warning": metrics["ocr_engine_warning"],
        "latency": metrics["latency"],
        "out": args.out,
    }
    print(json.dumps(summary))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
