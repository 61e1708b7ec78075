"""Scan intake and page quality on files generated in tmp_path (no fixtures on disk)."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from docasset.core.intake.scans import (
    IntakeLimits,
    PageInfo,
    content_id,
    inspect_file,
    iter_pages,
    page_quality,
)
from docasset.errors import ScanError

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PROSE = (
    "The quick brown fox jumps over the lazy dog while invoices are processed. Total amount "
    "due 1,234.56 on 12/03/2024 payable to Acme Supplies Ltd by bank transfer. Please keep "
    "this receipt for your records and contact us with any questions. "
) * 8


def text_page(dpi: int = 200, pt: float = 10, size_in: tuple[float, float] = (4, 5)) -> Image.Image:
    """A white page of wrapped prose at ``pt`` points as scanned at ``dpi``."""
    w, h = round(size_in[0] * dpi), round(size_in[1] * dpi)
    img = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, round(pt / 72 * dpi))
    margin, pitch = round(0.4 * dpi), round(pt / 72 * dpi * 1.4)
    y, line = margin, ""
    for word in PROSE.split():
        if draw.textlength(f"{line} {word}", font=font) > w - 2 * margin:
            draw.text((margin, y), line, font=font, fill=0)
            y, line = y + pitch, word
            if y > h - margin - pitch:
                break
        else:
            line = f"{line} {word}".strip()
    return img


def save(img: Image.Image, path: Path, fmt: str, **kw: object) -> Path:
    img.save(path, format=fmt, **kw)
    return path


DEFAULT = IntakeLimits()


def reason(path: Path | str, limits: IntakeLimits = DEFAULT) -> str:
    with pytest.raises(ScanError) as info:
        inspect_file(path, limits)
    assert info.value.path == str(path)
    return info.value.reason


# --- identity and formats -------------------------------------------------------------------------


def test_content_id_is_sha256_prefix_and_location_independent(tmp_path: Path) -> None:
    data = save(text_page(100), tmp_path / "a.png", "PNG").read_bytes()
    (tmp_path / "sub").mkdir()
    copy = tmp_path / "sub" / "renamed.tif"
    copy.write_bytes(data)
    assert content_id(tmp_path / "a.png") == hashlib.sha256(data).hexdigest()[:16]
    assert content_id(copy) == content_id(tmp_path / "a.png")
    assert inspect_file(copy).doc_id == inspect_file(tmp_path / "a.png").doc_id


def test_format_comes_from_magic_bytes_not_extension(tmp_path: Path) -> None:
    path = save(text_page(100), tmp_path / "really_a_png.jpg", "PNG", dpi=(100, 100))
    scan = inspect_file(path)
    assert scan.format == "png"
    assert scan.size_bytes == path.stat().st_size
    assert scan.pages == (PageInfo(0, 400, 500, 100.0),)


def test_missing_dpi_is_none(tmp_path: Path) -> None:
    scan = inspect_file(save(Image.new("L", (50, 40), 255), tmp_path / "x.png", "PNG"))
    assert scan.pages[0].dpi is None


@pytest.mark.parametrize(
    "name",
    [b"scan\xff.png", b"with space & (1).png", "reçu_日本 ü.png".encode()],
)
def test_odd_file_names(tmp_path: Path, name: bytes) -> None:
    raw = os.path.join(os.fsencode(tmp_path), name)
    with open(raw, "wb") as fh:
        text_page(100).save(fh, format="PNG")
    path = os.fsdecode(raw)  # non-UTF-8 bytes survive as surrogate escapes
    scan = inspect_file(path)
    (info, img), *rest = list(iter_pages(scan))
    assert not rest and img.size == (info.width, info.height) == (400, 500)
    os.truncate(raw, 10)
    assert reason(path) == "corrupt"


def test_odd_name_pdf(tmp_path: Path) -> None:
    raw = os.path.join(os.fsencode(tmp_path), b"scan \xfe.pdf")
    buf = io.BytesIO()  # PIL's PDF writer chokes on a non-UTF-8 file name as title
    text_page(100).save(buf, format="PDF", resolution=100)
    with open(raw, "wb") as fh:
        fh.write(buf.getvalue())
    scan = inspect_file(os.fsdecode(raw))
    assert scan.format == "pdf" and len(list(iter_pages(scan))) == 1


def test_jpeg_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = Image.new("L", (200, 100), 255)
    ImageDraw.Draw(img).rectangle((0, 0, 49, 99), fill=0)  # dark band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90 degrees clockwise
    scan = inspect_file(save(img, tmp_path / "o.jpg", "JPEG", exif=exif, quality=95))
    assert (scan.pages[0].width, scan.pages[0].height) == (100, 200)
    ((_, page),) = list(iter_pages(scan))
    arr = np.asarray(page)
    assert page.mode == "L" and page.size == (100, 200)
    assert arr[:40].mean() < 60 and arr[60:].mean() > 200  # the band is now at the top


def test_multipage_tiff_in_order_and_grayscale(tmp_path: Path) -> None:
    pages = [Image.new("RGB", (120 + 10 * i, 80), (40 * i,) * 3) for i in range(4)]
    path = tmp_path / "multi.tif"
    pages[0].save(path, format="TIFF", save_all=True, append_images=pages[1:], dpi=(200, 200))
    scan = inspect_file(path)
    assert scan.format == "tiff" and [p.width for p in scan.pages] == [120, 130, 140, 150]
    seen = []
    for info, img in iter_pages(scan):
        assert img.mode == "L" and img.size == (info.width, info.height)
        seen.append((info.page, int(np.asarray(img).mean())))
    assert seen == [(0, 0), (1, 40), (2, 80), (3, 120)]


def test_tiff_16bit_and_transparent_png_become_sensible_gray(tmp_path: Path) -> None:
    deep = Image.fromarray(np.full((20, 30), 65535, dtype=np.uint16))
    rgba = Image.new("RGBA", (30, 20), (0, 0, 0, 0))  # fully transparent black = white paper
    for path, img in [(tmp_path / "d.tiff", deep), (tmp_path / "t.png", rgba)]:
        ((_, page),) = list(iter_pages(inspect_file(save(img, path, path.suffix[1:].upper()))))
        assert page.mode == "L" and np.asarray(page).min() == 255


def test_pdf_rasterised_at_limits_dpi(tmp_path: Path) -> None:
    a, b = Image.new("L", (200, 100), 255), Image.new("L", (100, 300), 0)
    path = tmp_path / "doc.pdf"
    a.save(path, format="PDF", resolution=100, save_all=True, append_images=[b])  # 2x1, 1x3 in
    limits = IntakeLimits(pdf_dpi=150)
    scan = inspect_file(path, limits)
    assert scan.format == "pdf"
    # PDFium rounds pixel sizes up (216 pt * 150/72 = 450.00000000000006 -> 451).
    assert [(p.page, p.dpi) for p in scan.pages] == [(0, 150.0), (1, 150.0)]
    sizes = [(p.width, p.height) for p in scan.pages]
    assert np.allclose(sizes, [(300, 150), (150, 450)], atol=1)
    got = [
        (info, img.mode, img.size, int(np.asarray(img).mean()))
        for info, img in iter_pages(scan, limits)
    ]
    assert got == [
        (scan.pages[0], "L", sizes[0], 255),
        (scan.pages[1], "L", sizes[1], 0),
    ]


# --- every ScanError reason -----------------------------------------------------------------------


def test_zero_bytes(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    assert reason(tmp_path / "empty.png") == "zero_bytes"


def test_too_large(tmp_path: Path) -> None:
    path = save(text_page(100), tmp_path / "big.png", "PNG")
    assert reason(path, IntakeLimits(max_bytes=1000)) == "too_large"


def test_text_file_named_png_is_unsupported(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("just some text, not an image\n")
    assert reason(tmp_path / "notes.png") == "unsupported_format"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF"])
def test_truncated_images_are_corrupt(tmp_path: Path, fmt: str) -> None:
    buf = io.BytesIO()
    text_page(150).save(buf, format=fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) * 2 // 3])
    assert reason(path) == "corrupt"


def test_missing_file_is_unreadable_and_only_regular_files_are_read(tmp_path: Path) -> None:
    assert reason(tmp_path / "nope.png") == "unreadable"
    (tmp_path / "dir.png").mkdir()
    assert reason(tmp_path / "dir.png") == "not_regular_file"
    os.mkfifo(tmp_path / "pipe.png")  # opening it would block: it is never opened
    assert reason(tmp_path / "pipe.png") == "not_regular_file"
    real = save(text_page(100), tmp_path / "real.png", "PNG")
    os.symlink(real, tmp_path / "link.png")  # never followed, even to a good image
    with pytest.raises(ScanError, match="symlink to") as info:
        inspect_file(tmp_path / "link.png")
    assert info.value.reason == "not_regular_file"


def _inspect_as_nobody(path: Path) -> str:
    """``inspect_file`` in a forked child running as ``nobody`` (root reads any file, so
    permissions are only denied to an unprivileged user); returns the outcome."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to nobody, inspect, report, exit without cleanup
        try:
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            try:
                inspect_file(path)
                out = "ok"
            except ScanError as exc:
                out = exc.reason
        except BaseException as exc:  # report anything, never run the parent's tests twice
            out = f"child failed: {exc!r}"
        os.write(write, out.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as fh:
        out = fh.read()
    os.waitpid(pid, 0)
    return out


def test_permission_denied_is_unreadable() -> None:
    # A directory anyone may enter (pytest's tmp_path is private to its user).
    base = Path(tempfile.mkdtemp(prefix="docasset-perm-"))
    try:
        base.chmod(0o755)
        readable = save(text_page(100), base / "readable.png", "PNG")
        locked = save(text_page(100), base / "locked.png", "PNG")
        readable.chmod(0o644)
        locked.chmod(0)
        if os.geteuid() == 0:
            assert _inspect_as_nobody(readable) == "ok"  # the setting lets nobody read ...
            assert _inspect_as_nobody(locked) == "unreadable"  # ... all but the locked file
        else:
            inspect_file(readable)
            assert reason(locked) == "unreadable"
    finally:
        shutil.rmtree(base)


def test_broken_pdf(tmp_path: Path) -> None:
    (tmp_path / "b.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage\n%%EOF")
    assert reason(tmp_path / "b.pdf") == "broken_pdf"


def _rc4(key: bytes, data: bytes) -> bytes:
    s, j = list(range(256)), 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def encrypted_pdf(user_pw: bytes, owner_pw: bytes) -> bytes:
    """A one-page PDF encrypted with the Standard handler, RC4 40-bit (PDF 1.7 §7.6.3, R2)."""
    pad = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
    file_id, perms = b"0123456789abcdef", -4
    o_key = hashlib.md5((owner_pw + pad)[:32]).digest()[:5]
    o_val = _rc4(o_key, (user_pw + pad)[:32])
    key = hashlib.md5((user_pw + pad)[:32] + o_val + struct.pack("<i", perms) + file_id).digest()
    u_val = _rc4(key[:5], pad)
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>"
        % (o_val.hex().encode(), u_val.hex().encode(), perms),
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size 5 /Root 1 0 R /Encrypt 4 0 R /ID [<%s> <%s>] >>\n" % (
        (file_id.hex().encode(),) * 2
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def test_encrypted_pdf(tmp_path: Path) -> None:
    path = tmp_path / "locked.pdf"
    path.write_bytes(encrypted_pdf(b"user-secret", b"owner-secret"))
    with pdfium.PdfDocument(path, password="user-secret") as pdf:  # the file is valid
        assert len(pdf) == 1
    assert reason(path) == "encrypted_pdf"


def test_decompression_bomb_by_our_cap(tmp_path: Path) -> None:
    # 81 Mpx of one colour: a ~10 kB file that would decode to 81 MB in mode "L".
    path = save(Image.new("1", (9000, 9000), 1), tmp_path / "bomb.png", "PNG")
    assert path.stat().st_size < 200_000
    assert reason(path) == "decompression_bomb"


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares ``width`` x ``height`` with one tiny IDAT chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def test_decompression_bomb_by_pil_cap(tmp_path: Path) -> None:
    (tmp_path / "huge.png").write_bytes(png_header_only(40_000, 40_000))  # 1.6 Gpx
    # Our cap raised above PIL's so that PIL's DecompressionBombError is what fires.
    assert reason(tmp_path / "huge.png", IntakeLimits(max_pixels_per_page=10**10)) == (
        "decompression_bomb"
    )


def test_pdf_page_that_would_rasterise_too_big(tmp_path: Path) -> None:
    path = tmp_path / "poster.pdf"
    Image.new("L", (100, 100), 255).save(path, format="PDF", resolution=1)  # 100x100 inches
    assert reason(path) == "decompression_bomb"  # 100 DPI, the floor, would be 100 Mpx
    # A 30-inch schedule fits the pixel cap at a coarser DPI: rasterised, not refused.
    poster = tmp_path / "schedule.pdf"
    Image.new("L", (31, 24), 255).save(poster, format="PDF", resolution=1)
    [page] = inspect_file(poster).pages
    assert 100 <= (page.dpi or 0) < 300 and page.width * page.height <= 60_000_000


def test_too_many_pages(tmp_path: Path) -> None:
    pages = [Image.new("L", (20, 20), 255) for _ in range(3)]
    limits = IntakeLimits(max_pages=2)
    for fmt in ("TIFF", "PDF"):
        path = tmp_path / f"three.{fmt.lower()}"
        pages[0].save(path, format=fmt, save_all=True, append_images=pages[1:])
        assert reason(path, limits) == "too_many_pages"


# --- page quality ---------------------------------------------------------------------------------


def test_blank_pages_are_blank() -> None:
    white = page_quality(Image.new("L", (800, 1000), 255), 300)
    rng = np.random.default_rng(0)
    noisy = Image.fromarray(np.clip(rng.normal(235, 6, (1000, 800)), 0, 255).astype(np.uint8))
    assert white.blank and page_quality(noisy, 300).blank and white.est_dpi is None
    text = page_quality(text_page(200), 200)
    assert not text.blank and text.ink_ratio > 0.02 and text.contrast > 0.8


def test_dark_scanner_margins_do_not_make_a_page_blank() -> None:
    # A receipt on a dark scanner bed: inked columns on both sides of the paper (SROIE scans).
    page = np.asarray(text_page(200)).copy()
    bed = np.zeros((page.shape[0], page.shape[1] + 200), dtype=np.uint8)
    bed[:, 100:-100] = page
    clean = page_quality(text_page(200), None)
    framed = page_quality(Image.fromarray(bed), None)
    assert not framed.blank and framed.text_rows == clean.text_rows
    assert framed.est_dpi == clean.est_dpi


def test_blur_score_drops_when_blurred() -> None:
    sharp = text_page(200)
    blurred = sharp.filter(ImageFilter.GaussianBlur(2))
    assert page_quality(blurred, 200).blur < 0.2 * page_quality(sharp, 200).blur


@pytest.mark.parametrize("angle", [3.0, -5.0, 0.0])
def test_skew_is_estimated_within_one_degree(angle: float) -> None:
    img = text_page(200).rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    assert page_quality(img, 200).skew_deg == pytest.approx(angle, abs=1.0)


def test_low_resolution_page_tagged_300_is_detected() -> None:
    q = page_quality(text_page(100), 300)  # 10-point text scanned at 100 DPI, tagged 300
    assert q.dpi == 300 and q.est_dpi == pytest.approx(100, rel=0.25)
    assert page_quality(text_page(300), 300).est_dpi == pytest.approx(300, rel=0.25)
