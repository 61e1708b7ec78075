"""The resources of the deployed definitions (``dg dev``, the code server).

Nothing here runs at import: ``dg`` calls ``deployment`` when it loads the definitions, and the
values come through ``dg.EnvVar`` (``DOCASSET_HOME``; the Label Studio URL and token), resolved
when a run or a sensor tick starts. ``deployed_resources`` gives the same set for an explicit
working directory (``docasset.definitions.build_definitions``)."""

from __future__ import annotations

from typing import Any

import dagster as dg

from docasset.defs.label_studio import LabelStudio
from docasset.defs.ocr_engines import ocr_engine_for
from docasset.defs.resources import HOME_ENV, resources_for
from docasset.defs.settings import Settings


def deployed_resources(
    home: str | None = None,
    settings: Settings | None = None,
    label_studio: LabelStudio | None = None,
) -> dict[str, Any]:
    """Every resource of the graph: the working directory ``home`` (None: env
    ``DOCASSET_HOME`` through ``dg.EnvVar``), ``settings`` (None: the defaults) and
    ``label_studio`` (None: from the environment, ``LabelStudio.from_env``)."""
    settings = settings or Settings()
    return resources_for(
        home if home is not None else dg.EnvVar(HOME_ENV),
        {
            "settings": settings,
            "ocr_engine": ocr_engine_for(settings),
            "label_studio": label_studio if label_studio is not None else LabelStudio.from_env(),
        },
    )


@dg.definitions
def deployment() -> dg.Definitions:
    """The deployed resources, from the environment (the executor of launched runs is chosen
    in ``docasset.definitions``)."""
    return dg.Definitions(resources=deployed_resources())
