"""Jobs: intake per batch, corrections import, retraining, daily health, and the gates for CI."""

from __future__ import annotations

import os

import dagster as dg

from docasset.defs.partitions import batches


def _no_config(partition_key: str) -> dict:
    return {}


# Every run carries its kind, so the queued run coordinator can bound each kind
# (deploy/dagster.yaml: one retraining and one corrections import at a time, ingest bounded).
RUN_KIND = "docasset/run_kind"

ingest_job = dg.define_asset_job(
    "ingest_job",
    tags={RUN_KIND: "ingest"},
    selection=dg.AssetSelection.assets(
        "raw_scans", "ocr_text", "documents", "predictions", "review_queue", "label_studio_tasks"
    ),
    description="One inbox batch: raw scans -> OCR -> documents -> predictions -> review queue "
    "-> Label Studio tasks (scan_quality gates OCR).",
)
corrections_job = dg.define_asset_job(
    "corrections_job",
    tags={RUN_KIND: "corrections"},
    selection=dg.AssetSelection.assets("corrections", "vendor_registry", "promotion_status"),
    description="Import the corrections inbox into the append-only store; learn the vendor "
    "registry from them; recompute which corrections would be promoted.",
)
retrain_job = dg.define_asset_job(
    "retrain_job",
    tags={RUN_KIND: "retrain"},
    selection=dg.AssetSelection.assets(
        "curated_training_set", "candidate_model", "evaluation_report", "production_model"
    ),
    description="Curate -> train a candidate -> evaluate -> promote if accuracy_regression passes.",
)
health_job = dg.define_asset_job(
    "health_job",
    tags={RUN_KIND: "health"},
    selection=dg.AssetSelection.assets("production_health"),
    description="Label-free production health of one day, with its health checks "
    "(drift, automation drop, unseen values, estimated-accuracy drop).",
)
# The check jobs read stored frames and compute a few numbers per check: one process runs them
# all (the multiprocess executor would start, and import the code location in, one process per
# check, which costs more than the checks themselves).
checks_job = dg.define_asset_job(
    "checks_job",
    tags={RUN_KIND: "checks"},
    executor_def=dg.in_process_executor,
    selection=dg.AssetSelection.all_asset_checks()
    - dg.AssetSelection.checks_for_assets("raw_scans", "ocr_text", "production_health"),
    description="Every unpartitioned asset check on what is materialized (CI runs this).",
)
batch_checks_job = dg.define_asset_job(
    "batch_checks_job",
    tags={RUN_KIND: "checks"},
    executor_def=dg.in_process_executor,
    selection=dg.AssetSelection.checks_for_assets("raw_scans", "ocr_text"),
    # A job of checks only has no asset to infer its partitions from: the partitioned config
    # makes it a per-batch job (`dg launch --job batch_checks_job --partition <batch>`).
    config=dg.PartitionedConfig(partitions_def=batches, run_config_for_partition_key_fn=_no_config),
    description="The per-batch checks (scan_quality gate, ocr_failures) on what is materialized "
    "(CI runs this per batch).",
)


# Launched runs use Dagster's default (multiprocess) executor unless the deployment says
# otherwise: the Celery run launcher runs each run inside a worker's pool process, which is
# daemonic and may not start child processes, so the stack sets DOCASSET_RUN_EXECUTOR=in_process.
RUN_EXECUTORS: dict[str, dg.ExecutorDefinition | None] = {
    "default": None,
    "in_process": dg.in_process_executor,
    "multiprocess": dg.multiprocess_executor,
}


def run_executor(name: str | None = None) -> dg.ExecutorDefinition | None:
    """The executor of launched runs named by ``name`` (default: env ``DOCASSET_RUN_EXECUTOR``,
    else Dagster's default); ``execute_in_process`` always runs in process whatever this is."""
    key = name or os.environ.get("DOCASSET_RUN_EXECUTOR") or "default"
    if key not in RUN_EXECUTORS:
        raise ValueError(f"DOCASSET_RUN_EXECUTOR={key!r}: expected one of {sorted(RUN_EXECUTORS)}")
    return RUN_EXECUTORS[key]
