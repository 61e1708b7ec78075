"""The ``ocr_engine`` resource: which OCR engine the graph reads pages with.

``OcrEngine`` is the abstract resource; ``TesseractOcr``, ``RapidOcr`` and ``HybridOcr``
hand the ``ocr_text`` asset the matching Dagster-free engine of ``docasset.core.ocr``
(configured from ``Settings``: ``ocr``, ``rapidocr``, ``escalation``). ``build_definitions``
picks the implementation named by ``Settings.ocr.engine`` (:func:`ocr_engine_for`); a run
config that names another engine than the resource provides fails the run (``ConfigError``)
rather than reading with an engine nobody asked for. ``candidate_model`` records the engine's
identity with the model and ``predictions`` warns when the production model was trained on
another engine's text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import dagster as dg

from docasset.core.extraction.ocr_escalation import hybrid_engine
from docasset.core.ocr.engine import Engine
from docasset.core.ocr.hybrid import ReviewPredicate
from docasset.core.ocr.pdf_text import with_text_layer
from docasset.core.ocr.rapid import RapidEngine
from docasset.core.ocr.tesseract import TesseractEngine
from docasset.defs.settings import Settings
from docasset.errors import ConfigError


class OcrEngine(dg.ConfigurableResource, ABC):
    """The OCR engine of the graph (``Settings.ocr.engine`` picks the implementation)."""

    name: ClassVar[str]

    @abstractmethod
    def _build(self, settings: Settings, review: ReviewPredicate | None) -> Engine: ...

    def engine(self, settings: Settings, review: ReviewPredicate | None = None) -> Engine:
        """The core engine, configured by ``settings``; ``review`` (hybrid only) says whether
        the production model would route a text to review. Raises ConfigError when the
        settings name another engine than this resource."""
        wanted = settings.ocr_config().engine
        if wanted != self.name:
            raise ConfigError(
                f"settings.ocr.engine is {wanted!r} but the ocr_engine resource is {self.name!r}"
                ": build the definitions with that setting (build_definitions(settings=...))"
            )
        return with_text_layer(
            self._build(settings, review),
            settings.ocr_config().text_layer,
            settings.text_layer_config(),
        )

    def identity(self, settings: Settings) -> dict[str, Any]:
        """What a model trained on this engine's text records (``Engine.identity``)."""
        return self.engine(settings).identity()


class TesseractOcr(OcrEngine):
    """Tesseract (``Settings.ocr``): today's engine, one subprocess per page."""

    name: ClassVar[str] = "tesseract"

    def _build(self, settings: Settings, review: ReviewPredicate | None) -> Engine:
        return TesseractEngine(settings.ocr_config())


class RapidOcr(OcrEngine):
    """PP-OCR on ONNX Runtime (``Settings.rapidocr``), models bundled in the rapidocr wheel."""

    name: ClassVar[str] = "rapidocr"

    def _build(self, settings: Settings, review: ReviewPredicate | None) -> Engine:
        return RapidEngine(settings.rapid_config())


class HybridOcr(OcrEngine):
    """Tesseract first, RapidOCR for the pages ``Settings.escalation`` says are hard."""

    name: ClassVar[str] = "hybrid"

    def _build(self, settings: Settings, review: ReviewPredicate | None) -> Engine:
        return hybrid_engine(
            TesseractEngine(settings.ocr_config()),
            RapidEngine(settings.rapid_config()),
            settings.doctype(),
            settings.escalation_config(),
            review,
        )


RESOURCES: dict[str, type[OcrEngine]] = {c.name: c for c in (TesseractOcr, RapidOcr, HybridOcr)}


def ocr_engine_for(settings: Settings) -> OcrEngine:
    """The ``ocr_engine`` resource ``settings.ocr.engine`` names."""
    return RESOURCES[settings.ocr_config().engine]()
