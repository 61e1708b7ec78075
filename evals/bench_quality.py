"""Page-quality measure speed: ``page_quality`` on a 1000x2000 px text page, CPU seconds per page.

Budget 0.15 s per page on one core (``raw_scans`` measures every page once). Prints one JSON
object: the median and worst CPU time of ``--reps`` repetitions and whether the median is
within the budget. CPU time (``time.process_time``), not wall time, so a loaded machine does
not change the figure much.

    python -m evals.bench_quality [--reps 9]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from PIL import Image, ImageDraw, ImageFont

from docasset.core.intake.scans import page_quality

BUDGET_S = 0.15
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def text_page(width: int = 1000, height: int = 2000, line_px: int = 28) -> Image.Image:
    """A white page of dense text lines (about 10 pt at 250 DPI, scaled to the page)."""
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, round(line_px * 0.7))
    words = [
        "TOTAL",
        "AMOUNT",
        "12.50",
        "RECEIPT",
        "CASHIER",
        "JALAN",
        "SATU",
        "01/02/2019",
        "ACME",
        "SDN",
        "BHD",
    ]
    for i, y in enumerate(range(80, height - 80, line_px)):
        draw.text((60, y), " ".join(words[(i + k) % len(words)] for k in range(9)), 0, font)
    return img


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=9)
    args = p.parse_args(argv)
    page = text_page()
    page_quality(page, 300)  # warm-up (imports, allocations)
    times = []
    for _ in range(max(1, args.reps)):
        t = time.process_time()
        page_quality(page, 300)
        times.append(time.process_time() - t)
    median = statistics.median(times)
    print(
        json.dumps(
            {
                "page_px": list(page.size),
                "reps": len(times),
                "cpu_s_median": round(median, 4),
                "cpu_s_max": round(max(times), 4),
                "budget_s": BUDGET_S,
                "within_budget": median <= BUDGET_S,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
