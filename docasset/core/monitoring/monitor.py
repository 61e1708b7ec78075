"""One day of production health end to end: the day's inputs, measures, drift, assessment,
verdict and report files (``reports/health-<day>.{html,md,json}``, ``-drift.html`` and,
optionally, deepchecks' ``-deepchecks.html``).

:func:`monitor_day` takes only what the day needs (:class:`DayInputs`): the day's predictions
and documents, the trend window's routes and the reference documents' measures.
:func:`day_inputs` reads them from the batches (``production_health``'s lazy batch inputs,
``docasset.core.batches``): the trend window's predictions by a row filter pushed down to each
batch's file, the scans and words of only the window's and the reference's documents, from the
batches the documents index names. Its cost follows the day, not the history.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from docasset.core.batches import BatchesOf, rows_of, where
from docasset.core.extraction.fields import DocType
from docasset.core.files import atomic_write
from docasset.core.intake.quality import QualityThresholds
from docasset.core.intake.scan_table import document_problems
from docasset.core.monitoring.assessment import (
    ROUND,
    HealthAssessment,
    QaMeasure,
    ReportFiles,
    plain,
)
from docasset.core.monitoring.checks import (
    VERDICT_TEXT,
    CheckName,
    CheckOutcome,
    Verdict,
    evaluate_checks,
    verdict,
)
from docasset.core.monitoring.drift import run_drift
from docasset.core.monitoring.health import (
    assess,
    automation_trend,
    day_predictions,
    feature_columns,
    frame_features,
    trend_documents,
    window_features,
    window_frames,
    with_measures,
)
from docasset.core.monitoring.health_report import blocks, drift_blocks
from docasset.core.monitoring.thresholds import HealthThresholds
from docasset.core.ocr.words import empty_words
from docasset.core.reporting.blocks import Block, to_html, to_markdown
from docasset.core.training.health_reference import HELD_OUT, Reference, window_reference
from docasset.core.training.registry import Registry
from docasset.core.validation.checked import qa_accuracy
from docasset.core.validation.corrections import CorrectionRecord, latest_per_document


@dataclass(frozen=True)
class DayInputs:
    """Everything one day's health is computed from, and nothing more.

    ``predictions``: long predictions of the documents predicted on ``day`` (with or without
    a model); ``scans``/``words``: their ``raw_scans`` and ``ocr_text`` rows; ``trend``: one
    row per document of the trend days (:func:`~docasset.core.monitoring.health.trend_documents`);
    ``reference``: the reference of the model in use; ``reference_measures``: the OCR/scan
    measures of its documents (:func:`~docasset.core.monitoring.health.frame_features`).
    """

    day: date
    predictions: pl.DataFrame
    scans: pl.DataFrame | None
    words: pl.DataFrame | None
    trend: pl.DataFrame
    reference: Reference | None
    reference_measures: pl.DataFrame | None


@dataclass(frozen=True)
class DayReport:
    """A graded day: the assessment, its checks and verdict at the thresholds in force when it
    was graded, and the report's content."""

    assessment: HealthAssessment
    checks: dict[CheckName, CheckOutcome]
    verdict: Verdict
    content: list[Block]

    @property
    def markdown(self) -> str:
        return to_markdown(self.content)


def checked_values(store: pl.DataFrame, doc_ids: list[str]) -> dict[str, dict[str, str | None]]:
    """The latest human-corrected values of ``doc_ids`` from a corrections store frame
    (a document marked irrelevant has no fields; conflicting annotators are left out)."""
    latest = latest_per_document(store.filter(pl.col("doc_id").is_in(doc_ids)))
    latest = latest.filter(~pl.col("conflict"))
    return {
        r["doc_id"]: ({} if r["verdict"] == "irrelevant" else CorrectionRecord.from_row(r).fields)
        for r in latest.iter_rows(named=True)
    }


