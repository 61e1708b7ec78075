"""OCR on generated pages with the real Tesseract (no mocks), and text assembly from words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandera.errors
import polars as pl
import pytesseract
import pytest
from PIL import Image, ImageDraw, ImageFont

from docasset.core.intake.scans import IntakeLimits, inspect_file, iter_pages, page_quality
from docasset.core.ocr.engine import ocr_documents
from docasset.core.ocr.tesseract import (
    OcrConfig,
    TesseractEngine,
    map_boxes_back,
    ocr_page,
    prepare_page,
)
from docasset.core.ocr.text import document_lines, document_text, word_offsets
from docasset.core.ocr.words import WORDS_SCHEMA, empty_words, validate_words
from docasset.errors import DocumentError, OcrError, ScanError

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LINES = [
    "INVOICE 2024-0117 from Acme Supplies Ltd",
    "Delivery address: 12 Harbour Road, Leith",
    "Total amount due 1,234.56 before March",
]
PLAIN = OcrConfig(upscale_below_dpi=0, deskew=False, osd=False)  # no preprocessing at all


def text_page(dpi: int = 200, pt: float = 11, lines: list[str] = LINES) -> Image.Image:
    """A 5x2.5 inch white page with ``lines`` at ``pt`` points as scanned at ``dpi``."""
    img = Image.new("L", (5 * dpi, dpi * 5 // 2), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, round(pt / 72 * dpi))
    for i, line in enumerate(lines):
        draw.text((dpi // 3, dpi // 3 + round(i * pt / 72 * dpi * 1.6)), line, font=font, fill=0)
    return img


def centres(words: pl.DataFrame) -> dict[str, tuple[float, float]]:
    """Centre of each word that occurs once."""
    unique = words.filter(pl.col("text").is_unique())
    return {
        r["text"]: (r["left"] + r["width"] / 2, r["top"] + r["height"] / 2)
        for r in unique.iter_rows(named=True)
    }


def assert_same_boxes(a: pl.DataFrame, b: pl.DataFrame, tol: float) -> None:
    ca, cb = centres(a), centres(b)
    common = ca.keys() & cb.keys()
    assert len(common) >= 8, (ca, cb)
    for word in common:
        assert np.allclose(ca[word], cb[word], atol=tol), (word, ca[word], cb[word])


def test_ocr_page_reads_words_into_the_schema() -> None:
    img = text_page(200)
    words = ocr_page(img, doc_id="doc", page=3, dpi=200, config=PLAIN)
    WORDS_SCHEMA.validate(words)
    assert words["page"].unique().to_list() == [3]
    assert {"INVOICE", "Acme", "1,234.56", "Harbour"} <= set(words["text"])
    assert (words["left"] + words["width"] <= img.width).all()
    assert words["conf"].min() >= 0 and words["conf"].max() <= 100
    assert words["engine"].unique().to_list() == ["tesseract"]


def test_one_image_to_data_call_per_page(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = pytesseract.image_to_data

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(kwargs.get("config"))
        return real(*args, **kwargs)

    monkeypatch.setattr(pytesseract, "image_to_data", counting)
    ocr_page(text_page(100), doc_id="d", page=0, dpi=100, config=OcrConfig(osd=True))
    assert len(calls) == 1 and "--psm" in str(calls[0])


def test_boxes_are_in_original_coordinates_after_upscaling() -> None:
    img = text_page(100, pt=12)  # 100 DPI: upscaled 3x for OCR
    config = OcrConfig(upscale_below_dpi=250, deskew=False)
    prepared, scale, angle = prepare_page(img, 100, None, config)
    assert scale == pytest.approx(3.0, rel=0.01) and angle == 0
    assert prepared.width == pytest.approx(3 * img.width, abs=1)
    up = ocr_page(img, doc_id="d", page=0, dpi=100, config=config)
    reference = ocr_page(
        img.resize(prepared.size, Image.Resampling.LANCZOS),
        doc_id="d",
        page=0,
        dpi=300,
        config=PLAIN,
    )
    scaled_back = reference.with_columns(
        (pl.col(c).cast(pl.Float64) / scale) for c in ("left", "top", "width", "height")
    )
    assert_same_boxes(up, scaled_back, tol=2.0)
    assert up["left"].max() < img.width and up["top"].max() < img.height


def test_boxes_are_in_original_coordinates_after_upscale_and_deskew() -> None:
    skewed = text_page(200).rotate(2.5, Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    quality = page_quality(skewed, 200)
    config = OcrConfig(upscale_below_dpi=250, deskew=True)
    _, scale, angle = prepare_page(skewed, 200, quality, config)
    assert angle == pytest.approx(-2.5, abs=0.5) and scale == pytest.approx(1.5)  # 200 -> 300
    fixed = ocr_page(skewed, doc_id="d", page=0, dpi=200, config=config, quality=quality)
    plain = ocr_page(skewed, doc_id="d", page=0, dpi=200, config=PLAIN)
    assert_same_boxes(fixed, plain, tol=4.0)


def test_osd_turns_a_sideways_page_upright_and_maps_boxes_back() -> None:
    sideways = text_page(200, lines=LINES * 3).rotate(90, expand=True)
    words = ocr_page(sideways, doc_id="d", page=0, dpi=200, config=OcrConfig(osd=True))
    assert {"INVOICE", "Acme", "Harbour"} <= set(words["text"])
    tall = words.filter(pl.col("text").str.len_chars() >= 5)
    assert (tall["height"] > tall["width"]).all()  # boxes are on the sideways page
    assert words["top"].max() < sideways.height and words["left"].max() < sideways.width


def test_blank_page_gives_empty_frame_even_with_osd() -> None:
    words = ocr_page(
        Image.new("L", (600, 400), 255), doc_id="d", page=0, dpi=200, config=OcrConfig(osd=True)
    )
    assert words.is_empty() and words.schema == empty_words().schema


def test_missing_tesseract_raises_ocr_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    with pytest.raises(OcrError, match="doc-x page 2"):
        ocr_page(text_page(100), doc_id="doc-x", page=2, dpi=100, config=PLAIN)


def test_timeout_raises_ocr_error() -> None:
    config = OcrConfig(upscale_below_dpi=0, deskew=False, timeout_s=0.001)
    with pytest.raises(OcrError, match="timed out"):
        ocr_page(text_page(200), doc_id="d", page=0, dpi=200, config=config)


def test_map_boxes_back_inverts_scale_and_rotation() -> None:
    # A point at offset (dx, dy) from the centre of the original goes, after scaling by s and a
    # CCW turn by a, to s*R(a)(dx, dy) from the prepared centre; map_boxes_back undoes that.
    s, a = 2.0, np.radians(30.0)
    orig, prep = (400, 300), (900, 800)
    dx, dy = 50.0, -20.0
    px = prep[0] / 2 + s * (dx * np.cos(a) + dy * np.sin(a))
    py = prep[1] / 2 + s * (-dx * np.sin(a) + dy * np.cos(a))
    (box,) = map_boxes_back(np.array([[px, py, 0, 0]]), prep, orig, s, 30.0)
    assert np.allclose(box[:2], (orig[0] / 2 + dx, orig[1] / 2 + dy), atol=1)


# --- schema and text assembly ---------------------------------------------------------------------


def words_frame(rows: list[tuple]) -> pl.DataFrame:
    cols = ["doc_id", "page", "block", "par", "line", "word", "text"]
    df = pl.DataFrame(rows, schema=cols, orient="row")
    n = len(rows)
    return validate_words(
        df.with_columns(
            left=pl.int_range(n) * 10, top=pl.col("line") * 20, width=pl.lit(8), height=pl.lit(12)
        )
        .with_columns(conf=pl.lit(90.0), engine=pl.lit("tesseract"))
        .cast({c: pl.Int32 for c in [*cols[1:6], "left", "top", "width", "height"]})
        .select(list(WORDS_SCHEMA.columns))
    )


def test_validate_words_rejects_bad_rows() -> None:
    good = words_frame([("a", 0, 1, 1, 1, 1, "x")])
    for bad in (
        good.with_columns(conf=pl.lit(101.0)),
        good.with_columns(text=pl.lit("")),
        good.with_columns(text=pl.lit("two words")),
        good.with_columns(page=pl.col("page").cast(pl.Int64)),
        good.with_columns(extra=pl.lit(1)),
        good.with_columns(engine=pl.lit("abbyy")),
    ):
        with pytest.raises((pandera.errors.SchemaError, pandera.errors.SchemaErrors)):
            validate_words(bad)


def test_lines_text_and_offsets_agree() -> None:
    words = words_frame(
        [  # deliberately shuffled; two documents, two pages
            ("b", 0, 1, 1, 1, 1, "other"),
            ("a", 1, 1, 1, 1, 2, "page"),
            ("a", 0, 1, 1, 2, 1, "Second"),
            ("a", 0, 1, 1, 1, 2, "löwe"),
            ("a", 0, 1, 1, 1, 1, "Hello"),
            ("a", 1, 1, 1, 1, 1, "Next"),
            ("a", 0, 2, 1, 1, 1, "block"),
        ]
    )
    text = document_text(words, "a")
    assert text == "Hello löwe\nSecond\nblock\n\nNext page"
    assert document_text(words, "b") == "other" and document_text(words, "zzz") == ""
    lines = document_lines(words)
    assert lines.columns == [
        "doc_id",
        "page",
        "line_no",
        "text",
        "left",
        "top",
        "right",
        "bottom",
        "conf",
    ]
    a = lines.filter(pl.col("doc_id") == "a")
    assert a["line_no"].to_list() == [0, 1, 2, 3]
    assert "\n".join(a.filter(pl.col("page") == 0)["text"]) == text.split("\n\n")[0]
    assert_offsets_agree(words)


def assert_offsets_agree(words: pl.DataFrame) -> None:
    offsets = word_offsets(words)
    assert offsets.height == words.height
    lines = document_lines(words)
    for doc_id in words["doc_id"].unique().to_list():
        text = document_text(words, doc_id)
        mine = offsets.filter(pl.col("doc_id") == doc_id)
        for row in mine.iter_rows(named=True):
            assert text[row["start"] : row["end"]] == row["text"]
        doc_lines = lines.filter(pl.col("doc_id") == doc_id)
        for line_no, group in mine.group_by("line_no"):
            line_text = doc_lines.filter(pl.col("line_no") == line_no[0])["text"].item()
            start, end = group["start"].min(), group["end"].max()
            assert text[start:end] == line_text


def test_empty_words_assemble_to_empty_outputs() -> None:
    assert document_text(empty_words(), "a") == ""
    assert document_lines(empty_words()).is_empty()
    assert word_offsets(empty_words()).columns[-3:] == ["line_no", "start", "end"]


# --- documents in parallel ------------------------------------------------------------------------


def test_ocr_documents_parallel_with_one_failure(tmp_path: Path) -> None:
    scans = []
    for i in range(4):
        lines = [f"Document number {i} of the batch", *LINES[i % 3 :]]
        pdf = tmp_path / f"doc{i}.pdf"
        pages = [text_page(100, lines=lines), text_page(100, lines=[f"Appendix page for {i}"])]
        pages[0].save(pdf, format="PDF", resolution=100, save_all=True, append_images=pages[1:])
        scans.append((f"key{i}", inspect_file(pdf, IntakeLimits(pdf_dpi=200))))
    (tmp_path / "doc2.pdf").write_bytes(b"")  # breaks after intake: fails at OCR time
    results = list(
        ocr_documents(iter(scans), TesseractEngine(), limits=IntakeLimits(pdf_dpi=200), workers=2)
    )
    assert [key for key, _ in results] == ["key0", "key1", "key2", "key3"]
    assert isinstance(results[2][1], ScanError)
    for (key, words), (_, scan) in zip(results, scans, strict=True):
        if key == "key2":
            continue
        assert isinstance(words, pl.DataFrame)
        validate_words(words)
        text = document_text(words, scan.doc_id)
        assert f"number {key[-1]}" in text and "\n\nAppendix page for" in text
        assert words["page"].unique().sort().to_list() == [0, 1]
        assert_offsets_agree(words)


def test_ocr_documents_can_stop_early(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = pytesseract.image_to_data
    monkeypatch.setattr(
        pytesseract, "image_to_data", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    path = tmp_path / "one.png"
    text_page(100).save(path)
    scan = inspect_file(path)
    stream = ocr_documents(((f"k{i}", scan) for i in range(50)), TesseractEngine(PLAIN), workers=2)
    assert next(stream)[0] == "k0"
    stream.close()  # queued documents are dropped, running ones finish
    assert len(calls) <= 4  # at most 2 * workers submitted, never all 50


def test_a_group4_fax_tiff_is_read(tmp_path: Path) -> None:
    """Issue 11: the grayscale page kept ``compression="group4"`` and the TIFF hand-off to
    Tesseract failed with ``OSError: encoder error -2``."""
    path = tmp_path / "fax.tif"
    text_page(200).convert("1").save(path, format="TIFF", compression="group4", dpi=(200, 200))
    scan = inspect_file(path)
    ((_, page),) = list(iter_pages(scan))
    assert page.mode == "L" and "compression" not in page.info
    words = TesseractEngine(PLAIN).read_document(scan, IntakeLimits(), None)
    assert {"INVOICE", "Harbour"} <= set(words["text"])


def test_an_unexpected_exception_on_one_document_is_its_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docasset.core.ocr.tesseract as tess

    scans = []
    for i in range(3):
        path = tmp_path / f"d{i}.png"
        text_page(100, lines=[f"Document {i} of three"]).resize((500 + i, 250)).save(path)
        scans.append((f"k{i}", inspect_file(path)))
    real = tess.prepare_page

    def fails_on_one(img, dpi, quality, config):  # type: ignore[no-untyped-def]
        if img.width == 501:
            raise KeyError("an odd page only this document has")
        return real(img, dpi, quality, config)

    monkeypatch.setattr(tess, "prepare_page", fails_on_one)
    out = dict(ocr_documents(scans, TesseractEngine(PLAIN), workers=2))
    assert isinstance(out["k1"], DocumentError) and "KeyError" in out["k1"].cause
    assert isinstance(out["k0"], pl.DataFrame) and isinstance(out["k2"], pl.DataFrame)
    assert "three" in set(out["k2"]["text"])


def test_an_infrastructure_error_is_not_a_document_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import docasset.core.ocr.tesseract as tess

    path = tmp_path / "d.png"
    text_page(100).save(path)

    def disk_full(img, dpi, quality, config):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tess, "prepare_page", disk_full)
    with pytest.raises(OSError, match="No space left"):
        list(ocr_documents([("k", inspect_file(path))], TesseractEngine(PLAIN), workers=1))
