"""Text layer first, OCR where needed: read born-digital PDF pages from the text they hold.

Most business PDFs are born digital: their pages carry the text as glyphs, with positions.
Reading them is about two orders of magnitude cheaper than rendering and OCR, and exact.
:class:`TextLayerEngine` wraps any OCR engine and decides per page (:func:`decide_page`):

- ``pdf-text`` when the page's text layer is usable: enough characters, few garbage ones
  (unmapped glyphs, private-use code points), covering the page's ink (the share of dark
  pixels of a cheap 50-DPI render that lie under a glyph box), and, for a layer drawn
  invisible (a scanner's OCR layer over the page image), agreeing with a sample OCR of its
  longest lines;
- OCR with the wrapped engine otherwise, the reason recorded.

Words come from PDFium's character boxes, mapped to the pixels of the page as
:func:`~docasset.core.intake.scans.iter_pages` renders it, grouped into visual rows: the same
validated word table as OCR (engine ``pdf-text``, confidence 100). Every page of the wrapper's
output carries its ``page_reason`` (:data:`REASONS`); :func:`page_reasons` counts them.
"""

from __future__ import annotations

import ctypes
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import polars as pl
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image
from rapidfuzz import fuzz

from docasset.core.intake.scans import (
    IntakeLimits,
    PageQuality,
    ScanFile,
    locked_pdf_pages,
    pdf_page_dpi,
    to_gray,
)
from docasset.core.ocr.engine import Engine, PageEngine
from docasset.core.ocr.words import WORD_DTYPES, empty_words, validate_words
from docasset.core.tunable import tunable

PDF_TEXT = "pdf-text"
TextLayerMode = Literal["never", "auto", "always"]
TEXT_LAYER_MODES: tuple[str, ...] = ("never", "auto", "always")
# Why a page was read the way it was (the word table's page_reason).
TEXT_LAYER = "text_layer"  # read from its usable text layer
NOT_PDF = "not_pdf"  # an image file: OCR
MODE_NEVER = "mode_never"  # text_layer: never
NO_TEXT_LAYER = "no_text_layer"  # too few characters (a scan, or a blank page)
GARBLED = "garbled_text_layer"  # too many unmapped / private-use glyphs
LOW_COVERAGE = "low_coverage"  # much ink without text under it (an image of text)
DISAGREES = "text_layer_disagrees"  # an invisible layer a sample OCR contradicts
REASONS: tuple[str, ...] = (
    TEXT_LAYER,
    NOT_PDF,
    MODE_NEVER,
    NO_TEXT_LAYER,
    GARBLED,
    LOW_COVERAGE,
    DISAGREES,
)
_INK_DPI = 50.0
_SAMPLE_DPI = 200.0
_INVISIBLE = 3  # PDF text render mode 3: neither fill nor stroke


@dataclass(frozen=True)
class TextLayerConfig:
    """When a PDF page is read from its text layer instead of OCR'd.

    Defaults chosen on the first 100 documents of ``../shared/vrdu-dev`` (sorted by id, 248
    pages): born-digital pages had an ink coverage of 0.39 or more (table rules removed), the
    one scan without a layer 0; invisible OCR layers were confirmed 0.74-0.98 by the sample,
    except one garbled layer ("The piltes tr&d tor fie strldard...") at 0.48."""

    min_chars: int = tunable(
        30, "A text layer needs at least this many non-space characters.", ge=1
    )
    max_garbage: float = tunable(
        0.1, "Largest share of unmapped or private-use glyphs a usable text layer has.", ge=0, le=1
    )
    min_coverage: float = tunable(
        0.25,
        "Smallest share of the page's ink (dark pixels at 50 DPI) under glyph boxes; below, "
        "the page shows text the layer lacks (checked in mode auto only).",
        ge=0,
        le=1,
    )
    min_agreement: float = tunable(
        0.65,
        "An invisible text layer (a scanner's OCR) must be confirmed this much (0-1, "
        "length-weighted partial alignment) by a sample OCR of its longest lines (auto only).",
        ge=0,
        le=1,
    )
    sample_lines: int = tunable(3, "Lines of an invisible text layer re-read to check it.", ge=1)


@dataclass(frozen=True)
class PageDecision:
    """How one page is read: ``source`` ``pdf-text`` or ``ocr``, and why."""

    page: int
    source: str
    reason: str
    n_chars: int = 0
    garbage: float | None = None
    coverage: float | None = None
    agreement: float | None = None


