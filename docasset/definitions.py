"""The code location of docasset: the definitions autoloaded from ``docasset/defs/``.

``dg dev``, ``dg check defs``, ``dg list defs`` and ``dg launch`` load ``defs`` (the project is
configured in ``pyproject.toml``, ``[tool.dg]``); its resources read the environment through
``dg.EnvVar`` only when a run or a tick starts (``docasset.defs.deployment``).
``build_definitions`` gives the same graph for an explicit working directory, settings and
Label Studio (tests, the demo, ``docasset ingest``, the simulation)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

import dagster as dg

from docasset.defs.deployment import deployed_resources
from docasset.defs.jobs import run_executor
from docasset.defs.label_studio import LabelStudio
from docasset.defs.settings import Settings

T = TypeVar("T")
PACKAGE = Path(__file__).resolve().parent


def _autoloaded() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=PACKAGE)


def _unique(items: Iterable[T] | None) -> list[T]:
    return list({id(i): i for i in items or []}.values())


@dg.definitions
def defs() -> dg.Definitions:
    """Everything under ``docasset/defs/``, configured from the environment, and the executor
    of launched runs (``DOCASSET_RUN_EXECUTOR``, see ``docasset.defs.jobs.run_executor``)."""
    return dg.Definitions.merge(_autoloaded(), dg.Definitions(executor=run_executor()))


def build_definitions(
    home: str | None = None,
    settings: Settings | None = None,
    label_studio: LabelStudio | None = None,
    executor: str | None = None,
) -> dg.Definitions:
    """The autoloaded graph with the resources of working directory ``home`` (None: env
    ``DOCASSET_HOME``, through ``dg.EnvVar``), ``settings`` (None: the defaults) and
    ``label_studio`` (None: not configured, so tests, the demo and simulations never push to
    a server the shell happens to name; ``docasset ingest`` passes ``LabelStudio.from_env()``
    as the deployed ``defs`` have it); ``executor`` names the executor of launched runs
    (``docasset.defs.jobs.run_executor``)."""
    loaded = _autoloaded()
    return dg.Definitions(
        assets=_unique(loaded.assets),
        asset_checks=_unique(loaded.asset_checks),
        # A job is found in every module that imports it (sensors, schedules): once each.
        jobs=_unique(loaded.jobs),
        sensors=_unique(loaded.sensors),
        schedules=_unique(loaded.schedules),
        resources=deployed_resources(home, settings, label_studio or LabelStudio()),
        executor=run_executor(executor),
    )
