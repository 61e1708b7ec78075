"""Sensors: inbox -> batch runs; corrections inbox -> import runs; enough newly promoted
corrections -> retrain."""

from __future__ import annotations

import hashlib
import json

import dagster as dg

from docasset.core.intake.ledger import new_batch_id, pending_files, write_manifest
from docasset.core.validation.corrections import read_store
from docasset.core.validation.curate import new_promotions, trained_ids
from docasset.defs.jobs import corrections_job, ingest_job, retrain_job
from docasset.defs.partitions import batches
from docasset.defs.resources import DocassetHome, ModelRegistry
from docasset.defs.settings import Settings


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New files in the inbox -> a new batch partition and an intake run.",
)
def inbox_sensor(context, home: DocassetHome, settings: Settings) -> dg.SensorResult:
    wd = home.workdir()
    files = pending_files(wd, settle_seconds=settings.inbox_config().settle_seconds)
    if not files:
        return dg.SensorResult(skip_reason="inbox is empty")
    requests, keys = [], []
    for i in range(0, len(files), settings.inbox_config().batch_max_files):
        chunk = files[i : i + settings.inbox_config().batch_max_files]
        batch_id = new_batch_id(chunk)
        write_manifest(wd, batch_id, chunk)  # claims the files: the next tick will not see them
        keys.append(batch_id)
        requests.append(
            dg.RunRequest(
                run_key=batch_id, partition_key=batch_id, tags={"docasset/files": str(len(chunk))}
            )
        )
    return dg.SensorResult(
        run_requests=requests, dynamic_partitions_requests=[batches.build_add_request(keys)]
    )


@dg.sensor(
    job=corrections_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Files in the corrections inbox -> an import run.",
)
def corrections_sensor(context, home: DocassetHome) -> dg.SensorResult:
    wd = home.workdir()
    files = sorted(
        p for p in wd.corrections_inbox.iterdir() if p.is_file() and not p.name.startswith(".")
    )
    if not files:
        return dg.SensorResult(skip_reason="corrections inbox is empty")
    sig = hashlib.sha256(
        "\n".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files).encode()
    )
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"corrections-{sig.hexdigest()[:16]}")]
    )


def _stored_value(context, asset: str, default: dict) -> dict:
    """The last materialized value of an asset (through its IO manager), ``default`` when it
    was never materialized."""
    key = dg.AssetKey(asset)
    if context.instance.get_latest_materialization_event(key) is None:
        return default
    return context.repository_def.load_asset_value(key, instance=context.instance)


IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dg.sensor(
    job=retrain_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches retraining once settings.retrain.min_corrections corrections were "
    "newly promoted (train/dev) since the training set of the production model (from the "
    "registry, so a restart or a lost cursor changes nothing); the cursor remembers the count it "
    "fired at, run keys are derived from the state, and no run starts while one is in flight.",
)
def retrain_sensor(
    context, home: DocassetHome, registry: ModelRegistry, settings: Settings
) -> dg.SensorResult:
    wd = home.workdir()
    prod = registry.store().resolve("production")
    baseline = prod.version if prod else "none"
    trained = trained_ids(prod.info, wd.curated / "sets", "correction_ids") if prod else None
    new = new_promotions(
        read_store(wd.corrections_store),
        _stored_value(context, "promotion_status", {}),
        trained or set(),
        settings.split_config(),
    )
    last = json.loads(context.cursor) if context.cursor else {}
    # A new production model is a new baseline: its training set already holds what we fired at.
    fired_at = int(last.get("fired_at", 0)) if last.get("baseline") == baseline else 0
    state = {"baseline": baseline, "fired_at": fired_at, "new": len(new)}
    need = fired_at + settings.retrain_config().min_corrections
    if len(new) < need:
        return dg.SensorResult(
            skip_reason=f"{len(new)} newly promoted corrections since the training set of "
            f"production model {baseline}, waiting for {need}",
            cursor=json.dumps(state),
        )
    running = context.instance.get_runs(
        filters=dg.RunsFilter(job_name=retrain_job.name, statuses=IN_FLIGHT), limit=1
    )
    if running:
        return dg.SensorResult(
            skip_reason=f"retraining run {running[0].run_id} is still in flight",
            cursor=json.dumps(state),
        )
    digest = hashlib.sha256("\n".join(new).encode()).hexdigest()[:12]
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"retrain-{baseline}-{len(new)}-{digest}",
                tags={"docasset/baseline": baseline, "docasset/new_promoted": str(len(new))},
            )
        ],
        cursor=json.dumps({**state, "fired_at": len(new)}),
    )
