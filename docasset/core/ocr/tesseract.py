"""OCR with Tesseract: page preprocessing, the word table (``docasset.core.ocr.words``) and
:class:`TesseractEngine` (``docasset.core.ocr.engine``).

Boxes are mapped back to the coordinates of the page as
:func:`~docasset.core.intake.scans.iter_pages` yields it, whatever scaling or rotation was
applied for OCR.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import polars as pl
import pytesseract
from PIL import Image
from pytesseract import Output

from docasset.core.intake.scans import PageQuality, effective_dpi, page_quality
from docasset.core.ocr.engine import PageEngine
from docasset.core.ocr.names import DEFAULT_ENGINE
from docasset.core.ocr.words import WORD_DTYPES, empty_words, validate_words
from docasset.core.tunable import tunable
from docasset.errors import OcrError

_TARGET_DPI = 300.0
_MAX_UPSCALE = 4.0
_MAX_OCR_PIXELS = 30_000_000  # Tesseract time grows with pixels; cap what upscaling may create
_DESKEW_MIN_DEG = 0.3  # below this, resampling costs more sharpness than the rotation gains
_OSD_MIN_CONF = 3.0  # orientation_conf seen: 15-20 on real text, under 6 on a few lines


@dataclass(frozen=True)
class OcrConfig:
    """Which engine reads pages (``engine``), and how Tesseract preprocesses and reads them.

    The default engine is ``hybrid``: on the SROIE protocol (``evals/README.md``, *OCR
    engines*) it had the best micro F1 of the settings whose OCR CPU per page stays within 3x
    Tesseract's (``rapidocr`` alone reads better still, at more than 3x).

    Defaults come from ``python -m evals.ocr_quality`` on 100 SROIE receipts: deskew with
    ``--psm 6`` had the lowest CER and the most key values found. Upscaling (to 300 DPI below
    250, 120 or 80 effective DPI) raised CER every time and cost up to 2x the time: textured
    photos grow garbage text when enlarged. OSD made false turns at 3x the time. Upscaling
    is therefore off by default (0); it does rescue truly tiny text (synthetic 8 pt at 75 DPI:
    CER 0.21 -> 0.02), so set it for sources known to be low resolution.
    """

    engine: Literal["tesseract", "rapidocr", "hybrid"] = tunable(  # names.EngineName
        DEFAULT_ENGINE,
        "OCR engine: tesseract, rapidocr (PP-OCR on ONNX Runtime) or hybrid (Tesseract, and "
        "RapidOCR for pages the escalation evidence says are hard; see Settings.escalation).",
    )
    text_layer: Literal["never", "auto", "always"] = tunable(
        "auto",
        "PDF pages: read the text layer when usable (auto: enough characters, not garbage, "
        "covering the page's ink, an invisible OCR layer confirmed by a sample OCR), always "
        "when present (always), or OCR every page (never); docasset.core.ocr.pdf_text.",
    )
    lang: str = tunable("eng", "Tesseract language(s), e.g. eng or eng+deu.")
    psm: int = tunable(6, "Tesseract page segmentation mode.", ge=0, le=13)
    upscale_below_dpi: float = tunable(
        0.0,
        "Pages below this effective DPI are upscaled towards 300 DPI (0: never).",
        ge=0,
    )
    deskew: bool = tunable(True, "Rotate pages by their measured skew before OCR.")
    osd: bool = tunable(False, "Detect page orientation (0/90/180/270) with Tesseract OSD.")
    timeout_s: float = tunable(120.0, "Tesseract time limit per page (seconds).", gt=0)
    workers: int = tunable(
        0, "Pages OCR'd in parallel, one document per worker (0: one per core).", ge=0
    )


def _tesseract_env() -> None:
    # Tesseract's OpenMP threads make one page several times slower on 2 cores (measured
    # 1.9 s vs 0.54 s per receipt); we parallelise across documents instead. pytesseract passes
    # os.environ to the subprocess, so this is the way to reach it.
    os.environ["OMP_THREAD_LIMIT"] = "1"


def _osd_rotation(img: Image.Image, dpi: float | None, timeout_s: float) -> int:
    """Clockwise degrees (0/90/180/270) that make the page upright; 0 when OSD is unsure."""
    _tesseract_env()
    config = f"--psm 0 --dpi {round(dpi)}" if dpi else "--psm 0"
    try:
        osd = pytesseract.image_to_osd(
            img, config=config, output_type=Output.DICT, timeout=timeout_s
        )
    except pytesseract.TesseractError as exc:
        # OSD needs a fair amount of text; on sparse pages "no answer" is not a failure.
        if "Too few characters" in str(exc.message) or "too small" in str(exc.message):
            return 0
        raise
    if float(osd.get("orientation_conf", 0.0)) < _OSD_MIN_CONF:
        return 0
    return int(osd.get("rotate", 0)) % 360


def prepare_page(
    img: Image.Image, dpi: float | None, quality: PageQuality | None, config: OcrConfig
) -> tuple[Image.Image, float, float]:
    """Preprocess a grayscale page for Tesseract.

    Returns ``(image, scale, angle)``: the image is the page rotated upright (OSD), scaled by
    ``scale`` and rotated by the small deskew angle; ``angle`` is the total counter-clockwise
    rotation applied, in degrees. Every step maps the image centre to the image centre, which is
    what :func:`map_boxes_back` relies on. May raise pytesseract's errors (OSD).
    """
    out = img.convert("L") if img.mode != "L" else img
    angle = 0.0
    if config.osd:
        rotate = _osd_rotation(out, effective_dpi(dpi, quality), config.timeout_s)
        if rotate:
            out = out.rotate(-rotate, expand=True)
            angle -= rotate
            quality = None  # skew and line height must be re-measured on the upright page
    if quality is None:
        quality = page_quality(out, dpi)
    scale = 1.0
    eff = effective_dpi(dpi, quality)
    if eff is not None and eff < config.upscale_below_dpi:
        pixel_cap = math.sqrt(_MAX_OCR_PIXELS / max(out.width * out.height, 1))
        scale = max(1.0, min(_TARGET_DPI / eff, _MAX_UPSCALE, pixel_cap))
    if scale > 1.0:
        size = (round(out.width * scale), round(out.height * scale))
        out = out.resize(size, Image.Resampling.LANCZOS)
    if config.deskew and abs(quality.skew_deg) >= _DESKEW_MIN_DEG:
        out = out.rotate(-quality.skew_deg, Image.Resampling.BICUBIC, expand=True, fillcolor=255)
        angle -= quality.skew_deg
    return out, scale, angle


def map_boxes_back(
    boxes: np.ndarray,
    prepared_size: tuple[int, int],
    original_size: tuple[int, int],
    scale: float,
    angle: float,
) -> np.ndarray:
    """Map ``(left, top, width, height)`` rows from a prepared image to the original page.

    Inverts "rotate ``angle`` degrees CCW about the centre, scale by ``scale``": each box's
    corners are mapped and their bounding box, clipped to the page, is returned (int).
    """
    if boxes.size == 0:
        return boxes.astype(np.int64).reshape(0, 4)
    left, top, width, height = (boxes[:, i].astype(np.float64) for i in range(4))
    xs = np.stack([left, left + width, left, left + width], axis=1)
    ys = np.stack([top, top, top + height, top + height], axis=1)
    dx, dy = xs - prepared_size[0] / 2, ys - prepared_size[1] / 2
    # Image coordinates have y pointing down, so a CCW turn by a is x' = x cos a + y sin a,
    # y' = -x sin a + y cos a; its inverse is applied here.
    a = math.radians(angle)
    ox = (dx * math.cos(a) - dy * math.sin(a)) / scale + original_size[0] / 2
    oy = (dx * math.sin(a) + dy * math.cos(a)) / scale + original_size[1] / 2
    x0 = np.clip(np.floor(ox.min(axis=1)), 0, original_size[0])
    y0 = np.clip(np.floor(oy.min(axis=1)), 0, original_size[1])
    x1 = np.clip(np.ceil(ox.max(axis=1)), 0, original_size[0])
    y1 = np.clip(np.ceil(oy.max(axis=1)), 0, original_size[1])
    return np.stack([x0, y0, x1 - x0, y1 - y0], axis=1).astype(np.int64)


@contextmanager
def _tesseract_input(img: Image.Image) -> Iterator[str]:
    """Write a grayscale page to a temporary uncompressed TIFF for Tesseract; yield its path.

    Handing pytesseract the image itself makes it write a zlib-compressed PNG on every call:
    about 20 ms of CPU per receipt page in the worker thread (``python -m evals.bench_ocr``).
    Uncompressed TIFF costs 2 ms to write and Tesseract reads it at least as fast as PNG (PGM
    was measured 30-40 ms slower to read: Leptonica's PNM reader). Tesseract's words are
    identical; the file's resolution tag (1, as PNG's absent one) is below Tesseract's
    credible minimum either way, so ``--dpi`` or Tesseract's own default decides as before.
    """
    fd, path = tempfile.mkstemp(prefix="docasset_ocr_", suffix=".tif")
    try:
        with os.fdopen(fd, "wb") as fh:
            # Explicitly uncompressed: Pillow would otherwise reuse the page's own ``info``
            # (a bilevel fax's "group4", which cannot encode an 8-bit page).
            img.save(fh, format="TIFF", compression="raw")
        yield path
    finally:
        with suppress(FileNotFoundError):
            os.unlink(path)


def ocr_page(
    img: Image.Image,
    *,
    doc_id: str,
    page: int,
    dpi: float | None,
    config: OcrConfig = OcrConfig(),
    quality: PageQuality | None = None,
) -> pl.DataFrame:
    """OCR one page into a validated word table (empty when no text was found).

    Raises :class:`OcrError` naming the document and page when Tesseract is missing, fails or
    times out.
    """
    where = f"{doc_id} page {page}"
    quality = quality if quality is not None else page_quality(img, dpi)
    try:
        prepared, scale, angle = prepare_page(img, dpi, quality, config)
        eff = effective_dpi(dpi, quality)
        flags = f"--psm {config.psm}" + (f" --dpi {round(eff * scale)}" if eff else "")
        _tesseract_env()
        with _tesseract_input(prepared) as path:
            data = pytesseract.image_to_data(
                path,
                lang=config.lang,
                config=flags,
                output_type=Output.DICT,
                timeout=config.timeout_s,
            )
    except pytesseract.TesseractNotFoundError as exc:
        raise OcrError(f"{where}: tesseract is not installed or not on PATH") from exc
    except pytesseract.TesseractError as exc:
        raise OcrError(f"{where}: tesseract failed ({exc.status}): {exc.message}") from exc
    except RuntimeError as exc:
        if "timeout" not in str(exc):
            raise
        raise OcrError(f"{where}: tesseract timed out after {config.timeout_s} s") from exc
    return _words_frame(data, doc_id, page, prepared.size, img.size, scale, angle)


def _words_frame(
    data: dict[str, list],
    doc_id: str,
    page: int,
    prepared_size: tuple[int, int],
    original_size: tuple[int, int],
    scale: float,
    angle: float,
) -> pl.DataFrame:
    """Keep real words (conf >= 0, non-blank text) and map their boxes to the original page."""
    texts = [str(t).strip() for t in data.get("text", [])]
    conf = np.asarray(data.get("conf", []), dtype=np.float64)
    keep = np.flatnonzero((conf >= 0) & np.array([bool(t) for t in texts], dtype=bool))
    if keep.size == 0:
        return empty_words()
    cols = {k: np.asarray(data[k])[keep] for k in ("block_num", "par_num", "line_num", "word_num")}
    raw = np.stack([np.asarray(data[k])[keep] for k in ("left", "top", "width", "height")], axis=1)
    boxes = map_boxes_back(raw, prepared_size, original_size, scale, angle)
    frame = pl.DataFrame(
        {
            "doc_id": [doc_id] * keep.size,
            "page": np.full(keep.size, page),
            "block": cols["block_num"],
            "par": cols["par_num"],
            "line": cols["line_num"],
            "word": cols["word_num"],
            "left": boxes[:, 0],
            "top": boxes[:, 1],
            "width": boxes[:, 2],
            "height": boxes[:, 3],
            "conf": np.clip(conf[keep], 0.0, 100.0),
            # Tesseract words hold no whitespace; this guards the schema's rule anyway.
            "text": ["_".join(texts[i].split()) for i in keep],
            "engine": ["tesseract"] * keep.size,
        }
    ).cast(WORD_DTYPES)  # type: ignore[arg-type]
    return validate_words(frame)


# --- the engine ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def tesseract_version() -> str:
    """The installed Tesseract's version (``tesseract --version``); raises OcrError when absent."""
    try:
        return str(pytesseract.get_tesseract_version())
    except pytesseract.TesseractNotFoundError as exc:
        raise OcrError("tesseract is not installed or not on PATH") from exc


class TesseractEngine(PageEngine):
    """Tesseract with :class:`OcrConfig`'s preprocessing, one subprocess per page."""

    name = "tesseract"

    def __init__(self, config: OcrConfig = OcrConfig()) -> None:
        self.config = config

    def versions(self) -> dict[str, str]:
        c = self.config
        return {"tesseract": f"{tesseract_version()} (lang {c.lang}, psm {c.psm})"}

    def read_page(
        self,
        img: Image.Image,
        *,
        doc_id: str,
        page: int,
        dpi: float | None,
        quality: PageQuality | None,
    ) -> pl.DataFrame:
        # ocr_page is looked up in the module at call time (evals.bench_intake counts calls).
        return ocr_page(img, doc_id=doc_id, page=page, dpi=dpi, config=self.config, quality=quality)