def day_inputs(
    day: date,
    trend_days: int,
    predictions: Mapping[str, pl.DataFrame],
    scans: Mapping[str, pl.DataFrame],
    words: Mapping[str, pl.DataFrame],
    registry: Registry,
    batches_of: BatchesOf,
) -> DayInputs:
    """:class:`DayInputs` read from ``{batch: frame}`` mappings: only the rows of the trend
    window's predictions, and the scans and words of the documents the day needs (the window's
    and the reference's), from their batches (``batches_of``: the documents index)."""
    start = datetime.combine(day - timedelta(days=max(trend_days, 1) - 1), time.min, tzinfo=UTC)
    end = datetime.combine(day, time.min, tzinfo=UTC) + timedelta(days=1)
    recent = where(predictions, (pl.col("predicted_at") >= start) & (pl.col("predicted_at") < end))
    trend = trend_documents(recent, day, trend_days)
    today = day_predictions(recent, day)
    window, _ = window_frames(today, day)
    ids = window["doc_id"].unique().to_list()
    ref = window_reference(registry, window["model_version"].to_list())
    ref_ids = ref.features["doc_id"].to_list() if ref is not None else []
    return DayInputs(
        day=day,
        predictions=today,
        scans=rows_of(scans, ids, batches_of),
        words=rows_of(words, ids, batches_of),
        trend=trend,
        reference=ref,
        reference_measures=(
            frame_features(
                ref_ids, rows_of(words, ref_ids, batches_of), rows_of(scans, ref_ids, batches_of)
            )
            if ref
            else None
        ),
    )


def monitor_day(
    inputs: DayInputs,
    doctype: DocType,
    truths: Mapping[str, Mapping[str, str | None]],
    t: HealthThresholds,
    quality: QualityThresholds,
    reports: Path,
    qa: QaMeasure | None = None,
) -> DayReport:
    """Assess the day, grade it, and write its report files under ``reports``; ``qa``: the
    QA-measured accepted-field accuracy of the model in use."""
    day, ref = inputs.day, inputs.reference
    window, n_unmodelled = window_frames(inputs.predictions, day)
    ids = window["doc_id"].unique(maintain_order=True).to_list()
    wanted = set(ids)
    measured = frame_features(ids, inputs.words, inputs.scans)
    features = window_features(doctype, window, measured) if ids else pl.DataFrame()
    problems: dict[str, list[str]] = {}
    if ids and inputs.scans is not None:
        words = inputs.words if inputs.words is not None else empty_words()
        problems = document_problems(inputs.scans, words, quality)
    ref_features = ref_rows = None
    if ref is not None:
        measures = inputs.reference_measures
        ref_features = (
            with_measures(ref.features, measures) if measures is not None else ref.features
        )
        held = ref_features.filter(pl.col("split").is_in(HELD_OUT))
        # Held-out documents are the fair reference for confidences (the model saw its
        # training documents); all curated documents only when too few are held out.
        ref_rows = held if held.height >= t.min_drift_docs else ref_features
    names = _names(day)
    drift = None
    if ref_rows is not None and ids:
        page = reports / names["deepchecks"] if t.deepchecks_page else None
        drift = run_drift(ref_rows, features, feature_columns(doctype), page, t.min_drift_docs)
    a = assess(
        day=day,
        doctype=doctype,
        window=window,
        features=features,
        problems=problems,
        ref=ref,
        ref_features=ref_features,
        truths={d: v for d, v in truths.items() if d in wanted},
        drift=drift,
        trend=automation_trend(inputs.trend),
        thresholds=t,
        n_unmodelled=n_unmodelled,
    )
    measured_drift = drift is not None and drift.skipped is None
    files = ReportFiles(
        directory=str(reports),
        html=names["html"],
        markdown=names["md"],
        json=names["json"],
        drift=names["drift"] if drift is not None else None,
        deepchecks=names["deepchecks"] if measured_drift and t.deepchecks_page else None,
    )
    day_report = grade(replace(a, files=files, qa=qa), t)
    write_report(day_report, t, reports, ref_rows, features if ids else None)
    return day_report


def grade(a: HealthAssessment, t: HealthThresholds) -> DayReport:
    """The checks, the verdict and the report content of an assessment."""
    checks = evaluate_checks(a, t)
    v = verdict(a, checks, t)
    return DayReport(a, checks, v, blocks(a, checks, v, t))


def write_report(
    r: DayReport,
    t: HealthThresholds,
    reports: Path,
    ref_rows: pl.DataFrame | None = None,
    window_rows: pl.DataFrame | None = None,
) -> None:
    """Write the report files the assessment's ``files`` name (0644, atomically); the drift
    page draws the distributions of ``ref_rows`` vs ``window_rows`` when given."""
    a, files = r.assessment, r.assessment.files
    if files is None:
        return
    reports.mkdir(parents=True, exist_ok=True)
    atomic_write(reports / files.markdown, r.markdown.encode())
    atomic_write(reports / files.html, to_html(r.content).encode())
    data = report_dict(a, r.checks, r.verdict)
    atomic_write(reports / files.json, json.dumps(data, indent=1).encode())
    if files.drift is not None:
        page = drift_blocks(a, ref_rows, window_rows, t)
        atomic_write(reports / files.drift, to_html(page).encode())


