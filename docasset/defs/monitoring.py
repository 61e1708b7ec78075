"""Stage 9: ``production_health`` - label-free health of the day's predictions against the
production model's training reference (``docasset.core.monitoring``; checks:
``docasset.defs.health_checks``)."""

from __future__ import annotations

from datetime import date

import dagster as dg
import polars as pl

from docasset.core.batches import BatchFrames
from docasset.core.extraction.calibration_store import read_evidence, store_dir
from docasset.core.intake.ledger import document_index
from docasset.core.monitoring.assessment import HealthAssessment
from docasset.core.monitoring.monitor import (
    checked_values,
    day_inputs,
    metadata,
    monitor_day,
    qa_measure,
    report_paths,
)
from docasset.defs.partitions import ALL_BATCHES, days
from docasset.defs.resources import OPTIONAL, DocassetHome, ModelRegistry
from docasset.defs.settings import Settings


@dg.asset(
    partitions_def=days,
    group_name="monitoring",
    ins={
        "predictions": dg.AssetIn(**ALL_BATCHES),
        "raw_scans": dg.AssetIn(**ALL_BATCHES),
        "ocr_text": dg.AssetIn(**ALL_BATCHES),
        # The operators' answers (realized accuracy); absent until a first import.
        "corrections": dg.AssetIn(metadata={OPTIONAL: True}),
    },
    kinds={"deepchecks"},
    description="Per day, for the documents a model predicted: OCR and scan quality, prediction "
    "density, missing required fields, per-field confidence, values never seen in training, "
    "automation trend, feature drift (deepchecks), estimated vs realized accuracy, the "
    "accepted-field accuracy the blind QA sample measured (with its interval), and likely "
    "causes, against the production model's training reference. Writes `reports/health-<day>."
    "{html,md,json}` and the drift page `health-<day>-drift.html` beside them.",
)
def production_health(
    context,
    predictions: BatchFrames,
    raw_scans: BatchFrames,
    ocr_text: BatchFrames,
    corrections: pl.DataFrame | None,
    home: DocassetHome,
    registry: ModelRegistry,
    settings: Settings,
) -> HealthAssessment:
    t = settings.health_thresholds()
    wd = home.workdir()
    inputs = day_inputs(
        date.fromisoformat(context.partition_key),
        t.trend_days,
        predictions,
        raw_scans,
        ocr_text,
        registry.store(),
        document_index(wd).batches_of,
    )
    ids = inputs.predictions["doc_id"].unique().to_list()
    truths = checked_values(corrections, ids) if corrections is not None else {}
    store = registry.store()
    evidence, _ = read_evidence(store_dir(store.root))
    production = store.resolve("production")
    qa = qa_measure(
        evidence, production.version if production else None, settings.routing_config().field_target
    )
    report = monitor_day(
        inputs, settings.doctype(), truths, t, settings.quality_thresholds(), wd.reports, qa
    )
    meta: dict[str, object] = {
        **metadata(report, t),
        "report": dg.MetadataValue.md(report.markdown),
    }
    meta |= {k: dg.MetadataValue.path(p) for k, p in report_paths(report.assessment).items()}
    context.add_output_metadata(meta)
    return report.assessment
