"""Tiny hand-written PDFs for text-layer tests: pages with text objects (visible or
invisible, render mode 3) over an optional full-page grayscale image."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont


@dataclass
class Text:
    """One text line at ``(x, y)`` points from the bottom-left, Helvetica ``size`` pt."""

    x: float
    y: float
    text: str
    size: float = 11.0
    invisible: bool = False


@dataclass
class Page:
    """A page of ``width x height`` points: its text objects and an optional image."""

    texts: list[Text] = field(default_factory=list)
    image: Image.Image | None = None
    width: float = 612.0
    height: float = 792.0


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def write_pdf(path: Path, pages: list[Page]) -> Path:
    """Write ``pages`` as a valid PDF 1.4 file (xref offsets exact)."""
    objs: list[bytes] = []

    def add(body: bytes) -> int:
        objs.append(body)
        return len(objs)

    catalog = add(b"")
    pages_id = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    kids = []
    for p in pages:
        res = f"/Font << /F1 {font} 0 R >>"
        ops = []
        if p.image is not None:
            img = p.image.convert("L")
            data = zlib.compress(img.tobytes())
            im = add(
                f"<< /Type /XObject /Subtype /Image /Width {img.width} /Height {img.height} "
                f"/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode "
                f"/Length {len(data)} >>\nstream\n".encode()
                + data
                + b"\nendstream"
            )
            res += f" /XObject << /Im0 {im} 0 R >>"
            ops.append(f"q {p.width} 0 0 {p.height} 0 0 cm /Im0 Do Q")
        for t in p.texts:
            mode = 3 if t.invisible else 0
            ops.append(f"BT /F1 {t.size} Tf {mode} Tr {t.x} {t.y} Td ({_escape(t.text)}) Tj ET")
        content = "\n".join(ops).encode("latin-1")
        cid = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        kids.append(
            add(
                f"<< /Type /Page /Parent {pages_id} 0 R /MediaBox [0 0 {p.width} {p.height}] "
                f"/Resources << {res} >> /Contents {cid} 0 R >>".encode()
            )
        )
    objs[catalog - 1] = f"<< /Type /Catalog /Pages {pages_id} 0 R >>".encode()
    objs[pages_id - 1] = (
        f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>"
    ).encode()
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    trailer = f"trailer\n<< /Size {len(objs) + 1} /Root {catalog} 0 R >>\n"
    out += f"{trailer}startxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    return path


def text_image(
    lines: list[str], width: float = 612.0, height: float = 792.0, dpi: int = 150
) -> Image.Image:
    """A white page at ``dpi`` with ``lines`` printed large from the top (a 'scan')."""
    w, h = int(width * dpi / 72), int(height * dpi / 72)
    img = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=int(dpi * 0.22))
    for i, line in enumerate(lines):
        draw.text((int(dpi * 0.8), int(dpi * 0.8) + i * int(dpi * 0.4)), line, fill=0, font=font)
    return img


LINES = [
    "ORDER CONFIRMATION KXYZ TELEVISION",
    "Contract 554532 Advertiser Bernie 2020",
    "Flight Dates 11/12/19 - 11/24/19",
    "Gross Amount $39,600.00 Net 33,660.00",
]


def line_y(i: int, height: float = 792.0) -> float:
    """The baseline (points from the bottom) of ``text_image`` line ``i``."""
    return height - (0.8 * 72 + i * 0.4 * 72) - 0.2 * 72