@dataclass(frozen=True)
class _Glyph:
    ch: str
    box: tuple[float, float, float, float]  # left, top, right, bottom in page pixels


def _is_garbage(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return ch in "\ufffd\x00" or cat in ("Co", "Cs", "Cn") or (cat == "Cc" and not ch.isspace())


def _to_pixels(page: pdfium.PdfPage, width: int, height: int) -> np.ndarray:
    """The affine map from page points to the pixels of the page rendered at
    ``width x height`` (rotation and crop box included): a 2x3 matrix."""
    out = []
    for px, py in ((0.0, 0.0), (1000.0, 0.0), (0.0, 1000.0)):
        dx, dy = ctypes.c_int(), ctypes.c_int()
        pdfium_c.FPDF_PageToDevice(page.raw, 0, 0, width, height, 0, px, py, dx, dy)
        out.append((dx.value, dy.value))
    (x0, y0), (x1, y1), (x2, y2) = out
    return np.array(
        [[(x1 - x0) / 1000, (x2 - x0) / 1000, x0], [(y1 - y0) / 1000, (y2 - y0) / 1000, y0]]
    )


def _glyphs(textpage: pdfium.PdfTextPage, matrix: np.ndarray) -> list[_Glyph]:
    """Every character of the text layer with its box in page pixels (spaces included)."""
    n = textpage.count_chars()
    out: list[_Glyph] = []
    rect = pdfium_c.FS_RECTF()
    raw = textpage.raw
    for i in range(n):
        code = pdfium_c.FPDFText_GetUnicode(raw, i)
        ch = chr(code) if 0 <= code < 0x110000 else "\ufffd"
        # The loose box spans the font's ascent to descent and the glyph's advance: every
        # glyph of a line gets the same height, and neighbours touch.
        if not pdfium_c.FPDFText_GetLooseCharBox(raw, i, rect):
            continue
        corners = np.array(
            [[rect.left, rect.right], [rect.bottom, rect.top], [1.0, 1.0]]
        )  # two corners as columns
        xs, ys = matrix @ corners
        out.append(_Glyph(ch, (min(xs), min(ys), max(xs), max(ys))))
    return out


def _words(glyphs: list[_Glyph]) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Glyphs to words: a break at whitespace, and where the next glyph jumps back, leaves
    the line, or starts farther right than 0.15 of the line height (an unencoded space)."""
    words: list[tuple[str, tuple[float, float, float, float]]] = []
    chars: list[str] = []
    box: list[float] = []

    def flush() -> None:
        text = unicodedata.normalize("NFKC", "".join(chars))
        text = "".join(text.split())
        if text:
            words.append((text, (box[0], box[1], box[2], box[3])))
        chars.clear()
        box.clear()

    for g in glyphs:
        if g.ch.isspace() or g.ch == "\x00":
            flush()
            continue
        if box:
            h = max(box[3] - box[1], g.box[3] - g.box[1], 1.0)
            cy = (g.box[1] + g.box[3]) / 2
            if (
                g.box[0] - box[2] > h * 0.15
                or g.box[0] < box[0] - h / 3
                or not box[1] <= cy <= box[3]
            ):
                flush()
        chars.append(g.ch)
        if box:
            box[:] = [
                min(box[0], g.box[0]),
                min(box[1], g.box[1]),
                max(box[2], g.box[2]),
                max(box[3], g.box[3]),
            ]
        else:
            box.extend(g.box)
    flush()
    return words


def _rows(
    words: list[tuple[str, tuple[float, float, float, float]]],
) -> list[list[tuple[str, tuple[float, float, float, float]]]]:
    """Words into visual rows (top to bottom, each left to right): a word joins the current
    row when its vertical centre lies within the row's first word's extent."""
    rows: list[list[tuple[str, tuple[float, float, float, float]]]] = []
    for w in sorted(words, key=lambda w: ((w[1][1] + w[1][3]) / 2, w[1][0])):
        cy = (w[1][1] + w[1][3]) / 2
        if rows and rows[-1][0][1][1] <= cy <= rows[-1][0][1][3]:
            rows[-1].append(w)
        else:
            rows.append([w])
    return [sorted(r, key=lambda w: w[1][0]) for r in rows]


def words_frame(
    rows: list[list[tuple[str, tuple[float, float, float, float]]]],
    *,
    doc_id: str,
    page: int,
    width: int,
    height: int,
) -> pl.DataFrame:
    """Rows of words as the validated word table (engine ``pdf-text``, confidence 100)."""
    recs: dict[str, list[Any]] = {k: [] for k in WORD_DTYPES}
    for li, row in enumerate(rows, start=1):
        for wi, (text, (x0, y0, x1, y1)) in enumerate(row, start=1):
            left = int(min(max(x0, 0), width))
            top = int(min(max(y0, 0), height))
            recs["doc_id"].append(doc_id)
            recs["page"].append(page)
            recs["block"].append(1)
            recs["par"].append(1)
            recs["line"].append(li)
            recs["word"].append(wi)
            recs["left"].append(left)
            recs["top"].append(top)
            recs["width"].append(max(int(min(x1, width)) - left, 0))
            recs["height"].append(max(int(min(y1, height)) - top, 0))
            recs["conf"].append(100.0)
            recs["text"].append(text)
            recs["engine"].append(PDF_TEXT)
    if not recs["doc_id"]:
        return empty_words()
    return validate_words(pl.DataFrame(recs, schema=WORD_DTYPES))


def _runs(mask: np.ndarray, length: int) -> np.ndarray:
    """Pixels of ``mask`` inside a horizontal run of at least ``length`` set pixels."""
    if mask.shape[1] < length:
        return np.zeros_like(mask)
    c = np.concatenate([np.zeros((mask.shape[0], 1), np.int32), mask.cumsum(1, dtype=np.int32)], 1)
    full = (c[:, length:] - c[:, :-length]) == length  # window starting at x is all ink
    out = np.zeros_like(mask)
    for k in range(length):  # spread each full window over its pixels
        out[:, k : k + full.shape[1]] |= full
    return out


def _without_rules(ink: np.ndarray) -> np.ndarray:
    """Ink without table rules and boxes: horizontal and vertical runs longer than half an
    inch are drawing, not glyphs (text at 50 DPI never runs that long unbroken)."""
    n = int(_INK_DPI / 2)
    return ink & ~_runs(ink, n) & ~_runs(ink.T, n).T


def ink_coverage(
    page: pdfium.PdfPage, glyph_boxes: Sequence[tuple[float, float, float, float]], scale: float
) -> float | None:
    """Share of the dark pixels of a 50-DPI render of ``page`` that lie under a glyph box
    (boxes in pixels at ``scale`` px/pt, grown by a pixel); None on a blank page."""
    bitmap = page.render(scale=_INK_DPI / 72, grayscale=True)
    try:
        gray = np.asarray(to_gray(bitmap.to_pil()))
    finally:
        bitmap.close()
    ink = _without_rules(gray < 128)
    n_ink = int(ink.sum())
    if n_ink < 20:
        return None
    covered = np.zeros_like(ink)
    k = (_INK_DPI / 72) / scale
    h, w = ink.shape
    for x0, y0, x1, y1 in glyph_boxes:
        a, b = max(int(x0 * k) - 1, 0), min(int(x1 * k) + 2, w)
        c, d = max(int(y0 * k) - 1, 0), min(int(y1 * k) + 2, h)
        covered[c:d, a:b] = True
    return float((ink & covered).sum() / n_ink)


def _invisible_share(page: pdfium.PdfPage) -> float:
    """Share of the page's text objects drawn invisible (render mode 3)."""
    modes = [
        pdfium_c.FPDFTextObj_GetTextRenderMode(o.raw)
        for o in page.get_objects(max_depth=4)
        if o.type == pdfium_c.FPDF_PAGEOBJ_TEXT
    ]
    return sum(m == _INVISIBLE for m in modes) / len(modes) if modes else 0.0


def _squash(text: str) -> str:
    return " ".join("".join(c for c in w.lower() if c.isalnum()) for w in text.split())


def sample_agreement(
    page: pdfium.PdfPage,
    rows: list[list[tuple[str, tuple[float, float, float, float]]]],
    scale: float,
    reader: PageEngine,
    n_lines: int,
) -> float | None:
    """How far a 200-DPI OCR of the regions of the ``n_lines`` longest rows of the text
    layer confirms them (:func:`layer_recall`); None when there is nothing to compare."""
    longest = sorted(rows, key=lambda r: -sum(len(t) for t, _ in r))[:n_lines]
    if not longest:
        return None
    k = (_SAMPLE_DPI / 72) / scale
    bitmap = page.render(scale=_SAMPLE_DPI / 72, grayscale=True)
    try:
        img = to_gray(bitmap.to_pil())
    finally:
        bitmap.close()
    layer, read = [], []
    for row in longest:
        x0 = min(b[0] for _, b in row) * k
        y0 = min(b[1] for _, b in row) * k
        x1 = max(b[2] for _, b in row) * k
        y1 = max(b[3] for _, b in row) * k
        pad = max((y1 - y0) * 0.5, 4)
        crop = img.crop(
            (
                int(max(x0 - pad, 0)),
                int(max(y0 - pad, 0)),
                int(min(x1 + pad, img.width)),
                int(min(y1 + pad, img.height)),
            )
        )
        if crop.width < 4 or crop.height < 4:
            continue
        canvas = Image.new("L", (crop.width + 40, crop.height + 40), 255)
        canvas.paste(crop, (20, 20))  # a white margin: Tesseract misses text at the edge
        words = reader.read_page(canvas, doc_id="sample", page=0, dpi=_SAMPLE_DPI, quality=None)
        layer.append(" ".join(t for t, _ in row))
        read.append(" ".join(words.sort("line", "word")["text"].to_list()) if words.height else "")
    return layer_recall(layer, " ".join(read))


def layer_recall(layer: list[str], read: str) -> float | None:
    """How much of the text layer's rows the OCR of their regions confirms (0-1): per row,
    the best partial alignment (the crops hold neighbouring lines too), weighted by length."""
    got = _squash(read)
    pairs = [(a, len(a)) for a in map(_squash, layer) if a]
    if not pairs:
        return None
    total = sum(n for _, n in pairs)
    return sum(fuzz.partial_ratio(a, got) / 100.0 * n for a, n in pairs) / total if got else 0.0


def decide_page(
    page: pdfium.PdfPage,
    *,
    doc_id: str,
    index: int,
    width: int,
    height: int,
    scale: float,
    mode: TextLayerMode,
    config: TextLayerConfig,
    reader: PageEngine | None,
) -> tuple[PageDecision, pl.DataFrame | None]:
    """How to read one PDF page, and its words when they come from the text layer.

    ``always`` takes any text layer with enough characters; ``auto`` also checks garbage,
    ink coverage and (invisible layers, when a page ``reader`` is given) a sample OCR."""
    if mode == "never":
        return PageDecision(index, "ocr", MODE_NEVER), None
    matrix = _to_pixels(page, width, height)
    textpage = page.get_textpage()
    try:
        glyphs = _glyphs(textpage, matrix)
    finally:
        textpage.close()
    visible = [g for g in glyphs if not g.ch.isspace()]
    n = len(visible)
    if n < config.min_chars:
        return PageDecision(index, "ocr", NO_TEXT_LAYER, n), None
    garbage = sum(_is_garbage(g.ch) for g in visible) / n
    rows = _rows(_words(glyphs))
    words = words_frame(rows, doc_id=doc_id, page=index, width=width, height=height)
    if mode == "always":
        return PageDecision(index, PDF_TEXT, TEXT_LAYER, n, garbage), words
    if garbage > config.max_garbage:
        return PageDecision(index, "ocr", GARBLED, n, garbage), None
    coverage = ink_coverage(page, [g.box for g in visible], scale)
    if coverage is not None and coverage < config.min_coverage:
        return PageDecision(index, "ocr", LOW_COVERAGE, n, garbage, coverage), None
    agreement = None
    if reader is not None and _invisible_share(page) > 0.5:
        agreement = sample_agreement(page, rows, scale, reader, config.sample_lines)
        if agreement is not None and agreement < config.min_agreement:
            return PageDecision(index, "ocr", DISAGREES, n, garbage, coverage, agreement), None
    return PageDecision(index, PDF_TEXT, TEXT_LAYER, n, garbage, coverage, agreement), words


def _page_reader(engine: Engine) -> PageEngine | None:
    """The single-page OCR engine a sample check can use (hybrid: its Tesseract)."""
    if isinstance(engine, PageEngine):
        return engine
    inner = getattr(engine, "tesseract", None)
    return inner if isinstance(inner, PageEngine) else None


def decide_document(
    scan: ScanFile,
    limits: IntakeLimits,
    mode: TextLayerMode,
    config: TextLayerConfig,
    reader: PageEngine | None = None,
) -> tuple[list[PageDecision], dict[int, pl.DataFrame]]:
    """Per page of a PDF scan its decision, and the text-layer words of the pages read so."""
    decisions: list[PageDecision] = []
    words: dict[int, pl.DataFrame] = {}
    # One lock over the whole document (PDFium is not thread-safe): its text layer reads in
    # milliseconds; only a sample check's OCR of a few lines runs under it too.
    for info, page in locked_pdf_pages(scan):
        w, h = page.get_size()
        scale = pdf_page_dpi((w, h), limits) / 72
        width, height = int(np.ceil(w * scale)), int(np.ceil(h * scale))
        decision, got = decide_page(
            page,
            doc_id=scan.doc_id,
            index=info.page,
            width=width,
            height=height,
            scale=scale,
            mode=mode,
            config=config,
            reader=reader,
        )
        decisions.append(decision)
        if got is not None:
            words[info.page] = got
    return decisions, words


class TextLayerEngine(Engine):
    """The text layer of PDF pages that have a usable one, ``ocr`` for every other page."""

    def __init__(
        self, ocr: Engine, mode: TextLayerMode = "auto", config: TextLayerConfig | None = None
    ) -> None:
        if mode not in TEXT_LAYER_MODES:
            raise ValueError(f"text_layer must be one of {TEXT_LAYER_MODES}, got {mode!r}")
        self.ocr = ocr
        self.mode: TextLayerMode = mode
        self.config = config or TextLayerConfig()
        self.name = ocr.name  # the OCR engine a model's text comes from where pages need it

    def versions(self) -> dict[str, str]:
        extra = (
            {}
            if self.mode == "never"
            else {PDF_TEXT: f"pdfium {pdfium.PDFIUM_INFO.build}; text_layer {self.mode}"}
        )
        return {**self.ocr.versions(), **extra}

    def warm_up(self) -> None:
        self.ocr.warm_up()

    def read_document(
        self, scan: ScanFile, limits: IntakeLimits, qualities: Sequence[PageQuality | None] | None
    ) -> pl.DataFrame:
        if scan.format != "pdf" or self.mode == "never":
            reason = NOT_PDF if scan.format != "pdf" else MODE_NEVER
            return with_reason(self.ocr.read_document(scan, limits, qualities), {}, reason)
        reader = _page_reader(self.ocr) if self.mode == "auto" else None
        decisions, layer = decide_document(scan, limits, self.mode, self.config, reader)
        reasons = {d.page: d.reason for d in decisions}
        rest = tuple(p for p in scan.pages if p.page not in layer)
        ocr = (
            self.ocr.read_document(replace(scan, pages=rest), limits, qualities)
            if rest
            else empty_words()
        )
        frames = [f for f in (*layer.values(), ocr) if f.height]
        words = pl.concat(frames, how="diagonal") if frames else empty_words()
        return with_reason(words, reasons, TEXT_LAYER).sort("page", "block", "par", "line", "word")


def with_reason(words: pl.DataFrame, reasons: dict[int, str], default: str) -> pl.DataFrame:
    """``words`` with the ``page_reason`` column: ``reasons[page]``, else ``default``."""
    expr = (
        pl.col("page").replace_strict(reasons, default=default, return_dtype=pl.Utf8)
        if reasons
        else pl.lit(default, dtype=pl.Utf8)
    )
    return words.with_columns(page_reason=expr)


def page_reasons(words: pl.DataFrame) -> dict[str, int]:
    """Reason -> pages of ``words`` read for it (pages with words only; {} without the
    column: an engine not wrapped by :class:`TextLayerEngine`)."""
    if "page_reason" not in words.columns or words.is_empty():
        return {}
    pages = words.select("doc_id", "page", "page_reason").unique()
    return dict(sorted(pages.group_by("page_reason").len().iter_rows()))


def with_text_layer(
    engine: Engine, mode: TextLayerMode, config: TextLayerConfig | None = None
) -> Engine:
    """``engine`` wrapped to read PDF text layers per ``mode`` (``never`` included, so every
    page records its reason)."""
    return TextLayerEngine(engine, mode, config)
