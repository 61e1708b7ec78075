"""Scan intake: identify, validate and decode scan files, and measure page quality.

Nothing here knows about Dagster. A file either becomes a :class:`ScanFile` (every page was
decoded once, so later stages can trust it) or :func:`inspect_file` raises
:class:`~docasset.errors.ScanError` with one of the reason codes in :data:`REASONS`.
"""

from __future__ import annotations

import hashlib
import math
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageOps

from docasset.core.tunable import tunable
from docasset.errors import ScanError

ScanFormat = Literal["jpeg", "png", "tiff", "pdf"]
REASONS = frozenset(
    {"zero_bytes", "too_large", "unreadable", "unsupported_format", "corrupt"}
    | {"encrypted_pdf", "broken_pdf", "decompression_bomb", "too_many_pages"}
    # Not from inspect_file's decoding: anything but a regular file in the inbox, and an
    # exception nobody foresaw on one document (docasset.core.isolation), class and message
    # in the detail.
    | {"not_regular_file", "unexpected_error"}
)
_PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG", "tiff": "TIFF"}
# PDFium load error codes (fpdfview.h) that mean "needs a password / unsupported security".
_PDF_PASSWORD_ERRORS = (4, 6)
_META_VS_TEXT_DPI = 1.6  # trust the dpi tag unless the text size says otherwise by this factor
_MIN_META_DPI = 20.0  # below this a dpi tag is a placeholder (JFIF 1x1 aspect), not a resolution
MIN_PDF_DPI = 100  # an oversized PDF page is rasterised coarser, down to this


@dataclass(frozen=True)
class IntakeLimits:
    """Caps that keep one hostile or huge file from taking the pipeline down."""

    max_bytes: int = tunable(50 * 1024 * 1024, "Larger scan files are quarantined (bytes).", ge=1)
    max_pixels_per_page: int = tunable(
        60_000_000, "Decompression-bomb cap (pixels per page).", ge=1
    )
    max_pages: int = tunable(200, "Documents with more pages are quarantined.", ge=1)
    pdf_dpi: int = tunable(300, "Rasterisation DPI of PDF pages.", ge=36, le=2400)


@dataclass(frozen=True)
class PageInfo:
    """One page's size in pixels as :func:`iter_pages` yields it (after EXIF orientation)."""

    page: int
    width: int
    height: int
    dpi: float | None


@dataclass(frozen=True)
class ScanFile:
    """A scan that passed intake. ``doc_id`` is :func:`content_id` of its bytes."""

    path: Path
    doc_id: str
    format: ScanFormat
    size_bytes: int
    pages: tuple[PageInfo, ...]


def _digest(fh: BinaryIO) -> str:
    digest = hashlib.sha256()
    while chunk := fh.read(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()[:16]


def content_id(path: str | os.PathLike[str]) -> str:
    """Return the first 16 hex chars of the SHA-256 of the file's bytes (read in chunks)."""
    with _open_binary(Path(path)) as fh:
        return _digest(fh)


def _unreadable(where: str, exc: OSError) -> ScanError:
    return ScanError(where, "unreadable", f"{type(exc).__name__}: {exc.strerror or exc}")


def file_kind(mode: int) -> str:
    """What a directory entry is: ``file``, ``symlink``, ``directory``, ``fifo``, ``socket``,
    ``char_device``, ``block_device`` (or ``other``)."""
    for test, kind in (
        (stat.S_ISREG, "file"),
        (stat.S_ISLNK, "symlink"),
        (stat.S_ISDIR, "directory"),
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "char_device"),
        (stat.S_ISBLK, "block_device"),
    ):
        if test(mode):
            return kind
    return "other"


def not_a_file(where: str, path: Path, mode: int) -> ScanError:
    """The refusal of anything but a regular file (it is never followed, opened or read)."""
    kind = file_kind(mode)
    detail = kind
    if kind == "symlink":
        try:
            detail = f"symlink to {os.readlink(path)!r}"
        except OSError:
            detail = "symlink"
    return ScanError(where, "not_regular_file", f"{detail}: only regular files are scans")


