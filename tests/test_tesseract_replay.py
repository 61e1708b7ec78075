"""A replayed RapidOCR answer is the real one: the words a replayed test sees are the words a
real reading gives (tests/tesseract_replay.py)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

from docasset.core.ocr import rapid
from tests import tesseract_replay


def _page(receipts_dir: Path) -> Image.Image:
    with Image.open(sorted((receipts_dir / "img").iterdir())[0]) as img:
        return img.convert("L")


def test_a_replayed_rapidocr_answer_reads_the_words_of_the_real_one(
    receipts_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_load = tesseract_replay.REAL_RAPID
    config = rapid.RapidConfig()
    img = _page(receipts_dir)
    replay = tesseract_replay.Replay(tmp_path / "recording.json.gz")
    replay.active = True
    proxy = tesseract_replay.ReplayedRapid(replay, config, real_load)
    gray = np.asarray(img)

    computed, replayed = proxy(gray), proxy(gray)
    assert (replay.misses, replay.hits) == (1, 1)
    real = real_load(config)(gray)
    assert len(real) > 5 and len(replayed) == len(real)
    assert replayed.txts == [str(t) for t in real.txts] == computed.txts
    assert replayed.scores == [float(s) for s in real.scores]
    assert np.array_equal(np.asarray(replayed.boxes), np.asarray(real.boxes, np.float64))
    # Written, read back and answered again: the same words through the engine.
    saved = json.loads(gzip.decompress(replay.write_new("t").read_bytes()))  # type: ignore[union-attr]
    again = tesseract_replay.Replay(tmp_path / "recording.json.gz")
    again.answers, again.active = saved, True
    kw = {"doc_id": "d", "page": 1, "dpi": 300.0, "quality": None}
    monkeypatch.setattr(rapid, "loaded_rapidocr", real_load)
    words = rapid.RapidEngine(config).read_page(img, **kw)
    monkeypatch.setattr(
        rapid, "loaded_rapidocr", lambda c: tesseract_replay.ReplayedRapid(again, c, real_load)
    )
    assert rapid.RapidEngine(config).read_page(img, **kw).equals(words)
    assert (again.hits, again.misses) == (1, 0) and words.height > 5
    assert isinstance(words, pl.DataFrame)


def test_another_setting_is_not_answered_from_the_recording(
    receipts_dir: Path, tmp_path: Path
) -> None:
    real_load = tesseract_replay.REAL_RAPID
    gray = np.asarray(_page(receipts_dir))
    replay = tesseract_replay.Replay(tmp_path / "recording.json.gz")
    replay.active = True
    tesseract_replay.ReplayedRapid(replay, rapid.RapidConfig(), real_load)(gray)
    other = rapid.RapidConfig(text_score=0.9)
    tesseract_replay.ReplayedRapid(replay, other, real_load)(gray)
    assert (replay.misses, replay.hits) == (2, 0)
