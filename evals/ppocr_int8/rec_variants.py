"""Recognition-cost variants of the default RapidOCR reading, on SROIE receipts, in one run.

    python -m evals.ppocr_int8.rec_variants --dataset ../shared/sroie-dev --ids 040-059 \
        --repeat 2

Each variant changes one thing of the default (``RapidConfig()``: int8 det, fp32 rec, min
ratio 3) and reads the same pages in this process, one variant after the other, repeated
(CPU seconds of the process, ``time.process_time``; the recogniser's share timed apart):

- ``ratio2``: segments padded to at least 2:1 instead of 3:1;
- ``squeeze0.75`` / ``squeeze0.6``: segments scaled to 75 % / 60 % of their width before
  recognition (fewer columns, the same 48 px height);
- ``arena``: the recogniser's ONNX Runtime session with its CPU memory arena on
  (RapidOCR turns it off; graph optimisation is already ORT_ENABLE_ALL, one thread,
  sequential execution);
- ``box0.65``: detection boxes scored below 0.65 (instead of 0.5) are not recognised.

``key_found`` counts the key values found verbatim in the text (``evals.ppocr_int8.compare``).
Then, for the default: how many segments the recogniser's result drops (score < text_score or
empty), and how many have implausible geometry (height < 10 px, width/height < 0.6 or > 25,
area < 300 px^2): what skipping them before recognition could save.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from docasset.core.ocr.rapid import (
    PaddedRecognizer,
    RapidConfig,
    loaded_rapidocr,
    session_options,
)


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s).lower()


class Timed:
    """The recogniser with its CPU time and each segment's (height, width, score, text)."""

    def __init__(self, rec: PaddedRecognizer) -> None:
        self.rec, self.squeeze, self.cpu = rec, 1.0, 0.0
        self.segments: list[tuple[int, int, float, str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rec, name)

    def __call__(self, args: Any) -> Any:
        t = time.process_time()
        if self.squeeze != 1.0:
            imgs = [args.img] if isinstance(args.img, np.ndarray) else list(args.img)
            args.img = [self._squeezed(i) for i in imgs]
        out = self.rec(args)
        self.cpu += time.process_time() - t
        for img, txt, score in zip(out.imgs, out.txts, out.scores, strict=True):
            self.segments.append((img.shape[0], img.shape[1], float(score), str(txt)))
        return out

    def _squeezed(self, img: np.ndarray) -> np.ndarray:
        import cv2

        return cv2.resize(img, (max(1, math.ceil(img.shape[1] * self.squeeze)), img.shape[0]))


def _session(rec: PaddedRecognizer, arena: bool) -> None:
    import onnxruntime as ort

    old = rec.rec.session.session
    so = session_options(RapidConfig())  # the shipped options, the arena as asked
    so.enable_cpu_mem_arena = arena
    rec.rec.session.session = ort.InferenceSession(
        old._model_path, sess_options=so, providers=["CPUExecutionProvider"]
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--ids", default="040-059", help="first-last receipt ids (inclusive)")
    p.add_argument("--repeat", type=int, default=1)
    a = p.parse_args(argv)
    if not (a.dataset / "img").is_dir():
        print(f"error: {a.dataset}/img not found (the SROIE folder)", file=sys.stderr)
        return 2
    lo, hi = (int(x) for x in a.ids.split("-"))
    ids = [f"{i:03d}" for i in range(lo, hi + 1)]
    pages = {i: np.asarray(Image.open(a.dataset / "img" / f"{i}.jpg").convert("L")) for i in ids}
    keys = {i: json.loads((a.dataset / "key" / f"{i}.json").read_text()) for i in ids}
    total = sum(len(k) for k in keys.values())
    config = RapidConfig()
    engine = loaded_rapidocr(config)
    rec: PaddedRecognizer = engine.text_rec
    timed = Timed(rec)
    engine.text_rec = timed
    post = engine.text_det.postprocess_op

    def ratio(v: float) -> Callable[[], None]:
        return lambda: setattr(rec, "min_ratio", v)

    def squeeze(v: float) -> Callable[[], None]:
        return lambda: setattr(timed, "squeeze", v)

    def box(v: float) -> Callable[[], None]:
        return lambda: setattr(post, "box_thresh", v)

    variants: list[tuple[str, Callable[[], None], Callable[[], None]]] = [
        ("default", lambda: None, lambda: None),
        ("ratio2", ratio(2.0), ratio(config.rec_min_ratio)),
        ("squeeze0.75", squeeze(0.75), squeeze(1.0)),
        ("squeeze0.6", squeeze(0.6), squeeze(1.0)),
        ("arena", lambda: _session(rec, True), lambda: _session(rec, False)),
        ("box0.65", box(0.65), box(post.box_thresh)),
    ]
    out: dict[str, dict[str, Any]] = {}
    for _ in range(a.repeat):
        for name, setup, undo in variants:
            setup()
            engine(pages[ids[0]])  # warm
            timed.cpu, timed.segments = 0.0, []
            t0 = time.process_time()
            texts = {i: list(engine(pages[i]).txts or ()) for i in ids}
            cpu = time.process_time() - t0
            undo()
            found = sum(
                _squash(str(v)) in _squash(" ".join(texts[i]))
                for i in ids
                for v in keys[i].values()
            )
            row = out.setdefault(name, {"cpu_s_per_page": [], "rec_cpu_s_per_page": []})
            row["cpu_s_per_page"].append(round(cpu / len(ids), 3))
            row["rec_cpu_s_per_page"].append(round(timed.cpu / len(ids), 3))
            row["segments_per_page"] = round(len(timed.segments) / len(ids), 1)
            row["key_found"] = f"{found}/{total}"
            print(name, row, file=sys.stderr, flush=True)
            if name == "default":
                segs = timed.segments
                dropped = [s for s in segs if s[2] < config.text_score or not s[3].strip()]
                odd = [
                    s
                    for s in segs
                    if s[0] < 10 or not 0.6 <= s[1] / s[0] <= 25 or s[0] * s[1] < 300
                ]
                out["segments"] = {
                    "recognised": len(segs),
                    "dropped_after_recognition": len(dropped),
                    "implausible_geometry": len(odd),
                    "implausible_and_dropped": len([s for s in odd if s in dropped]),
                }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
