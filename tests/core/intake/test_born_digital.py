"""raw_scans renders only pages that are scans: a born-digital PDF page (visible text, no
page-sized image) keeps null quality measures and is never rasterised for them."""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
import pytest

from docasset.core.intake.inbox import claim_now
from docasset.core.intake.quality import QualityThresholds
from docasset.core.intake.scan_table import page_qualities, scan_rows
from docasset.core.intake.scans import IntakeLimits, PageQuality, born_digital_pages, inspect_file
from docasset.core.workdir import Workdir
from tests.core.ocr.pdfs import LINES, Page, Text, line_y, text_image, write_pdf


def _pdf(path: Path) -> Path:
    printed = Page([Text(50, line_y(i), line) for i, line in enumerate(LINES)])
    # A scan with a scanner's invisible OCR layer, and a scan without any text.
    layered = Page(
        [Text(58, line_y(i), line, invisible=True) for i, line in enumerate(LINES)],
        image=text_image(LINES),
    )
    return write_pdf(path, [printed, layered, Page(image=text_image(LINES))])


def test_only_pages_printing_visible_text_without_a_page_image_are_born_digital(
    tmp_path: Path,
) -> None:
    scan = inspect_file(_pdf(tmp_path / "order.pdf"))
    assert born_digital_pages(scan) == frozenset({0})


def test_raw_scans_renders_and_measures_the_scanned_pages_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wd = Workdir(tmp_path / "work")
    _pdf(wd.inbox / "order.pdf")
    [claimed] = claim_now(wd)
    rendered: list[float] = []
    real = pdfium.PdfPage.render

    def render(self: pdfium.PdfPage, *args: object, **kw: object) -> object:
        rendered.append(float(kw.get("scale", 1.0)))  # type: ignore[arg-type]
        return real(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(pdfium.PdfPage, "render", render)
    df = scan_rows(wd, claimed.batch_id, IntakeLimits(), QualityThresholds())
    assert len(rendered) == 2  # the two scanned pages, once each
    rows = df.sort("page").to_dicts()
    assert [r["born_digital"] for r in rows] == [True, False, False]
    assert rows[0]["blur"] is None and rows[0]["problems"] == [] and rows[0]["dpi"] == 300.0
    assert rows[1]["blur"] is not None and rows[2]["contrast"] is not None
    [quals] = page_qualities(df).values()
    assert quals[0] is None and all(isinstance(q, PageQuality) for q in quals[1:])
