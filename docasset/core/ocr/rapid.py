"""OCR with PP-OCR (RapidOCR on ONNX Runtime): the models ship inside the ``rapidocr`` wheel.

RapidOCR detects text *segments* (rotated quadrilaterals) and recognises one string per
segment; nothing is downloaded at run time (``tests/core/ocr/test_rapid.py`` runs it with no
network and an empty ``HOME``). Its output becomes the word table in three steps:

1. **Rows**: a receipt row such as ``TOTAL ...... 9.00`` comes back as separate segments, so
   segments are merged into visual rows (:func:`merge_rows`, skew-aware; measured on 60 SROIE
   receipts it puts TOTAL and its amount on one line 50 times in 60, against 13 unmerged).
2. **Words**: each segment's string is split at whitespace and every word gets the part of the
   segment's quadrilateral proportional to its character positions (a character, space
   included, takes 1/len of the segment's width, measured along its top and bottom edges, so
   skewed segments stay skewed); the word's box is the axis-aligned bounding box of that part,
   clipped to the page, in original page pixels.
3. **Numbers and confidence**: ``block`` and ``par`` are 1, ``line`` is the visual row
   (1-based, top to bottom), ``word`` counts words left to right across the row's segments;
   ``conf`` is the segment's recognition score x 100 (the same for each of its words).

One engine instance (models loaded once per process and settings) serves every worker
thread: ONNX Runtime releases the GIL while it computes, and it runs with one intra-op thread
so that parallelism comes from documents, as with Tesseract.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from PIL import Image

from docasset.core.intake.scans import PageQuality
from docasset.core.ocr.engine import PageEngine
from docasset.core.ocr.words import WORD_DTYPES, empty_words, validate_words
from docasset.core.tunable import tunable
from docasset.errors import OcrError

_ROW_CANDIDATES = 4  # a segment may join one of the last few rows (interleaved columns)


@dataclass(frozen=True)
class RapidConfig:
    """How RapidOCR (PP-OCRv6 small det/rec, bundled in the wheel) reads pages.

    Defaults measured on SROIE receipts 000-059 (one core): the text direction classifier off
    (upright scans; it cost time and no accuracy), detection on the page scaled so its longer
    side is at most 960 px (CER 0.069 vs 0.068 at RapidOCR's default size, at 65 % of the CPU
    and 450 MB instead of 1.1 GB peak RSS), recognition one segment at a time.
    """

    det_max_side: int = tunable(
        960,
        "Text detection runs on the page scaled to at most this longer side (pixels).",
        ge=32,
    )
    text_score: float = tunable(
        0.5,
        "Segments recognised with a lower score (0-1) are dropped (RapidOCR's default).",
        ge=0,
        le=1,
    )
    det_model: str = tunable(
        "int8",
        "The PP-OCRv6 small text detection model: int8 (statically quantized, shipped in "
        "docasset/ocr_models with its checksum; evals/ppocr_int8/README.md) or fp32 (the "
        "rapidocr wheel's). Chosen on SROIE 040-099: int8 reads the same key values at a third "
        "of detection's CPU (docs/ocr-cost.md).",
    )
    rec_model: str = tunable(
        "fp32",
        "The PP-OCRv6 small recognition model: fp32 (the wheel's) or int8 (shipped; cheaper, "
        "but it found 2 points fewer key values on SROIE 040-099).",
    )
    rec_min_ratio: float = tunable(
        3.0,
        "Each recognised segment is padded to at least this width/height ratio (RapidOCR pads "
        "to 320/48 = 6.67; less padding is less work for narrow segments, and 3 read the same "
        "key values on SROIE 040-099).",
        gt=0,
    )
    mem_pattern: bool = tunable(
        False,
        "ONNX Runtime's memory pattern (one block planned per input shape for all of a run's "
        "intermediate tensors). Off, with the arena on: the hybrid worker's peak RSS 602-700 -> "
        "507-526 MB on SROIE 040-059, the same reading and CPU (docs/ocr-cost.md).",
    )
    cpu_mem_arena: bool = tunable(
        True,
        "ONNX Runtime's CPU memory arena (intermediate tensors reused instead of allocated and "
        "freed per operator): with the memory pattern off it keeps the CPU per page as it was "
        "(docs/ocr-cost.md).",
    )
    row_tolerance: float = tunable(
        0.35,
        "A segment joins a row when its centre is within this share of the smaller of the two "
        "heights from the row's centre line.",
        ge=0,
        le=1,
    )


@dataclass(frozen=True)
class Segment:
    """One recognised text segment: quadrilateral (tl, tr, br, bl) in page pixels."""

    quad: np.ndarray
    text: str
    score: float

    @property
    def centre(self) -> tuple[float, float]:
        return float(self.quad[:, 0].mean()), float(self.quad[:, 1].mean())

    @property
    def width(self) -> float:
        return max(float(np.hypot(*(self.quad[1] - self.quad[0]))), 1.0)

    @property
    def height(self) -> float:
        return max(float(np.hypot(*(self.quad[3] - self.quad[0]))), 1.0)

    @property
    def slope(self) -> float:
        dx, dy = self.quad[1] - self.quad[0]
        return float(dy / dx) if abs(dx) > 1 else 0.0


def merge_rows(segments: list[Segment], tolerance: float = 0.35) -> list[list[Segment]]:
    """Group segments into visual rows, top to bottom, each row's segments left to right.

    Segments are taken by centre y; a segment joins the nearest of the last few rows when its
    centre lies within ``tolerance * min(its height, the anchor's height)`` of the row's centre
    line, extended at the slope of the row's anchor (its widest segment) to the segment's x.
    Vertical overlap would be a poor test: detection boxes are inflated (unclip 1.6).
    """
    rows: list[tuple[list[Segment], Segment]] = []  # (members, anchor)
    for seg in sorted(segments, key=lambda s: s.centre[1]):
        x, y = seg.centre
        best: int | None = None
        best_d = math.inf
        for i in range(max(0, len(rows) - _ROW_CANDIDATES), len(rows)):
            anchor = rows[i][1]
            ax, ay = anchor.centre
            d = abs(y - (ay + anchor.slope * (x - ax)))
            if d <= tolerance * min(seg.height, anchor.height) and d < best_d:
                best, best_d = i, d
        if best is None:
            rows.append(([seg], seg))
        else:
            members, anchor = rows[best]
            members.append(seg)
            rows[best] = (members, seg if seg.width > anchor.width else anchor)
    ordered = sorted(rows, key=lambda r: float(np.mean([s.centre[1] for s in r[0]])))
    return [sorted(members, key=lambda s: float(s.quad[:, 0].min())) for members, _ in ordered]


def split_words(seg: Segment) -> list[tuple[str, np.ndarray]]:
    """The segment's words with their quadrilaterals, proportional to character positions."""
    n = len(seg.text)
    tl, tr, br, bl = (seg.quad[i].astype(np.float64) for i in range(4))
    out = []
    for m in re.finditer(r"\S+", seg.text):
        a, b = m.start() / n, m.end() / n
        quad = np.stack(
            [tl + a * (tr - tl), tl + b * (tr - tl), bl + b * (br - bl), bl + a * (br - bl)]
        )
        out.append((m.group(0), quad))
    return out


def words_frame(
    rows: list[list[Segment]], doc_id: str, page: int, size: tuple[int, int]
) -> pl.DataFrame:
    """Rows of segments as a validated word table (see the module docstring)."""
    recs: dict[str, list[Any]] = {k: [] for k in WORD_DTYPES}
    for line_no, row in enumerate(rows, start=1):
        word_no = 0
        for seg in row:
            for text, quad in split_words(seg):
                word_no += 1
                x0 = int(np.clip(math.floor(quad[:, 0].min()), 0, size[0]))
                y0 = int(np.clip(math.floor(quad[:, 1].min()), 0, size[1]))
                x1 = int(np.clip(math.ceil(quad[:, 0].max()), 0, size[0]))
                y1 = int(np.clip(math.ceil(quad[:, 1].max()), 0, size[1]))
                for k, v in (
                    ("doc_id", doc_id),
                    ("page", page),
                    ("block", 1),
                    ("par", 1),
                    ("line", line_no),
                    ("word", word_no),
                    ("left", x0),
                    ("top", y0),
                    ("width", x1 - x0),
                    ("height", y1 - y0),
                    ("conf", float(np.clip(seg.score * 100.0, 0.0, 100.0))),
                    ("text", text),
                    ("engine", "rapidocr"),
                ):
                    recs[k].append(v)
    if not recs["text"]:
        return empty_words()
    return validate_words(pl.DataFrame(recs, schema=WORD_DTYPES))


_LOCK = threading.Lock()
_LOADED: dict[tuple[Any, ...], Any] = {}  # settings that shape the instance -> RapidOCR
MODEL_DIR = Path(__file__).resolve().parents[2] / "ocr_models"
MODEL_KINDS = ("fp32", "int8")
_LIBRARY_MIN_RATIO = 320 / 48  # RapidOCR pads every segment to at least 320 x 48


def int8_model_path(kind: str, model_dir: Path = MODEL_DIR) -> Path:
    """The shipped int8 ``det`` or ``rec`` model, its SHA-256 sum checked against
    SHA256SUMS."""
    name = f"PP-OCRv6_{kind}_small.int8.onnx"
    path = model_dir / name
    expected = recorded_sum(name, model_dir)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise OcrError(f"{path}: cannot read the int8 model ({exc})") from exc
    if expected != digest:
        raise OcrError(
            f"{path}: checksum {digest[:12]}... does not match {model_dir / 'SHA256SUMS'}; "
            "rebuild it as "
            "evals/ppocr_int8/README.md says"
        )
    return path


class PaddedRecognizer:
    """RapidOCR's recogniser with each segment padded to ``max(min_ratio, its ratio) x 48``
    instead of at least 320 x 48, one segment per call as before (batching pads segments to
    the widest of the batch and changes what is read)."""

    def __init__(self, rec: Any, min_ratio: float) -> None:
        self.rec, self.min_ratio = rec, min_ratio

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rec, name)

    def _normalised(self, img: np.ndarray, ratio: float) -> np.ndarray:
        import cv2

        channels, height, _ = self.rec.rec_image_shape
        width = int(height * ratio)
        resized = min(width, math.ceil(height * img.shape[1] / float(img.shape[0])))
        x = cv2.resize(img, (resized, height)).astype(np.float32).transpose((2, 0, 1)) / 255
        out = np.zeros((channels, height, width), dtype=np.float32)
        out[:, :, :resized] = (x - 0.5) / 0.5
        return out

    def __call__(self, args: Any) -> Any:
        from rapidocr.ch_ppocr_rec.typings import TextRecOutput

        imgs = [args.img] if isinstance(args.img, np.ndarray) else list(args.img)
        txts, scores = [], []
        for img in imgs:
            ratio = max(self.min_ratio, img.shape[1] / float(img.shape[0]))
            x = self._normalised(img, ratio)[np.newaxis]
            lines, _ = self.rec.postprocess_op(
                self.rec.session(x), False, wh_ratio_list=[ratio], max_wh_ratio=ratio
            )
            txts.append(lines[0][0])
            scores.append(lines[0][1])
        word_results: Any = tuple((None,) for _ in imgs)  # no word boxes asked
        return TextRecOutput(imgs, tuple(txts), scores, word_results, 0.0)