def report_dict(
    a: HealthAssessment, checks: Mapping[CheckName, CheckOutcome], v: Verdict
) -> dict[str, Any]:
    """The JSON report: the assessment, the verdict and every check with its numbers."""
    return a.to_dict() | {
        "verdict": v,
        "verdict_text": VERDICT_TEXT[v],
        "checks": {
            name: plain(c) | {"passed": c.passed, "description": c.description}
            for name, c in checks.items()
        },
    }


def _names(day: date) -> dict[str, str]:
    stem = f"health-{day.isoformat()}"
    return {
        "html": f"{stem}.html",
        "md": f"{stem}.md",
        "json": f"{stem}.json",
        "drift": f"{stem}-drift.html",
        "deepchecks": f"{stem}-deepchecks.html",
    }


def metadata(r: DayReport, t: HealthThresholds) -> dict[str, float | int | str]:
    """The day's numbers for the asset's metadata, rounded; a figure that was not measured is
    absent, and realized accuracy appears only on ``min_checked_docs`` checked documents."""
    a = r.assessment
    out: dict[str, float | int | str] = {
        "verdict": VERDICT_TEXT[r.verdict],
        "documents": a.n_docs,
        "documents_modelled": a.n_modelled,
        "checked_documents": a.n_checked,
    }
    if a.hints:
        out["likely_cause"] = a.hints[0].cause
    w, c = a.signals, a.comparison
    nums: dict[str, float | None] = {}
    if w is not None:
        nums |= {
            "automation_rate": w.automation_rate,
            "review_share": w.review_share,
            "predictions_per_doc": w.predictions_per_doc,
            "missing_required_share": w.missing_required_share,
            "mean_ocr_confidence": w.mean_ocr_confidence,
            "bad_scan_share": w.bad_scan_share,
            "irrelevant_share": w.irrelevant_share,
            "memory_share": w.memory_share,
        }
        nums |= {f"estimated_accuracy_{f}": v for f, v in w.estimated_accuracy.items()}
        if w.field_routing is not None:
            nums["field_automation"] = w.field_routing.field_automation
            nums["touchless_rate"] = w.field_routing.touchless_rate
    if c is not None:
        nums |= {"unseen_share": c.unseen.share, "automation_drop": c.automation_drop}
    if a.drift is not None and a.drift.skipped is None:
        nums["max_drift"] = a.drift.max_score
    if a.accuracy_gap is not None and a.n_checked >= t.min_checked_docs:
        for f, g in a.accuracy_gap.fields.items():
            nums[f"realized_accuracy_{f}"] = g.realized
            nums[f"accuracy_gap_{f}"] = g.gap
    if a.qa is not None and a.qa.n:
        out["qa_fields"] = a.qa.n
        nums |= {"qa_accuracy": a.qa.accuracy, "qa_low": a.qa.low, "qa_high": a.qa.high}
    out |= {k: round(v, ROUND) for k, v in nums.items() if v is not None}
    return out


def qa_measure(evidence: pl.DataFrame, version: str | None, target: float) -> QaMeasure | None:
    """The QA-measured accepted-field accuracy of model ``version`` from the calibration
    store's rows (``validation.checked``); None without a QA answer for it."""
    if version is None or evidence.is_empty():
        return None
    mine = evidence.filter(pl.col("model_version") == version)
    q = qa_accuracy(mine)
    if not q["n"]:
        return None
    low, high = q["interval"]
    strict = round(q["strict_accuracy"] * q["n"])
    return QaMeasure(q["n"], q["right"], strict, low, high, target)


def report_paths(a: HealthAssessment) -> dict[str, str]:
    """The report files written for ``a``, by metadata key (none when nothing was written)."""
    f = a.files
    if f is None:
        return {}
    named = {"report_path": f.html, "drift_report_path": f.drift, "deepchecks_path": f.deepchecks}
    return {k: f.path(name) for k, name in named.items() if name}
