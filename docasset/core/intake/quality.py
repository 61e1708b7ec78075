"""Scan-quality verdicts: which pages are bad scans, and why (thresholds come from settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from docasset.core.intake.scans import PageQuality, effective_dpi
from docasset.core.tunable import tunable


@dataclass(frozen=True)
class QualityThresholds:
    """Production guidance: below 150 DPI is a bad scan, 300 is preferred."""

    ORDERED: ClassVar = (
        ("ocr_failure_warn_share", "ocr_failure_error_share"),
    )  # each (a, b): a <= b (checked at load)

    min_dpi: float = tunable(150.0, "Below this effective DPI a scan is bad (300 preferred).", ge=0)
    min_blur: float = tunable(20.0, "Variance of the Laplacian below this is a blurred scan.", ge=0)
    min_contrast: float = tunable(0.08, "Grey-level contrast below this is unreadable.", ge=0, le=1)
    min_ocr_confidence: float = tunable(
        40.0, "Mean word confidence below this is unreadable.", ge=0, le=100
    )
    # The text-height estimate assumes ~10 pt body text; receipts print smaller, so an estimated
    # DPI (no or contradicted metadata) counts as low only below min_dpi / this factor.
    estimate_tolerance: float = tunable(
        1.5,
        "An estimated DPI (no or contradicted resolution tag) counts as low only below "
        "min_dpi / this factor (the estimate assumes 10 pt text; receipts print smaller).",
        ge=1,
    )
    max_bad_scan_share: float = tunable(
        0.5,
        "scan_quality gate fails above this share of bad files in a batch.",
        ge=0,
        le=1,
    )
    ocr_failure_warn_share: float = tunable(
        0.0,
        "ocr_failures warns above this share of a batch's documents failing OCR.",
        ge=0,
        le=1,
    )
    ocr_failure_error_share: float = tunable(
        0.2,
        "ocr_failures is an error above this share of a batch's documents failing OCR.",
        ge=0,
        le=1,
    )


def page_problems(q: PageQuality, t: QualityThresholds) -> list[str]:
    """Reason codes that make a page a bad scan (empty list: usable)."""
    if q.blank:
        return ["blank"]
    reasons = []
    dpi = effective_dpi(q.dpi, q)
    estimated = dpi is not None and dpi != q.dpi
    if dpi is not None and dpi * (t.estimate_tolerance if estimated else 1.0) < t.min_dpi:
        reasons.append("low_dpi")
    if q.blur < t.min_blur:
        reasons.append("blurred")
    if q.contrast < t.min_contrast:
        reasons.append("low_contrast")
    return reasons


def ocr_problems(mean_conf: float | None, n_words: int, t: QualityThresholds) -> list[str]:
    """Reason codes from the OCR result of a page/document."""
    if n_words == 0:
        return ["no_text"]
    if mean_conf is not None and mean_conf < t.min_ocr_confidence:
        return ["unreadable"]
    return []


def failure_severity(failed: int, documents: int, t: QualityThresholds) -> str | None:
    """``"error"``/``"warn"`` when the share of documents a stage failed on is above the
    thresholds, else None (also when there was no document: nothing to judge)."""
    if documents <= 0:
        return None
    share = failed / documents
    if share > t.ocr_failure_error_share:
        return "error"
    if share > t.ocr_failure_warn_share:
        return "warn"
    return None