def _open_binary(path: Path) -> BinaryIO:
    """Open a regular file for reading without following a symlink; the caller closes it.

    ``lstat`` first, so a FIFO or device is never opened (opening either can block or act);
    then the opened descriptor is checked to be that very file (no swap in between). OS
    errors (permissions, missing) become ``unreadable``, anything but a regular file
    ``not_regular_file``.
    """
    where = str(path)
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise _unreadable(where, exc) from exc
    if not stat.S_ISREG(st.st_mode):
        raise not_a_file(where, path, st.st_mode)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _unreadable(where, exc) from exc
    fst = os.fstat(fd)
    if (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(fst.st_mode):
        os.close(fd)
        raise ScanError(where, "unreadable", "the file was replaced while it was opened")
    return os.fdopen(fd, "rb")


def sniff_format(head: bytes) -> ScanFormat | None:
    """Identify a scan format from the first bytes of a file, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # classic and BigTIFF
        return "tiff"
    # The PDF spec lets readers accept a header anywhere in the first 1024 bytes.
    if b"%PDF-" in head[:1024]:
        return "pdf"
    return None


def inspect_file(path: str | os.PathLike[str], limits: IntakeLimits = IntakeLimits()) -> ScanFile:
    """Validate a scan and describe its pages, decoding each page fully once.

    Only a regular file is read (a symlink, FIFO, device or directory is refused, never
    followed or opened), through one descriptor: what is hashed is what is decoded.
    Raises :class:`ScanError` with a reason from :data:`REASONS`.
    """
    p = Path(path)
    where = str(p)
    with _open_binary(p) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            raise ScanError(where, "zero_bytes")
        if size > limits.max_bytes:
            raise ScanError(where, "too_large", f"{size} bytes > {limits.max_bytes}")
        try:
            doc_id = _digest(fh)  # reads every byte, so an unreadable file fails here
            fh.seek(0)
            head = fh.read(1024)
        except OSError as exc:
            raise _unreadable(where, exc) from exc
        fmt = sniff_format(head)
        if fmt is None:
            raise ScanError(where, "unsupported_format", f"leading bytes {head[:8]!r}")
        fh.seek(0)
        if fmt == "pdf":
            pages = _pdf_pages(fh, where, limits)
        else:
            pages = _raster_pages(fh, fmt, where, limits)
    return ScanFile(path=p, doc_id=doc_id, format=fmt, size_bytes=size, pages=pages)


def _meta_dpi(im: Image.Image) -> float | None:
    dpi = im.info.get("dpi")
    try:
        value = float(dpi[0]) if isinstance(dpi, tuple) else float(dpi)  # type: ignore[arg-type]
    except (TypeError, ValueError, IndexError):
        return None
    if not math.isfinite(value) or value < _MIN_META_DPI:
        return None
    return round(value, 1)  # PNG stores pixels per metre: 100 DPI reads back as 99.9998


def _check_pixels(where: str, page: int, w: int, h: int, limits: IntakeLimits) -> None:
    if w * h > limits.max_pixels_per_page:
        detail = f"page {page} is {w}x{h} > {limits.max_pixels_per_page} px"
        raise ScanError(where, "decompression_bomb", detail)


@contextmanager
def _decoding(where: str, what: str) -> Iterator[None]:
    """Turn the many exception types PIL raises for bad data into ``ScanError``."""
    try:
        yield
    except (ScanError, MemoryError):
        raise
    except Image.DecompressionBombError as exc:  # PIL's own cap (MAX_IMAGE_PIXELS)
        raise ScanError(where, "decompression_bomb", str(exc)) from exc
    except Exception as exc:  # OSError("image file is truncated"), SyntaxError, zlib.error...
        raise ScanError(where, "corrupt", f"{what}: {type(exc).__name__}: {exc}") from exc


def _open_image(fh: BinaryIO, fmt: ScanFormat, where: str) -> Image.Image:
    with _decoding(where, "header"):
        return Image.open(fh, formats=[_PIL_FORMAT[fmt]])


def _decode_frame(im: Image.Image, index: int, where: str, limits: IntakeLimits) -> None:
    """Seek to a frame and decode it fully (truncated or damaged data fails here, not in OCR)."""
    with _decoding(where, f"page {index}"):
        im.seek(index)
        # The declared size is checked before decoding, so a bomb is never decompressed.
        _check_pixels(where, index, im.width, im.height, limits)
        im.load()


def _upright_size(im: Image.Image) -> tuple[int, int]:
    # EXIF orientations 5-8 are stored sideways; ImageOps.exif_transpose swaps them.
    sideways = im.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    return (im.height, im.width) if sideways else (im.width, im.height)


def _raster_pages(
    fh: BinaryIO, fmt: ScanFormat, where: str, limits: IntakeLimits
) -> tuple[PageInfo, ...]:
    with _open_image(fh, fmt, where) as im:
        with _decoding(where, "page count"):
            # Extra JPEG (MPO) / PNG (APNG) frames are previews or animation, not pages.
            n = int(getattr(im, "n_frames", 1)) if fmt == "tiff" else 1
        if n > limits.max_pages:
            raise ScanError(where, "too_many_pages", f"{n} pages > {limits.max_pages}")
        pages = []
        for i in range(n):
            _decode_frame(im, i, where, limits)
            pages.append(PageInfo(i, *_upright_size(im), _meta_dpi(im)))
    return tuple(pages)


# PDFium is not thread-safe, not even across documents: two threads calling it at once crash
# the process (a segfault, seen with the OCR worker threads on multi-page PDFs). Every call
# into it, from opening a document to closing it, holds this one process-wide lock; the
# work between pages (OCR of a rendered page) runs outside it. Re-entrant, so a reader that
# holds it may call helpers that take it again.
PDFIUM_LOCK = threading.RLock()


def _open_pdf(fh: BinaryIO, where: str) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(fh)
    except pdfium.PdfiumError as exc:
        reason = "encrypted_pdf" if exc.err_code in _PDF_PASSWORD_ERRORS else "broken_pdf"
        raise ScanError(where, reason, str(exc)) from exc


def _pdf_pixels(size_pt: tuple[float, float], dpi: int) -> tuple[int, int]:
    # Same rounding as PdfPage.render, so PageInfo matches the rendered bitmap.
    scale = dpi / 72
    return math.ceil(size_pt[0] * scale), math.ceil(size_pt[1] * scale)


def pdf_page_dpi(size_pt: tuple[float, float], limits: IntakeLimits) -> int:
    """The rasterisation DPI of a PDF page: ``limits.pdf_dpi``, lowered for an oversized page
    (a 30-inch broadcast schedule) so that it fits ``max_pixels_per_page``: a vector page is
    no decompression bomb, it only needs a coarser raster. Never below :data:`MIN_PDF_DPI`
    (text would be unreadable): a page too large even then stays a decompression bomb."""
    area_in2 = max(size_pt[0] * size_pt[1], 1.0) / (72 * 72)
    fit = int(math.sqrt(limits.max_pixels_per_page / area_in2) * 0.99)
    return max(min(limits.pdf_dpi, fit), min(MIN_PDF_DPI, limits.pdf_dpi))


def _pdf_pages(fh: BinaryIO, where: str, limits: IntakeLimits) -> tuple[PageInfo, ...]:
    with PDFIUM_LOCK:
        return _pdf_pages_locked(fh, where, limits)


def _pdf_pages_locked(fh: BinaryIO, where: str, limits: IntakeLimits) -> tuple[PageInfo, ...]:
    pdf = _open_pdf(fh, where)
    try:
        n = len(pdf)
        if n == 0:
            raise ScanError(where, "broken_pdf", "no pages")
        if n > limits.max_pages:
            raise ScanError(where, "too_many_pages", f"{n} pages > {limits.max_pages}")
        pages = []
        for i in range(n):
            # Loading parses the page; rendering all pages here would double the cost of OCR.
            try:
                page = pdf[i]
            except pdfium.PdfiumError as exc:
                raise ScanError(where, "broken_pdf", f"page {i}: {exc}") from exc
            try:
                size_pt = page.get_size()
            finally:
                page.close()
            dpi = pdf_page_dpi(size_pt, limits)
            w, h = _pdf_pixels(size_pt, dpi)
            _check_pixels(where, i, w, h, limits)
            pages.append(PageInfo(i, w, h, float(dpi)))
    finally:
        pdf.close()
    return tuple(pages)


def to_gray(im: Image.Image) -> Image.Image:
    """Return an 8-bit grayscale copy; transparency is composited on white, 16-bit is rescaled.

    The copy carries none of the source's encoder settings (``info``): a bilevel fax page's
    ``compression="group4"`` cannot encode an 8-bit page and must not reach a later save.
    """
    gray = _gray(im)
    gray.info = {k: v for k, v in gray.info.items() if k in ("dpi",)}
    return gray


def _gray(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = (0.0, 65535.0) if im.mode.startswith("I;16") else (arr.min(), arr.max())
        scaled = (arr - lo) * (255.0 / max(hi - lo, 1e-9))
        return Image.fromarray(np.clip(scaled + 0.5, 0, 255).astype(np.uint8), "L")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("L")
    return im.convert("L")


def iter_pages(
    scan: ScanFile, limits: IntakeLimits = IntakeLimits()
) -> Iterator[tuple[PageInfo, Image.Image]]:
    """Yield ``(PageInfo, grayscale image)`` one page at a time, in page order.

    PDFs are rasterised at ``limits.pdf_dpi``. Raises :class:`ScanError` if the file became
    unreadable or changed since :func:`inspect_file`.
    """
    where = str(scan.path)
    with _open_binary(scan.path) as fh:
        if scan.format == "pdf":
            yield from _iter_pdf(fh, scan, where, limits)
        else:
            yield from _iter_raster(fh, scan, where, limits)


_BORN_DIGITAL_CHARS = 30  # visible characters a born-digital page prints at least
_INVISIBLE_TEXT = 3  # PDF text render mode 3: neither fill nor stroke (a scanner's OCR layer)
_IMAGE_SHARE = 0.25  # an image covering more of the page may be a scan of it


def born_digital_pages(scan: ScanFile) -> frozenset[int]:
    """Pages of a PDF that are no scan: they print visible text (at least
    :data:`_BORN_DIGITAL_CHARS` characters, mostly not an invisible OCR layer) and hold no
    image covering more than :data:`_IMAGE_SHARE` of the page. Their scan quality (blur,
    contrast, skew) measures nothing, so ``raw_scans`` does not render them; the text-layer
    reader decides later how each page is read. Empty for images. Raises :class:`ScanError`
    if the file became unreadable."""
    if scan.format != "pdf":
        return frozenset()
    return frozenset(info.page for info, page in locked_pdf_pages(scan) if _prints_text(page))


def locked_pdf_pages(scan: ScanFile) -> Iterator[tuple[PageInfo, pdfium.PdfPage]]:
    """Each page of a PDF scan as a PDFium page, closed after its turn. The document is
    opened, walked and closed under :data:`PDFIUM_LOCK`, held for the whole walk: iterate it
    to the end in one thread, and call no other thread's PDFium work from the loop body.
    Raises :class:`ScanError` if the file became unreadable."""
    where = str(scan.path)
    with _open_binary(scan.path) as fh, PDFIUM_LOCK:
        pdf = _open_pdf(fh, where)
        try:
            for info in scan.pages:
                try:
                    page = pdf[info.page]
                except pdfium.PdfiumError as exc:
                    raise ScanError(where, "broken_pdf", f"page {info.page}: {exc}") from exc
                try:
                    yield info, page
                finally:
                    page.close()
        finally:
            pdf.close()


def _prints_text(page: pdfium.PdfPage) -> bool:
    """Does the page print visible text and no page-sized image (see born_digital_pages)?"""
    w, h = page.get_size()
    area = max(w * h, 1.0)
    text_modes = []
    for obj in page.get_objects(max_depth=4):
        if obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            x0, y0, x1, y1 = obj.get_bounds()
            if (x1 - x0) * (y1 - y0) > _IMAGE_SHARE * area:
                return False
        elif obj.type == pdfium_c.FPDF_PAGEOBJ_TEXT:
            text_modes.append(pdfium_c.FPDFTextObj_GetTextRenderMode(obj.raw))
    if not text_modes or sum(m == _INVISIBLE_TEXT for m in text_modes) > len(text_modes) / 2:
        return False
    textpage = page.get_textpage()
    try:
        chars = textpage.get_text_range()
    finally:
        textpage.close()
    return sum(not c.isspace() for c in chars) >= _BORN_DIGITAL_CHARS


def _same_size(where: str, info: PageInfo, w: int, h: int) -> None:
    if (info.width, info.height) != (w, h):
        raise ScanError(
            where, "corrupt", f"page {info.page} is {w}x{h}, was {info.width}x{info.height}"
        )


def _iter_raster(
    fh: BinaryIO, scan: ScanFile, where: str, limits: IntakeLimits
) -> Iterator[tuple[PageInfo, Image.Image]]:
    with _open_image(fh, scan.format, where) as im:
        for info in scan.pages:
            _decode_frame(im, info.page, where, limits)
            gray = to_gray(ImageOps.exif_transpose(im))
            _same_size(where, info, gray.width, gray.height)
            yield info, gray


def _iter_pdf(
    fh: BinaryIO, scan: ScanFile, where: str, limits: IntakeLimits
) -> Iterator[tuple[PageInfo, Image.Image]]:
    with PDFIUM_LOCK:
        pdf = _open_pdf(fh, where)
    try:
        for info in scan.pages:
            try:
                with PDFIUM_LOCK:  # not across the yield: the page's OCR runs unlocked
                    page = pdf[info.page]
                    try:
                        dpi = pdf_page_dpi(page.get_size(), limits)
                        bitmap = page.render(scale=dpi / 72, grayscale=True)
                        gray = to_gray(bitmap.to_pil())  # copies out of the PDFium buffer
                        bitmap.close()
                    finally:
                        page.close()
            except pdfium.PdfiumError as exc:
                raise ScanError(where, "broken_pdf", f"page {info.page}: {exc}") from exc
            if info.dpi == float(dpi):  # else inspected at another dpi: sizes differ
                _same_size(where, info, gray.width, gray.height)
            yield PageInfo(info.page, gray.width, gray.height, float(dpi)), gray
    finally:
        with PDFIUM_LOCK:
            pdf.close()


# --- page quality -------------------------------------------------------------------------------

# est_dpi assumes body text of BODY_PT points whose inked line (ascender top to descender
# bottom) spans LINE_EM ems; both are typical values, so est_dpi is good to about +-30 %:
# enough to catch a 100-DPI scan tagged 300, not to replace a real resolution tag.
BODY_PT = 10.0
LINE_EM = 1.0
BLANK_INK_RATIO = 0.002
_SKEW_MAX_DEG = 8.0
_SKEW_SIDE_PX = 1000  # skew is searched on a mask max-pooled to about this size


@dataclass(frozen=True)
class PageQuality:
    """Cheap image measures that predict OCR trouble; see :func:`page_quality`."""

    dpi: float | None  # from metadata
    est_dpi: float | None  # from text line height; None when no text-like lines
    blur: float  # variance of the Laplacian (higher = sharper)
    contrast: float  # (median paper gray - median ink gray) / 255
    skew_deg: float  # counter-clockwise rotation of the text lines; deskew by -skew_deg
    ink_ratio: float  # share of dark pixels
    text_rows: int  # text-like line runs found
    blank: bool


def _otsu(hist: np.ndarray) -> int:
    """Otsu threshold on a 256-bin histogram: pixels <= t are the dark class."""
    p = hist / max(hist.sum(), 1)
    omega = np.cumsum(p)
    mu = np.cumsum(p * np.arange(256))
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mu[-1] * omega - mu) ** 2 / (omega * (1.0 - omega))
    return int(np.argmax(np.nan_to_num(between[:255])))


def _hist_quantile(hist: np.ndarray, q: float) -> int:
    cum = np.cumsum(hist)
    return int(np.searchsorted(cum, q * cum[-1]))


def _laplacian_var(gray: np.ndarray) -> float:
    a = gray.astype(np.float32)
    lap = 4 * a[1:-1, 1:-1] - a[:-2, 1:-1] - a[2:, 1:-1] - a[1:-1, :-2] - a[1:-1, 2:]
    return float(lap.var()) if lap.size else 0.0


def _estimate_skew(dark: np.ndarray) -> float:
    """Angle (degrees, CCW) maximising the sharpness of the row projection profile.

    Rather than rotating the image per candidate, dark pixels of a max-pooled mask are
    projected onto rows ``y + x*tan(a)`` (text lines that rise to the right at angle ``a`` fall
    into one row); the score is the sum of squared row counts.
    """
    f = max(1, math.ceil(max(dark.shape) / _SKEW_SIDE_PX))
    h, w = dark.shape[0] // f, dark.shape[1] // f
    small = dark[: h * f, : w * f].reshape(h, f, w, f).any(axis=(1, 3)) if f > 1 else dark
    ys, xs = np.nonzero(small)
    if ys.size < 50:
        return 0.0
    step = max(1, ys.size // 200_000)
    ys, xs = ys[::step].astype(np.float64), xs[::step].astype(np.float64)

    def score(deg: float) -> float:
        rows = np.rint(ys + xs * math.tan(math.radians(deg))).astype(np.int64)
        counts = np.bincount(rows - rows.min()).astype(np.float64)
        return float(np.dot(counts, counts))

    coarse = np.arange(-_SKEW_MAX_DEG, _SKEW_MAX_DEG + 1e-9, 0.5)
    best = max(coarse.tolist(), key=score)
    fine = np.arange(best - 0.5, best + 0.5 + 1e-9, 0.05)
    angle: float = max(fine.tolist(), key=score)
    return float(np.clip(round(angle, 2), -_SKEW_MAX_DEG, _SKEW_MAX_DEG))


def _line_heights(dark: np.ndarray, skew_deg: float) -> np.ndarray:
    """Heights of runs of inked rows (text lines) after undoing the skew.

    Whole-width rows: narrow strips would see fewer ascenders/descenders at higher resolution,
    which made the estimate resolution-dependent. Side-by-side columns with misaligned
    baselines merge into taller runs; the median tolerates a minority of those.
    """
    if abs(skew_deg) >= 0.2:
        mask = Image.fromarray(dark).rotate(-skew_deg, resample=Image.Resampling.NEAREST)
        dark = np.asarray(mask, dtype=bool)
    # Columns inked over most of the height are the scanner bed or a dark margin beside the
    # paper, not text: left in, every row would be "inked" and no line run would be found.
    dark = dark[:, dark.mean(axis=0) < 0.5]
    edges = np.diff(np.concatenate(([0], dark.any(axis=1).view(np.int8), [0])))
    runs = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    # Rules and specks are too thin, frames and pictures too tall to be a text line.
    return runs[(runs >= 4) & (runs <= max(8, dark.shape[0] // 6))]


def page_quality(img: Image.Image, dpi: float | None) -> PageQuality:
    """Measure a grayscale page: resolution estimate, sharpness, contrast, skew and ink.

    Dark pixels are those at or below Otsu's threshold, capped 40 gray levels below the
    paper (90th percentile) so that an empty page's paper noise is not counted as ink.
    ``est_dpi`` = median inked line height / (LINE_EM * BODY_PT / 72): see the constants.
    """
    gray = np.asarray(img.convert("L") if img.mode != "L" else img)
    hist = np.bincount(gray.ravel(), minlength=256)
    paper = _hist_quantile(hist, 0.9)
    t = min(_otsu(hist), paper - 40)
    dark = gray <= t if t >= 0 else np.zeros(gray.shape, dtype=bool)
    n_dark = int(hist[: t + 1].sum()) if t >= 0 else 0
    ink_ratio = n_dark / max(gray.size, 1)
    if n_dark and n_dark < gray.size:
        ink = _hist_quantile(hist[: t + 1], 0.5)
        light = t + 1 + _hist_quantile(hist[t + 1 :], 0.5)
        contrast = (light - ink) / 255.0
    else:
        contrast = 0.0
    skew = _estimate_skew(dark) if ink_ratio >= BLANK_INK_RATIO else 0.0
    heights = _line_heights(dark, skew) if n_dark else np.zeros(0, dtype=np.int64)
    est = float(np.median(heights)) * 72.0 / (LINE_EM * BODY_PT) if heights.size else None
    return PageQuality(
        dpi=dpi,
        est_dpi=round(est, 1) if est is not None else None,
        blur=round(_laplacian_var(gray), 2),
        contrast=round(contrast, 4),
        skew_deg=skew,
        ink_ratio=round(ink_ratio, 5),
        text_rows=int(heights.size),
        # No ink, or ink without a single text-line run (a photo): nothing to read.
        blank=ink_ratio < BLANK_INK_RATIO or heights.size == 0,
    )


def effective_dpi(dpi: float | None, quality: PageQuality | None) -> float | None:
    """The resolution to act on: the dpi tag, unless absent or contradicted by the text size."""
    est = quality.est_dpi if quality is not None else None
    if dpi is None or dpi <= 0:
        return est
    if est is not None and not 1 / _META_VS_TEXT_DPI <= est / dpi <= _META_VS_TEXT_DPI:
        return est
    return dpi
