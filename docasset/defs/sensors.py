"""Sensors: inbox -> batch runs; corrections inbox -> import runs; enough corrections -> retrain."""

from __future__ import annotations

import hashlib
import json

import dagster as dg

from docasset.core.corrections import latest_per_document, read_store
from docasset.core.intake import new_batch_id, pending_files, write_manifest
from docasset.defs.jobs import corrections_job, ingest_job, retrain_job
from docasset.defs.partitions import batches
from docasset.defs.resources import DocassetHome, Settings


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New files in the inbox -> a new batch partition and an intake run.",
)
def inbox_sensor(context, home: DocassetHome, settings: Settings) -> dg.SensorResult:
    wd = home.workdir()
    files = pending_files(wd, settle_seconds=settings.inbox_settle_seconds)
    if not files:
        return dg.SensorResult(skip_reason="inbox is empty")
    requests, keys = [], []
    for i in range(0, len(files), settings.batch_max_files):
        chunk = files[i : i + settings.batch_max_files]
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


@dg.sensor(
    job=retrain_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches retraining once settings.retrain_min_corrections documents have "
    "been corrected since the last launch (cursor; run keys make double-fires impossible).",
)
def retrain_sensor(context, home: DocassetHome, settings: Settings) -> dg.SensorResult:
    corrected = latest_per_document(read_store(home.workdir().corrections_store)).height
    last = json.loads(context.cursor)["corrected"] if context.cursor else 0
    new = corrected - last
    if new < settings.retrain_min_corrections:
        return dg.SensorResult(
            skip_reason=f"{new} newly corrected documents, waiting for "
            f"{settings.retrain_min_corrections}"
        )
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"retrain-at-{corrected}",
                tags={"docasset/corrected": str(corrected), "docasset/new": str(new)},
            )
        ],
        cursor=json.dumps({"corrected": corrected}),
    )
