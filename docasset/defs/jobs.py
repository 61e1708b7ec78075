"""Jobs: intake per batch, corrections import, retraining, daily health, and the gates for CI."""

from __future__ import annotations

import dagster as dg

from docasset.defs.partitions import batches, days

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets(
        "raw_scans", "ocr_text", "documents", "predictions", "review_queue"
    ),
    partitions_def=batches,
    description="One inbox batch: raw scans -> OCR -> documents -> predictions -> review queue "
    "(scan_quality gates OCR).",
)
corrections_job = dg.define_asset_job(
    "corrections_job",
    selection=dg.AssetSelection.assets("corrections", "promotion_status"),
    description="Import the corrections inbox into the append-only store; recompute which "
    "corrections would be promoted.",
)
retrain_job = dg.define_asset_job(
    "retrain_job",
    selection=dg.AssetSelection.assets(
        "curated_training_set", "candidate_model", "evaluation_report", "production_model"
    ),
    description="Curate -> train a candidate -> evaluate -> promote if accuracy_regression passes.",
)
health_job = dg.define_asset_job(
    "health_job",
    selection=dg.AssetSelection.assets("production_health"),
    partitions_def=days,
    description="Label-free production health of one day, with its health checks "
    "(drift, automation drop, unseen values, estimated-accuracy drop).",
)
checks_job = dg.define_asset_job(
    "checks_job",
    selection=dg.AssetSelection.all_asset_checks()
    - dg.AssetSelection.checks_for_assets("raw_scans", "production_health"),
    description="Every unpartitioned asset check on what is materialized (CI runs this).",
)
batch_checks_job = dg.define_asset_job(
    "batch_checks_job",
    selection=dg.AssetSelection.checks_for_assets("raw_scans"),
    partitions_def=batches,
    description="The per-batch scan_quality gate on what is materialized (CI runs this per batch).",
)
