"""Label Studio tasks out: boxes from OCR words, the values docasset shows, page images."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from PIL import Image

from docasset.core.extraction.fields import load_doctype
from docasset.core.extraction.routing import Blocker, DocPrediction, FieldPrediction
from docasset.core.intake.scans import IntakeLimits, inspect_file
from docasset.core.ocr.text import document_text, word_offsets
from docasset.core.validation.ls_tasks import (
    TaskPage,
    local_files_url,
    page_files,
    review_task,
)
from docasset.errors import LabelStudioError

RECEIPT = load_doctype("receipt")
DOC = "aaaa000000000001"


def _words() -> pl.DataFrame:
    rows = [  # two lines: "ACME SDN BHD" / "TOTAL 9.00", boxes in page pixels
        (1, 1, "ACME", 100, 50, 80, 20),
        (1, 2, "SDN", 190, 50, 50, 20),
        (1, 3, "BHD", 250, 52, 50, 20),
        (2, 1, "TOTAL", 100, 900, 90, 22),
        (2, 2, "9.00", 600, 898, 60, 24),
    ]
    return pl.DataFrame(
        [
            {
                "doc_id": DOC,
                "page": 0,
                "block": 1,
                "par": 1,
                "line": line,
                "word": w,
                "left": x,
                "top": y,
                "width": wd,
                "height": h,
                "conf": 90.0,
                "text": t,
            }
            for line, w, t, x, y, wd, h in rows
        ],
        schema_overrides={
            k: pl.Int32 for k in ("page", "block", "par", "line", "word", "left", "top")
        }
        | {"width": pl.Int32, "height": pl.Int32},
    )


def _pred(**fields: FieldPrediction) -> DocPrediction:
    none = FieldPrediction(None, 0, 0, "none", "none", 0.0)
    return DocPrediction(
        DOC,
        {s.name: fields.get(s.name, none) for s in RECEIPT.fields},
        "review",
        [Blocker("low_confidence", "total", "0.81 < 0.95")],
        "v0007",
        vendor_id="v123",
        vendor_key="tax_id:000111222333",
    )


def test_review_task_boxes_each_value_from_its_ocr_words_and_shows_docassets_value() -> None:
    words = _words()
    text = document_text(words, DOC)
    assert text == "ACME SDN BHD\nTOTAL 9.00"
    pred = _pred(
        # The value docasset shows differs from the raw span (a repaired legal form).
        company=FieldPrediction("ACME SDN. BHD.", 0, 12, "rule", "b", 0.55),
        total=FieldPrediction("9.00", 19, 23, "both", "b", 0.81),
        date=FieldPrediction("01/02/2024", 0, 0, "model", "b", 0.4),  # no span: not placed
    )
    page = TaskPage("/data/local-files/?d=archive/a.png", 1000, 2000)
    task = review_task(
        RECEIPT, pred, [page], word_offsets(words), "b1", field_status={"company": "accepted"}
    )
    data = task["data"]
    assert data["pages"] == [page.url] and data["doc_id"] == DOC
    assert data["docasset"]["accepted"] == {"company": "ACME SDN. BHD."}
    # The vendor the registry matched, and by which printed key, for the operator.
    assert data["docasset"]["vendor_key"] == "tax_id:000111222333"
    assert data["docasset"]["vendor_id"] == "v123"
    note = data["review_note"]
    assert "low confidence total" in note and "not asked: COMPANY" in note
    assert "not found on the page: DATE = 01/02/2024" in note and "v0007" in note
    assert "Vendor v123 (by tax_id:000111222333)." in note
    [p] = task["predictions"]
    assert p["model_version"] == "v0007" and p["score"] == 0.55
    by = {(r["id"], r["from_name"]): r for r in p["result"]}
    assert set(by) == {
        ("company", "accepted_field"),
        ("company", "value"),
        ("total", "field"),
        ("total", "value"),
    }
    # The accepted field: its own grey label, read-only (a click cannot change it).
    accepted = by[("company", "accepted_field")]
    assert accepted["value"]["rectanglelabels"] == ["COMPANY (accepted)"]
    assert accepted["readonly"] and by[("company", "value")]["readonly"]
    assert by[("company", "value")]["value"]["text"] == ["ACME SDN. BHD."]
    total = by[("total", "field")]
    assert total["value"]["rectanglelabels"] == ["TOTAL"] and not total.get("readonly")
    # Each box is scored with its own field's calibrated confidence.
    assert (total["score"], accepted["score"]) == (0.81, 0.55)
    # The data manager's columns.
    assert (data["thumbnail"], data["vendor"]) == (page.url, "ACME SDN. BHD.")
    assert (data["status"], data["rejection"]) == ("to check", "")
    assert data["reason"] == "low confidence total (0.81 < 0.95)"
    # "9.00": left 600, top 898, 60 x 24 px, plus 4 px padding, in percent of 1000 x 2000.
    assert {k: total["value"][k] for k in ("x", "y", "width", "height")} == {
        "x": 59.6,
        "y": 44.7,
        "width": 6.8,
        "height": 1.6,
    }
    assert (total["original_width"], total["original_height"], total["item_index"]) == (
        1000,
        2000,
        0,
    )
    company = accepted["value"]  # three words: their union
    assert (company["x"], company["width"]) == (9.6, 20.8)


def test_a_quality_warning_never_invites_dropping_a_readable_page() -> None:
    pred = _pred(total=FieldPrediction("9.00", 19, 23, "both", "b", 0.81))
    pred.blockers.insert(0, Blocker("bad_scan", None, "low_dpi"))
    task = review_task(RECEIPT, pred, [TaskPage("/u", 1000, 2000)], word_offsets(_words()), "b1")
    note = task["data"]["review_note"]
    assert "bad scan (low_dpi)" not in note
    assert "image quality warning (low_dpi): if you can read it, annotate as usual" in note


def test_review_task_without_values_has_no_prediction() -> None:
    task = review_task(RECEIPT, _pred(), [TaskPage("/u", 10, 10)], word_offsets(_words()), "b1")
    assert task["predictions"] == [] and "Model v0007" in task["data"]["review_note"]


def test_local_files_urls_are_relative_to_the_document_root(tmp_path: Path) -> None:
    f = tmp_path / "archive" / "a b.png"
    f.parent.mkdir()
    f.touch()
    assert local_files_url(f, tmp_path) == "/data/local-files/?d=archive/a%20b.png"
    with pytest.raises(LabelStudioError, match="document_root"):
        local_files_url(f, tmp_path / "elsewhere")


def test_pages_a_browser_cannot_show_are_rendered_once(tmp_path: Path) -> None:
    png = tmp_path / "one.png"
    Image.new("L", (300, 400), 255).save(png)
    tif = tmp_path / "two.tif"
    first, second = Image.new("L", (300, 400), 255), Image.new("L", (300, 400), 0)
    first.save(tif, save_all=True, append_images=[second])
    assert page_files(inspect_file(png), tmp_path / "pages", IntakeLimits()) == [png]
    scan = inspect_file(tif)
    files = page_files(scan, tmp_path / "pages", IntakeLimits())
    assert [f.name for f in files] == [f"{scan.doc_id}-p0.png", f"{scan.doc_id}-p1.png"]
    assert [Image.open(f).getpixel((5, 5)) for f in files] == [255, 0]
    stamps = [f.stat().st_mtime_ns for f in files]
    page_files(scan, tmp_path / "pages", IntakeLimits())
    assert [f.stat().st_mtime_ns for f in files] == stamps  # not rendered again


def test_multi_page_pdf_task_boxes_each_value_on_its_page(tmp_path: Path) -> None:
    from docasset.core.ocr.pdf_text import TextLayerEngine
    from docasset.core.ocr.tesseract import OcrConfig, TesseractEngine
    from docasset.core.validation.ls_tasks import page_files as files_of
    from tests.core.ocr.pdfs import Page, Text, write_pdf

    ad = load_doctype("ad_order")
    pdf = write_pdf(
        tmp_path / "order.pdf",
        [
            Page(texts=[Text(72, 700, "Contract # 554532 Advertiser: Bernie 2020 (33267)")]),
            Page(texts=[Text(72, 300, "Gross Total $39,600.00 Net 33,660.00 end of order")]),
        ],
    )
    limits = IntakeLimits()
    scan = inspect_file(pdf, limits)
    words = TextLayerEngine(TesseractEngine(OcrConfig()), "auto").read_document(scan, limits, None)
    text = document_text(words, scan.doc_id)
    s = text.index("39,600.00")
    none = FieldPrediction(None, 0, 0, "none", "none", 0.0)
    pred = DocPrediction(
        scan.doc_id,
        {f.name: none for f in ad.fields}
        | {"gross_amount": FieldPrediction("39,600.00", s, s + 9, "both", "b", 0.7)},
        "review",
        [Blocker("low_confidence", "gross_amount", "0.70 < 0.95")],
        "v1",
    )
    shown = [
        TaskPage(f"/u/{f.name}", p.width, p.height)
        for f, p in zip(files_of(scan, tmp_path / "pages", limits), scan.pages, strict=True)
    ]
    task = review_task(ad, pred, shown, word_offsets(words), "b1")
    assert task["data"]["pages"] == [f"/u/{scan.doc_id}-p0.png", f"/u/{scan.doc_id}-p1.png"]
    [box] = [r for r in task["predictions"][0]["result"] if r["from_name"] == "field"]
    assert box["item_index"] == 1 and box["value"]["rectanglelabels"] == ["GROSS_AMOUNT"]
    # 300 pt up a 792 pt page: about 62 % down the second page.
    assert 55 < box["value"]["y"] < 65


def test_an_ad_order_task_shows_its_station_and_the_advertisers_canonical_name() -> None:
    ad = load_doctype("ad_order")
    none = FieldPrediction(None, 0, 0, "none", "none", 0.0)
    pred = DocPrediction(
        DOC,
        {f.name: none for f in ad.fields}
        | {"advertiser": FieldPrediction("MIKE BLOOMBERG 2020, INC", 0, 0, "model", "b", 0.8)},
        "review",
        [],
        "v1",
        header_vendor="KCNC-TV",
        customers={"advertiser": "Mike Bloomberg 2020"},
    )
    data = review_task(ad, pred, [TaskPage("/u", 10, 10)], word_offsets(_words()), "b1")["data"]
    assert data["vendor"] == "KCNC-TV"  # the data manager's column: the station, not the advertiser
    assert data["docasset"]["header_vendor"] == "KCNC-TV"
    assert data["docasset"]["customer_canonical"] == {"advertiser": "Mike Bloomberg 2020"}
    receipt = review_task(RECEIPT, _pred(), [TaskPage("/u", 10, 10)], word_offsets(_words()), "b1")
    assert receipt["data"]["docasset"]["header_vendor"] is None