def session_options(config: RapidConfig) -> Any:
    """The ONNX Runtime options of both PP-OCR sessions: one intra-/inter-op thread
    (parallelism comes from documents), the memory pattern and the CPU arena per ``config``,
    every graph optimisation, errors only."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    # Measured on SROIE 040-059 (docs/ocr-cost.md): the pattern on (ONNX Runtime's default)
    # cost the worker ~125 MB of peak RSS; off alone it cost ~7 % more CPU per page (tensors
    # allocated and freed operator by operator), which the arena takes back.
    opts.enable_mem_pattern = config.mem_pattern
    opts.enable_cpu_mem_arena = config.cpu_mem_arena
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 4
    return opts


def _model_path(engine: Any, kind: str, precision: str) -> Path:
    """The ONNX file RapidOCR would load for ``kind`` (Det/Rec): the shipped int8 model
    (checksum checked) or the wheel's fp32 model, which must be there (never downloaded)."""
    if precision not in MODEL_KINDS:
        raise OcrError(f"rapidocr.{kind.lower()}_model is {precision!r}: fp32 or int8")
    if precision == "int8":
        return int8_model_path(kind.lower())
    from rapidocr.inference_engine.base import FileInfo, InferSession

    cfg = engine.cfg[kind]
    info = InferSession.get_model_url(
        FileInfo(
            engine_type=cfg.engine_type,
            ocr_version=cfg.ocr_version,
            task_type=cfg.task_type,
            lang_type=cfg.lang_type,
            model_type=cfg.model_type,
        )
    )
    path = Path(engine.cfg.Global.model_root_dir) / Path(info["model_dir"]).name
    if not path.is_file():
        raise OcrError(f"{path}: the rapidocr wheel's {kind.lower()} model is missing")
    return path


