"""OCR replay: the tests that do not test OCR read recorded Tesseract and RapidOCR answers.

The Dagster, simulation and CLI worlds OCR a few hundred generated receipts; Tesseract is most
of their CPU. Those tests are about what happens to the words, not about reading them, so each
``pytesseract.image_to_data``/``image_to_osd`` call is answered from a recording of the real
Tesseract's answer for the same input: the key is the SHA-256 of the exact image Tesseract
would read (after docasset's own preprocessing, which still runs), its flags and language, and
the installed Tesseract's version. Everything around the call (page preparation, the word
table, its validation) runs as in production, and the answer is byte for byte what Tesseract
gave, so a replayed test sees the words a real run sees.

RapidOCR (the hybrid engine's second reader) is replayed the same way: the call of the loaded
RapidOCR object on a page's grayscale array is answered with the boxes, texts and scores it
returned, keyed by the array's bytes, the RapidOCR settings that load the object and the
versions of rapidocr, its models and ONNX Runtime (``rapid._version``); the models are loaded
only when an answer is missing.

A call with no recording (another Tesseract, a generator change, a new test) runs the real
engine: a stale recording costs time, never correctness. The tests of OCR itself
(:data:`REAL_OCR`) and the real-server integration tests always run Tesseract.

Recording: ``DOCASSET_TESSERACT_REPLAY=record`` makes every worker write the answers it had to
compute to ``tests/data/tesseract-replay.<worker>.json.gz``; ``python -m tests.tesseract_replay
merge`` folds them into the recording. ``DOCASSET_TESSERACT_REPLAY=off`` runs Tesseract
everywhere (what the recording is checked against).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytesseract
from PIL import Image

from docasset.core.ocr import rapid

RECORDING = Path(__file__).parent / "data" / "tesseract-replay.json.gz"
REAL_RAPID = rapid.loaded_rapidocr  # RapidOCR's loader as docasset has it (install patches it)
MODE = os.environ.get("DOCASSET_TESSERACT_REPLAY", "replay")  # replay | record | off
# Test paths (prefixes) that test reading pages: always the real Tesseract.
REAL_OCR = (
    "tests/core/ocr/",
    "tests/core/intake/",
    "tests/defs/test_ocr_engines.py",
    "tests/defs/test_text_layer_ingest.py",
    "tests/evals/test_benchmarks_smoke.py::test_bench_ocr",
    "tests/evals/test_run.py",
    "tests/integration/",
)


class Replay:
    """The recorded answers, the ones computed in this session, and the counts."""

    def __init__(self, recording: Path) -> None:
        self.recording = recording
        self.answers: dict[str, Any] = {}
        if recording.is_file():
            self.answers = json.loads(gzip.decompress(recording.read_bytes()))
        self.new: dict[str, Any] = {}
        self.active = False  # set per test (pytest_runtest_setup): replay for this test?
        self.hits = self.misses = 0
        self._version: str | None = None

    def version(self) -> str:
        if self._version is None:
            self._version = str(pytesseract.get_tesseract_version())
        return self._version

    def key(self, kind: str, image: str | Image.Image, kwargs: dict[str, Any]) -> str:
        h = hashlib.sha256()
        if isinstance(image, Image.Image):
            h.update(f"{image.mode} {image.size}".encode())
            h.update(image.tobytes())
        else:
            h.update(Path(image).read_bytes())
        params = {k: kwargs.get(k) for k in ("lang", "config")}
        h.update(json.dumps([kind, self.version(), params], sort_keys=True).encode())
        return h.hexdigest()

    def wrap(self, kind: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(image: str | Image.Image, *args: Any, **kwargs: Any) -> Any:
            if not self.active or args or kwargs.get("output_type") != pytesseract.Output.DICT:
                return real(image, *args, **kwargs)
            key = self.key(kind, image, kwargs)
            if key in self.answers:
                self.hits += 1
                return json.loads(json.dumps(self.answers[key]))  # a fresh copy
            self.misses += 1
            answer = real(image, *args, **kwargs)  # a TesseractError is not recorded
            self.answers[key] = self.new[key] = answer
            return answer

        return call

    def write_new(self, worker: str) -> Path | None:
        if not self.new:
            return None
        path = self.recording.with_name(f"tesseract-replay.{worker}.json.gz")
        path.write_bytes(gzip.compress(json.dumps(self.new, sort_keys=True).encode(), 9, mtime=0))
        return path


class RapidAnswer:
    """What a RapidOCR call returns, as far as ``RapidEngine.read_page`` reads it."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.boxes, self.txts, self.scores = answer["boxes"], answer["txts"], answer["scores"]

    def __len__(self) -> int:
        return len(self.txts or ())


class ReplayedRapid:
    """Stands in for the loaded RapidOCR object: answers recorded calls, loads the real one
    (``load``) for the others."""

    def __init__(self, replay: Replay, config: Any, load: Callable[[Any], Any]) -> None:
        self.replay, self.config, self.load = replay, config, load

    def __call__(self, gray: Any) -> Any:
        replay = self.replay
        h = hashlib.sha256(f"rapid {gray.dtype} {gray.shape}".encode())
        h.update(gray.tobytes())
        h.update(json.dumps([rapid._version(self.config), repr(self.config)]).encode())
        key = h.hexdigest()
        if key in replay.answers:
            replay.hits += 1
            return RapidAnswer(replay.answers[key])
        replay.misses += 1
        res = self.load(self.config)(gray)
        answer = {  # float32 values are exact as float64, and in JSON
            "boxes": None if res.boxes is None else np.asarray(res.boxes, np.float64).tolist(),
            "txts": None if res.txts is None else [str(t) for t in res.txts],
            "scores": None if res.scores is None else [float(v) for v in res.scores],
        }
        replay.answers[key] = replay.new[key] = answer
        return RapidAnswer(answer)


def install() -> Replay | None:
    """Patch pytesseract and RapidOCR's loader for this process (None when replay is off)."""
    if MODE == "off":
        return None
    replay = Replay(RECORDING)
    pytesseract.image_to_data = replay.wrap("data", pytesseract.image_to_data)
    pytesseract.image_to_osd = replay.wrap("osd", pytesseract.image_to_osd)

    def loaded(config: Any) -> Any:
        return ReplayedRapid(replay, config, REAL_RAPID) if replay.active else REAL_RAPID(config)

    rapid.loaded_rapidocr = loaded  # type: ignore[assignment]
    return replay


def replays(nodeid: str) -> bool:
    """Whether the test ``nodeid`` reads recorded answers."""
    return not nodeid.startswith(REAL_OCR)


def merge() -> int:
    """Fold the workers' new answers into the recording; prints what it did."""
    answers = json.loads(gzip.decompress(RECORDING.read_bytes())) if RECORDING.is_file() else {}
    parts = sorted(RECORDING.parent.glob("tesseract-replay.*.json.gz"))
    parts = [p for p in parts if p != RECORDING]
    for p in parts:
        answers.update(json.loads(gzip.decompress(p.read_bytes())))
        p.unlink()
    RECORDING.parent.mkdir(parents=True, exist_ok=True)
    RECORDING.write_bytes(gzip.compress(json.dumps(answers, sort_keys=True).encode(), 9, mtime=0))
    print(f"{RECORDING}: {len(answers)} answers ({len(parts)} worker files merged)")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["merge"]:
        sys.exit("usage: python -m tests.tesseract_replay merge")
    sys.exit(merge())
