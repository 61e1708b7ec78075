"""Assembles the Dagster ``Definitions`` of docasset (nothing else lives here)."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from docasset.defs import (
    evaluation,
    extraction,
    health_checks,
    intake,
    monitoring,
    ocr,
    training,
    validation,
)
from docasset.defs.jobs import (
    batch_checks_job,
    checks_job,
    corrections_job,
    health_job,
    ingest_job,
    retrain_job,
)
from docasset.defs.resources import (
    DEFAULT_HOME,
    DocassetHome,
    MemoryStore,
    ModelRegistry,
    PolarsParquetIOManager,
)
from docasset.defs.schedules import daily_health, weekly_retrain
from docasset.defs.sensors import corrections_sensor, inbox_sensor, retrain_sensor
from docasset.defs.settings import Settings

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


STAGES = [intake, ocr, extraction, validation, training, evaluation, monitoring]


def build_definitions(
    home: str | None = None, settings: Settings | None = None, executor: str | None = None
) -> dg.Definitions:
    """The definitions for a working directory (default: env ``DOCASSET_HOME``); ``executor``
    names the executor of launched runs (see :func:`run_executor`)."""
    root = Path(home or DEFAULT_HOME)
    storage = str(root / "storage")
    return dg.Definitions(
        assets=dg.load_assets_from_modules(STAGES),
        asset_checks=dg.load_asset_checks_from_modules([*STAGES, health_checks]),
        jobs=[ingest_job, corrections_job, retrain_job, health_job, checks_job, batch_checks_job],
        sensors=[inbox_sensor, corrections_sensor, retrain_sensor],
        schedules=[daily_health, weekly_retrain],
        executor=run_executor(executor),
        resources={
            "home": DocassetHome(root=str(root)),
            "registry": ModelRegistry(root=str(root / "models")),
            "memory": MemoryStore(root=str(root / "memory")),
            "settings": settings or Settings(),
            "io_manager": dg.FilesystemIOManager(base_dir=storage),
            "frames_io": PolarsParquetIOManager(base_dir=storage),
        },
    )


defs = build_definitions(os.environ.get("DOCASSET_HOME"))
