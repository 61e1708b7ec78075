"""Stage 9: ``production_health`` - label-free health of the day's predictions against the
production model's training reference (checks: ``docasset.defs.health_checks``)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from datetime import date
from typing import Any

import dagster as dg
import polars as pl

from docasset.core.files import atomic_write
from docasset.core.intake.scan_table import document_problems
from docasset.core.monitoring.checks import evaluate_checks
from docasset.core.monitoring.drift import DriftResult, run_drift
from docasset.core.monitoring.health import (
    assess,
    automation_trend,
    feature_columns,
    frame_features,
    window_features,
    window_frames,
    with_measures,
)
from docasset.core.monitoring.health_report import blocks, verdict
from docasset.core.monitoring.reference import Reference, has_reference, load_reference
from docasset.core.ocr.words import empty_words
from docasset.core.reporting.blocks import to_html, to_markdown
from docasset.core.validation.corrections import latest_per_document, read_store
from docasset.defs.partitions import ALL_BATCHES, concat_batches, days
from docasset.defs.resources import DocassetHome, ModelRegistry
from docasset.defs.settings import Settings


def _reference(context, registry: ModelRegistry, window: pl.DataFrame) -> Reference | None:
    """The reference of the model that predicted most of the window (None: no model, or a
    version trained before references were saved; the report says so)."""
    if window.is_empty():
        return None
    version = Counter(window["model_version"].to_list()).most_common(1)[0][0]
    mv = registry.store().get(version)
    if not has_reference(mv.path):
        context.log.warning(f"model {version} has no health reference: comparisons skipped")
        return None
    return load_reference(mv.path)


def _truths(home: DocassetHome, doc_ids: list[str]) -> dict[str, dict[str, str | None]]:
    """The latest human-corrected values of the window's documents (irrelevant: no fields)."""
    latest = latest_per_document(read_store(home.workdir().corrections_store))
    latest = latest.filter(pl.col("doc_id").is_in(doc_ids) & ~pl.col("conflict"))
    return {
        r["doc_id"]: ({} if r["verdict"] == "irrelevant" else json.loads(r["fields_json"]))
        for r in latest.iter_rows(named=True)
    }


@dg.asset(
    partitions_def=days,
    group_name="monitoring",
    ins={
        "predictions": dg.AssetIn(**ALL_BATCHES),
        "raw_scans": dg.AssetIn(**ALL_BATCHES),
        "ocr_text": dg.AssetIn(**ALL_BATCHES),
    },
    kinds={"deepchecks"},
    description="Per day, for the documents a model predicted: OCR and scan quality, prediction "
    "density, missing required fields, per-field confidence, values never seen in training, "
    "automation trend, feature drift (deepchecks), estimated vs realized accuracy and likely "
    "causes, against the production model's training reference. Writes reports/health-<day>."
    "{html,md,json} and the deepchecks drift report beside them.",
)
def production_health(
    context,
    predictions: dict[str, pl.DataFrame],
    raw_scans: dict[str, pl.DataFrame],
    ocr_text: dict[str, pl.DataFrame],
    home: DocassetHome,
    registry: ModelRegistry,
    settings: Settings,
) -> dict:
    day = date.fromisoformat(context.partition_key)
    t = settings.health_thresholds()
    doctype = settings.doctype()
    preds = concat_batches(predictions)
    window, n_unmodelled = window_frames(preds, day)
    ref = _reference(context, registry, window)
    win_ids = window["doc_id"].unique().to_list() if window.height else []
    ref_ids = ref.features["doc_id"].to_list() if ref is not None else []
    words, scans = concat_batches(ocr_text), concat_batches(raw_scans)
    measured = frame_features(win_ids + ref_ids, words, scans)
    reports = home.workdir().reports
    drift: DriftResult | None = None
    features = ref_features = None
    problems: dict[str, list[str]] = {}
    if window.height:
        features = window_features(
            doctype, window, measured.filter(pl.col("doc_id").is_in(win_ids))
        )
        if scans is not None:
            problems = document_problems(
                scans.filter(pl.col("doc_id").is_in(win_ids)),
                (words if words is not None else empty_words()).filter(
                    pl.col("doc_id").is_in(win_ids)
                ),
                settings.quality_thresholds(),
            )
    if ref is not None and features is not None:
        ref_features = with_measures(ref.features, measured)
        held = ref_features.filter(pl.col("split").is_in(["dev", "golden"]))
        # Held-out documents are the fair reference for confidences (the model saw its
        # training documents); all curated documents only when too few are held out.
        ref_rows = held if held.height >= t.min_drift_docs else ref_features
        drift = run_drift(
            ref_rows,
            features,
            feature_columns(doctype),
            reports / f"health-{context.partition_key}-drift.html",
            t.min_drift_docs,
        )
    s = assess(
        day=day,
        doctype=doctype,
        window=window,
        features=features if features is not None else pl.DataFrame(),
        problems=problems,
        ref=ref,
        ref_features=ref_features,
        truths=_truths(home, win_ids) if win_ids else {},
        drift=drift,
        trend=automation_trend(preds, day, t.trend_days) if preds is not None else [],
        thresholds=t,
        n_unmodelled=n_unmodelled,
    )
    checks = evaluate_checks(s, t)
    s["verdict"] = verdict(checks)
    s["checks"] = {k: asdict(c) for k, c in checks.items()}
    content = blocks(s, checks)
    md = to_markdown(content)
    paths = {
        ext: reports / f"health-{context.partition_key}.{ext}" for ext in ("md", "html", "json")
    }
    atomic_write(paths["md"], md.encode())
    atomic_write(paths["html"], to_html(content).encode())
    s["report_path"] = str(paths["html"])
    atomic_write(paths["json"], json.dumps(s, indent=1, default=str).encode())
    context.add_output_metadata(_metadata(s, md, paths["html"]))
    return s


def _metadata(s: dict[str, Any], md: str, html_path: object) -> dict[str, object]:
    meta: dict[str, object] = {
        "report": dg.MetadataValue.md(md),
        "report_path": dg.MetadataValue.path(str(html_path)),
        "verdict": s["verdict"],
        "documents": s["n_docs"],
        "documents_modelled": s["n_modelled"],
        "likely_cause": (s.get("hints") or [{"cause": "none"}])[0]["cause"],
    }
    drift = s.get("drift") or {}
    if drift.get("html_path"):
        meta["drift_report_path"] = dg.MetadataValue.path(drift["html_path"])
    for k in (
        "automation_rate",
        "review_share",
        "predictions_per_doc",
        "missing_required_share",
        "mean_ocr_confidence",
        "bad_scan_share",
        "irrelevant_share",
        "unseen_share",
        "automation_drop",
    ):
        if s.get(k) is not None:
            meta[k] = float(s[k])
    if drift.get("scores"):
        meta["max_drift"] = float(drift["max_score"])
    for f, v in (s.get("estimated_accuracy") or {}).items():
        meta[f"estimated_accuracy_{f}"] = float(v)
    for f, g in ((s.get("accuracy_gap") or {}).get("fields") or {}).items():
        if g["gap"] is not None:
            meta[f"realized_accuracy_{f}"] = float(g["realized"])
            meta[f"accuracy_gap_{f}"] = float(g["gap"])
    return meta