def _new_rapidocr(config: RapidConfig) -> Any:
    """A RapidOCR instance for these settings with docasset's ONNX sessions (see
    :func:`session_options`) handed to it; the models are loaded here."""
    # Belt and braces: onnxruntime 1.28 (pinned) has no telemetry; later versions do.
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    try:
        import cv2
        import onnxruntime as ort
        from omegaconf import flag_override
        from onnxruntime.capi.onnxruntime_pybind11_state import (
            Fail,
            InvalidArgument,
            InvalidProtobuf,
            NoSuchFile,
        )
        from rapidocr import RapidOCR
    except ImportError as exc:
        raise OcrError(
            "the rapidocr engine needs the rapidocr, onnxruntime and opencv-python-headless "
            "packages (pinned in constraints.txt)"
        ) from exc
    cv2.setNumThreads(1)  # parallelism comes from documents, as with Tesseract
    ort_load_errors = (Fail, InvalidArgument, InvalidProtobuf, NoSuchFile)
    engine = RapidOCR(
        params={
            "Global.use_cls": False,
            "Global.log_level": "warning",
            "Global.text_score": config.text_score,
            "Det.limit_type": "max",
            "Det.limit_side_len": config.det_max_side,
            "Rec.rec_batch_num": 1,
        }
    )
    # RapidOCR builds its sessions from options it does not expose (the memory pattern), but
    # takes a ready session from its config (rapidocr PR #451); an OmegaConf config holds
    # one only with allow_objects.
    for kind, precision in (("Det", config.det_model), ("Rec", config.rec_model)):
        path = _model_path(engine, kind, precision)
        try:
            session = ort.InferenceSession(
                str(path), sess_options=session_options(config), providers=["CPUExecutionProvider"]
            )
        except ort_load_errors as exc:
            raise OcrError(f"{path}: onnxruntime cannot load the model ({exc})") from exc
        with flag_override(engine.cfg, "allow_objects", True):
            engine.cfg[kind].session = session
    return engine


