"""Old module paths (``docasset.core.curate``, ``docasset.core.validation.curate`` ...) for one
release.

Values stored before the stage packages existed, or before a module moved to the stage it
belongs to (the pickled ``CuratedSet`` of ``curated_training_set``), name their classes by the
old module paths. This finder maps each old path to its new module on import, so those values
still load; nothing in docasset imports the old paths. Remove it once every deployment has
re-materialized its assets.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

OLD_TO_NEW = {
    "intake": "intake.ledger",
    "scans": "intake.scans",
    "scan_table": "intake.scan_table",
    "quality": "intake.quality",
    "ocr": "ocr.tesseract",
    "fields": "extraction.fields",
    "rules": "extraction.rules",
    "layout": "extraction.layout",
    "confidence": "extraction.confidence",
    "extract": "extraction.extract",
    "prediction_table": "extraction.prediction_table",
    "corrections": "validation.corrections",
    "label_studio": "validation.review_queue",
    "memory": "validation.memory",
    "curate": "training.curate",
    "qa": "training.annotation_qa",
    "train": "training.train",
    "align": "training.align",
    "registry": "training.registry",
    "evaluate": "evaluation.evaluate",
    "metrics": "evaluation.metrics",
    "error_analysis": "evaluation.error_analysis",
    "report": "evaluation.report",
    "health": "monitoring.health",
    "reference": "training.health_reference",
    "drift": "monitoring.drift",
    "health_report": "monitoring.health_report",
    "blocks": "reporting.blocks",
    "plots": "reporting.plots",
    "labelled": "datasets.labelled",
    "offline": "datasets.offline",
    # Moved so that imports point down the stages (intake -> ... -> monitoring).
    "validation.curate": "training.curate",
    "validation.qa": "training.annotation_qa",
    "validation.promotion": "training.promotion",
    "monitoring.reference": "training.health_reference",
    # Renamed to say what they hold.
    "validation.label_studio": "validation.review_queue",
    "validation.review": "validation.review_export",
}
_PREFIX = "docasset.core."


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        sys.modules[module.__spec__.name if module.__spec__ else self.target] = module


class LegacyFinder(importlib.abc.MetaPathFinder):
    """Resolves ``docasset.core.<old>`` to the module that replaced it."""

    def find_spec(
        self, fullname: str, path: object, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(_PREFIX):
            return None
        new = OLD_TO_NEW.get(fullname[len(_PREFIX) :])
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _Alias(_PREFIX + new))


def install() -> None:
    """Add the finder once (after the normal finders: real modules always win)."""
    if not any(isinstance(f, LegacyFinder) for f in sys.meta_path):
        sys.meta_path.append(LegacyFinder())
