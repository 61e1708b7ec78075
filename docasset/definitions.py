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
from docasset.defs import label_studio as label_studio_defs
from docasset.defs.jobs import (
    batch_checks_job,
    checks_job,
    corrections_job,
    health_job,
    ingest_job,
    retrain_job,
    run_executor,
)
from docasset.defs.label_studio import LabelStudio, label_studio_sensor
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

STAGES = [intake, ocr, extraction, validation, label_studio_defs, training, evaluation, monitoring]


def build_definitions(
    home: str | None = None,
    settings: Settings | None = None,
    label_studio: LabelStudio | None = None,
    executor: str | None = None,
) -> dg.Definitions:
    """The definitions for a working directory (default: env ``DOCASSET_HOME``); Label Studio
    is not configured unless given (the module's ``defs`` read it from the environment);
    ``executor`` names the executor of launched runs (``docasset.defs.jobs.run_executor``)."""
    root = Path(home or DEFAULT_HOME)
    storage = str(root / "storage")
    return dg.Definitions(
        assets=dg.load_assets_from_modules(STAGES),
        asset_checks=dg.load_asset_checks_from_modules([*STAGES, health_checks]),
        jobs=[ingest_job, corrections_job, retrain_job, health_job, checks_job, batch_checks_job],
        sensors=[inbox_sensor, corrections_sensor, retrain_sensor, label_studio_sensor],
        schedules=[daily_health, weekly_retrain],
        executor=run_executor(executor),
        resources={
            "home": DocassetHome(root=str(root)),
            "registry": ModelRegistry(root=str(root / "models")),
            "memory": MemoryStore(root=str(root / "memory")),
            "settings": settings or Settings(),
            "label_studio": label_studio or LabelStudio(),
            "io_manager": dg.FilesystemIOManager(base_dir=storage),
            "frames_io": PolarsParquetIOManager(base_dir=storage),
        },
    )


defs = build_definitions(os.environ.get("DOCASSET_HOME"), label_studio=LabelStudio.from_env())
