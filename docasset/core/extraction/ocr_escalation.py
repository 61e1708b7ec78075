"""Which documents the hybrid OCR engine re-reads, and :func:`make_engine`, the one place an
engine name becomes an engine.

The hybrid engine (``docasset.core.ocr.hybrid``) decides on pages by itself; whether a whole
document is hard is extraction's knowledge: a required field of the document type has no
rule/layout candidate in the Tesseract text (or only candidates weaker than
``EscalationConfig.min_field_strength``). :class:`MissingFields` is that predicate; the engine
receives it, so OCR imports nothing from the stages after it.
"""

from __future__ import annotations

from dataclasses import dataclass

from docasset.core.extraction.extract import field_candidates
from docasset.core.extraction.fields import DocType, load_doctype, normalize
from docasset.core.ocr.engine import Engine
from docasset.core.ocr.hybrid import EscalationConfig, HybridEngine, ReviewPredicate
from docasset.core.ocr.pdf_text import with_text_layer
from docasset.core.ocr.rapid import RapidConfig, RapidEngine
from docasset.core.ocr.tesseract import OcrConfig, TesseractEngine
from docasset.errors import OcrError


def field_strengths(doctype: DocType, text: str) -> dict[str, float]:
    """Required field -> strength of its best valid rule/layout candidate (0.0: none)."""
    out: dict[str, float] = {}
    for spec in doctype.fields:
        if not spec.required:
            continue
        cands = [
            c
            for c in field_candidates(spec, text)
            if spec.type == "text" or normalize(spec, c.text) is not None
        ]
        out[spec.name] = max((c.strength for c in cands), default=0.0)
    return out


def document_is_hard(doctype: DocType, text: str, config: EscalationConfig) -> bool:
    """Document evidence: a required field without a (strong enough) candidate."""
    if not config.on_missing_fields:
        return False
    return any(
        s <= 0.0 or s < config.min_field_strength for s in field_strengths(doctype, text).values()
    )


@dataclass(frozen=True)
class MissingFields:
    """The hybrid engine's document evidence for ``doctype``: :func:`document_is_hard`."""

    doctype: DocType
    config: EscalationConfig

    def __call__(self, text: str) -> bool:
        return document_is_hard(self.doctype, text, self.config)


def hybrid_engine(
    tesseract: TesseractEngine,
    rapid: RapidEngine,
    doctype: DocType,
    config: EscalationConfig,
    review: ReviewPredicate | None = None,
) -> HybridEngine:
    """The hybrid engine re-reading the documents of ``doctype`` that miss a required field."""
    return HybridEngine(tesseract, rapid, config, MissingFields(doctype, config), review)


def make_engine(
    name: str,
    ocr: OcrConfig,
    rapid: RapidConfig,
    escalation: EscalationConfig,
    doctype: DocType,
    review: ReviewPredicate | None = None,
) -> Engine:
    """The engine called ``name`` (``tesseract``, ``rapidocr`` or ``hybrid``), reading PDF
    text layers per ``ocr.text_layer`` (``docasset.core.ocr.pdf_text``)."""
    if name == "tesseract":
        return with_text_layer(TesseractEngine(ocr), ocr.text_layer)
    if name == "rapidocr":
        return with_text_layer(RapidEngine(rapid), ocr.text_layer)
    if name == "hybrid":
        hybrid = hybrid_engine(
            TesseractEngine(ocr), RapidEngine(rapid), doctype, escalation, review
        )
        return with_text_layer(hybrid, ocr.text_layer)
    raise OcrError(f"unknown OCR engine {name!r} (tesseract, rapidocr or hybrid)")


def default_engine(
    doctype: DocType | None = None, name: str | None = None, text_layer: str | None = None
) -> Engine:
    """The engine ``name`` (default: the ``OcrConfig.engine`` setting) with default settings;
    hybrid escalation checks ``doctype``'s required fields (default: the shipped receipt);
    ``text_layer`` overrides the ``OcrConfig.text_layer`` setting."""
    ocr = OcrConfig() if text_layer is None else OcrConfig(text_layer=text_layer)  # type: ignore[arg-type]
    return make_engine(
        name or ocr.engine,
        ocr,
        RapidConfig(),
        EscalationConfig(),
        doctype or load_doctype("receipt"),
    )