def loaded_rapidocr(config: RapidConfig) -> Any:
    """The process's RapidOCR instance for these settings, models loaded (once)."""
    key = (
        config.det_max_side,
        config.text_score,
        config.det_model,
        config.rec_model,
        config.rec_min_ratio,
        config.mem_pattern,
        config.cpu_mem_arena,
    )
    with _LOCK:
        if key not in _LOADED:
            engine = _new_rapidocr(config)
            engine._load_det_model()  # wrap the sessions now, under the lock
            engine._load_rec_model()
            if config.rec_min_ratio != _LIBRARY_MIN_RATIO:
                engine.text_rec = PaddedRecognizer(engine.text_rec, config.rec_min_ratio)
            _LOADED[key] = engine
        return _LOADED[key]


def recorded_sum(name: str, model_dir: Path = MODEL_DIR) -> str:
    """The SHA-256 sum SHA256SUMS records for a shipped model (the file itself is not read)."""
    sums_file = model_dir / "SHA256SUMS"
    try:
        lines = [line.split(maxsplit=1) for line in sums_file.read_text().splitlines()]
    except OSError as exc:
        raise OcrError(f"{sums_file}: cannot read the int8 models' checksums ({exc})") from exc
    for parts in lines:
        if len(parts) == 2 and parts[1].lstrip("*") == name:
            return parts[0]
    raise OcrError(f"{sums_file}: no checksum for {name}; see evals/ppocr_int8/README.md")


