from __future__ import annotations

from docasset.core.intake.quality import QualityThresholds, ocr_problems, page_problems
from docasset.core.intake.scans import PageQuality

T = QualityThresholds()


def _q(
    dpi: float | None,
    est: float | None,
    blur: float = 500.0,
    contrast: float = 0.6,
    blank: bool = False,
) -> PageQuality:
    return PageQuality(dpi, est, blur, contrast, 0.0, 0.05, 30, blank)


def test_dpi_from_metadata_and_from_text_height() -> None:
    assert page_problems(_q(300, 280), T) == []
    assert page_problems(_q(100, 110), T) == ["low_dpi"]  # metadata agrees: really 100 DPI
    assert page_problems(_q(300, 90), T) == ["low_dpi"]  # metadata lies: the text says ~90
    assert page_problems(_q(None, 110), T) == []  # estimate, small receipt print tolerated
    assert page_problems(_q(None, 80), T) == ["low_dpi"]


def test_blank_blurred_and_flat_pages() -> None:
    assert page_problems(_q(300, None, blank=True), T) == ["blank"]
    assert page_problems(_q(300, 300, blur=5.0), T) == ["blurred"]
    assert page_problems(_q(300, 300, contrast=0.02), T) == ["low_contrast"]


def test_ocr_evidence() -> None:
    assert ocr_problems(None, 0, T) == ["no_text"]
    assert ocr_problems(25.0, 40, T) == ["unreadable"]
    assert ocr_problems(88.0, 40, T) == []
