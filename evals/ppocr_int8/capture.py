"""Capture PP-OCR detection and recognition input tensors on calibration receipts.

    python -m evals.ppocr_int8.capture --dataset ../shared/sroie-dev --out DIR

Runs the production RapidOCR configuration (``RapidConfig``) on SROIE receipts 000-038 (even
ids: the development half only) and saves every detection input and every 7th recognition
input as ``det_NNNNN.npy`` / ``rec_NNNNN.npy``, padded or cropped to one shape per model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from docasset.core.ocr.rapid import RapidConfig, loaded_rapidocr

DET_SHAPE, REC_SHAPE = (960, 960), (48, 320)
CALIBRATION_IDS = [f"{i:03d}" for i in range(0, 40, 2)]


def _fit(x: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    out = np.zeros((1, 3, *hw), np.float32)
    h, w = min(x.shape[2], hw[0]), min(x.shape[3], hw[1])
    out[:, :, :h, :w] = x[:1, :, :h, :w]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args(argv)
    if not (a.dataset / "img").is_dir():
        print(f"error: {a.dataset}/img not found (the SROIE folder)", file=sys.stderr)
        return 2
    from rapidocr.inference_engine.onnxruntime import main as ort_main

    a.out.mkdir(parents=True, exist_ok=True)
    counts = {"det": 0, "rec": 0}
    original = ort_main.OrtInferSession.__call__

    def capture(self: Any, x: np.ndarray) -> Any:
        kind = "rec" if x.shape[2] == REC_SHAPE[0] else "det"
        if kind == "det" or counts["rec"] % 7 == 0:
            np.save(
                a.out / f"{kind}_{counts[kind]:05d}.npy",
                _fit(x, DET_SHAPE if kind == "det" else REC_SHAPE),
            )
        counts[kind] += 1
        return original(self, x)

    ort_main.OrtInferSession.__call__ = capture  # type: ignore[method-assign]
    engine = loaded_rapidocr(RapidConfig())
    for doc in CALIBRATION_IDS:
        engine(np.asarray(Image.open(a.dataset / "img" / f"{doc}.jpg").convert("L")))
    print(f"captured {counts['det']} detection and {counts['rec'] // 7 + 1} recognition inputs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