def _model_id(kind: str, precision: str) -> str:
    """Which model a reading used: the wheel's fp32 model (named by the wheel's version) or the
    shipped int8 model (named by its recorded checksum, which loading verifies)."""
    if precision not in MODEL_KINDS:
        raise OcrError(f"rapidocr.{kind}_model is {precision!r}: fp32 or int8")
    if precision == "fp32":
        return f"{kind} fp32"
    return f"{kind} int8 {recorded_sum(f'PP-OCRv6_{kind}_small.int8.onnx')[:12]}"


@lru_cache(maxsize=8)
def _version(config: RapidConfig) -> str:
    """rapidocr's version, its models, onnxruntime's version, and the detection size.

    Read from package metadata and SHA256SUMS: neither rapidocr nor onnxruntime is imported
    and no model is built (building a RapidOCR object for its config cost ~2 CPU-s per
    process, paid by every run that reports its OCR versions).
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        rapidocr_v, ort_v = version("rapidocr"), version("onnxruntime")
    except PackageNotFoundError as exc:
        raise OcrError(
            "the rapidocr engine needs the rapidocr and onnxruntime packages (pinned in "
            f"constraints.txt): {exc}"
        ) from exc
    det, rec = _model_id("det", config.det_model), _model_id("rec", config.rec_model)
    return (
        f"{rapidocr_v} (PP-OCRv6 small {det} {rec}, onnxruntime {ort_v}, "
        f"det max side {config.det_max_side}, rec min ratio {config.rec_min_ratio:.2f})"
    )


def _engine_errors() -> tuple[type[BaseException], ...]:
    import cv2
    from rapidocr.inference_engine.onnxruntime.main import ONNXRuntimeError
    from rapidocr.main import RapidOCRError

    return (ONNXRuntimeError, RapidOCRError, cv2.error)


class RapidEngine(PageEngine):
    """PP-OCR through RapidOCR, its bundled models, one ONNX Runtime thread per call."""

    name = "rapidocr"

    def __init__(self, config: RapidConfig = RapidConfig()) -> None:
        self.config = config

    def warm_up(self) -> None:
        loaded_rapidocr(self.config)

    def versions(self) -> dict[str, str]:
        return {"rapidocr": _version(self.config)}

    def read_page(
        self,
        img: Image.Image,
        *,
        doc_id: str,
        page: int,
        dpi: float | None,
        quality: PageQuality | None,
    ) -> pl.DataFrame:
        engine = loaded_rapidocr(self.config)
        gray = np.asarray(img if img.mode == "L" else img.convert("L"))
        try:
            res = engine(gray)
        except _engine_errors() as exc:
            raise OcrError(f"{doc_id} page {page}: rapidocr failed: {exc}") from exc
        if res.txts is None or res.boxes is None or len(res) == 0:
            return empty_words()
        segments = [
            Segment(np.asarray(q, dtype=np.float64).reshape(4, 2), str(t), float(s))
            for q, t, s in zip(res.boxes, res.txts, res.scores, strict=True)
            if str(t).strip()
        ]
        rows = merge_rows(segments, self.config.row_tolerance)
        return words_frame(rows, doc_id, page, img.size)
