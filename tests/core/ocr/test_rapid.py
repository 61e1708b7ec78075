"""RapidOCR (PP-OCR, models in the wheel) with the real engine: rows, words, boxes, no network.

The engine's models load once per test session (``docasset.core.ocr.rapid`` keeps one
instance per process); the network-less test runs in its own process by necessity.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from docasset.core.intake.scans import inspect_file
from docasset.core.ocr.engine import DEFAULT_LIMITS
from docasset.core.ocr.rapid import (
    MODEL_DIR,
    RapidConfig,
    RapidEngine,
    Segment,
    int8_model_path,
    loaded_rapidocr,
    merge_rows,
    recorded_sum,
    split_words,
)
from docasset.core.ocr.text import document_text
from docasset.core.ocr.words import validate_words
from docasset.errors import OcrError
from tests.core.ocr.test_ocr import LINES, text_page

ROOT = Path(__file__).resolve().parents[3]


def seg(x0: float, y0: float, x1: float, y1: float, text: str, dy: float = 0.0) -> Segment:
    """An axis-aligned (or, with ``dy``, sheared) segment from (x0, y0) to (x1, y1)."""
    quad = np.array([[x0, y0], [x1, y0 + dy], [x1, y1 + dy], [x0, y1]], dtype=np.float64)
    return Segment(quad, text, 0.9)


def test_segments_of_one_visual_row_merge_left_to_right() -> None:
    rows = merge_rows(
        [
            seg(400, 101, 460, 121, "9.00"),  # same row as TOTAL, detected separately
            seg(10, 100, 120, 120, "TOTAL"),
            seg(10, 140, 200, 160, "THANK YOU"),
        ]
    )
    assert [[s.text for s in row] for row in rows] == [["TOTAL", "9.00"], ["THANK YOU"]]


def test_a_skewed_row_stays_one_row_and_close_rows_stay_apart() -> None:
    # A row tilted by 30 px over 600 px: its right end sits lower than the next row's start.
    wide = seg(0, 100, 600, 120, "CASH BILL NO 1234 TABLE 5", dy=30)
    right = seg(620, 131, 700, 151, "RM")  # on the tilted centre line near x=660
    below = seg(0, 125, 200, 145, "CASHIER ALI")  # the next row at the left
    rows = merge_rows([wide, right, below])
    assert [[s.text for s in row] for row in rows] == [
        ["CASH BILL NO 1234 TABLE 5", "RM"],
        ["CASHIER ALI"],
    ]


def test_words_get_the_share_of_the_segment_their_characters_take() -> None:
    words = split_words(seg(0, 0, 100, 20, "TOTAL 9.00"))  # 10 characters, 10 px each
    assert [w for w, _ in words] == ["TOTAL", "9.00"]
    (_, total), (_, amount) = words
    assert np.allclose(total[:, 0].min(), 0) and np.allclose(total[:, 0].max(), 50)
    assert np.allclose(amount[:, 0].min(), 60) and np.allclose(amount[:, 0].max(), 100)
    assert np.allclose(amount[:, 1].min(), 0) and np.allclose(amount[:, 1].max(), 20)


@pytest.fixture(scope="module")
def page_words(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, tuple[int, int]]:
    path = tmp_path_factory.mktemp("rapid") / "page.png"
    img = text_page(200)
    img.save(path, dpi=(200, 200))
    scan = inspect_file(path)
    return RapidEngine().read_document(scan, DEFAULT_LIMITS, None), img.size


def test_rapidocr_reads_a_page_into_the_word_table(
    page_words: tuple[pl.DataFrame, tuple[int, int]],
) -> None:
    words, (w, h) = page_words
    validate_words(words)
    assert words["engine"].unique().to_list() == ["rapidocr"]
    text = document_text(words, words["doc_id"][0])
    for line in LINES:  # every printed line comes back as one line of text
        assert " ".join(line.split()).lower() in text.lower(), (line, text)
    assert words["line"].n_unique() == len(LINES)
    assert ((words["left"] + words["width"]) <= w).all() and (
        (words["top"] + words["height"]) <= h
    ).all()
    assert words["conf"].min() > 50 and words["conf"].max() <= 100


def test_rapidocr_boxes_are_in_page_coordinates(
    page_words: tuple[pl.DataFrame, tuple[int, int]],
) -> None:
    words, _ = page_words
    # text_page draws line i at y = dpi/3 + i * 11pt * 1.6 (200 dpi), from x = dpi/3.
    dpi, pt = 200, 11 / 72 * 200
    for i, first in enumerate(("INVOICE", "Delivery", "Total")):
        row = words.filter(pl.col("text") == first).row(0, named=True)
        top = dpi // 3 + round(i * pt * 1.6)
        assert abs(row["left"] - dpi // 3) < 15, row
        assert abs(row["top"] + row["height"] / 2 - (top + pt * 0.6)) < 15, row


def test_nothing_is_downloaded_at_run_time(tmp_path: Path) -> None:
    """RapidOCR in a network namespace without interfaces, with an empty HOME and no
    ORT_DISABLE_TELEMETRY in the environment: it reads a page, and leaves HOME empty."""
    if shutil.which("unshare") is None:
        pytest.fail("util-linux unshare is needed for the network-less test")
    home = tmp_path / "home"
    home.mkdir()
    page = tmp_path / "page.png"
    text_page(200).save(page, dpi=(200, 200))
    script = (
        "import json, socket, sys\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 80), timeout=2)\n"
        "    net = True\n"
        "except OSError:\n"
        "    net = False\n"
        # onnxruntime itself, before docasset sets ORT_DISABLE_TELEMETRY for its sessions:
        # the pinned version must write nothing either (1.29+ write a telemetry cache).
        "import os, onnxruntime, rapidocr\n"
        "assert 'ORT_DISABLE_TELEMETRY' not in os.environ\n"
        "model = os.path.join(os.path.dirname(rapidocr.__file__), 'models')\n"
        "det = [f for f in os.listdir(model) if 'det' in f][0]\n"
        "onnxruntime.InferenceSession(os.path.join(model, det))\n"
        "from docasset.core.intake.scans import inspect_file\n"
        "from docasset.core.ocr.engine import DEFAULT_LIMITS\n"
        "from docasset.core.ocr.rapid import RapidEngine\n"
        "w = RapidEngine().read_document(inspect_file(sys.argv[1]), DEFAULT_LIMITS, None)\n"
        "print(json.dumps({'net': net, 'words': w['text'].to_list()}))\n"
    )
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}
    ns = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--net", "--map-root-user"]
    proc = subprocess.run(
        [*ns, sys.executable, "-c", script, str(page)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["net"] is False  # the namespace really had no network
    assert {"INVOICE", "Acme", "Harbour"} <= set(out["words"])
    assert [p for p in home.rglob("*")] == []  # no cache, no telemetry, no model download


def test_the_onnx_sessions_get_docasset_s_options() -> None:
    # RapidOCR does not expose the memory pattern: docasset builds the sessions and hands them
    # over. What RapidOCR runs must be those sessions, with the configured pattern.
    for pattern, arena in ((False, True), (True, False)):
        engine = loaded_rapidocr(RapidConfig(mem_pattern=pattern, cpu_mem_arena=arena))
        for stage in (engine.text_det, engine.text_rec):
            opts = stage.session.session.get_session_options()
            assert (opts.enable_mem_pattern, opts.enable_cpu_mem_arena) == (pattern, arena)
            assert (opts.intra_op_num_threads, opts.inter_op_num_threads) == (1, 1)
    default = RapidConfig()  # the defaults measured in docs/ocr-cost.md
    assert (default.mem_pattern, default.cpu_mem_arena) == (False, True)


@pytest.mark.parametrize(
    "config",
    [
        RapidConfig(det_model="int8", rec_model="int8"),
        RapidConfig(det_model="fp32", rec_model="fp32", rec_min_ratio=320 / 48),
    ],
    ids=["int8-models", "fp32-as-rapidocr-pads"],
)
def test_the_cheaper_readings_read_every_line_of_a_page(
    tmp_path: Path, config: RapidConfig
) -> None:
    path = tmp_path / "page.png"
    text_page(200).save(path, dpi=(200, 200))
    words = RapidEngine(config).read_document(inspect_file(path), DEFAULT_LIMITS, None)
    text = document_text(words, words["doc_id"][0]).lower()
    for line in LINES:
        assert " ".join(line.split()).lower() in text, (line, text)
    version = RapidEngine(config).versions()["rapidocr"]
    assert f"det {config.det_model}" in version and f"rec {config.rec_model}" in version


def test_versions_build_no_model_and_name_the_shipped_models_by_checksum() -> None:
    # In a fresh process: the version string must come from package metadata and SHA256SUMS,
    # without importing rapidocr/onnxruntime (building a RapidOCR object cost ~2 CPU-s a run).
    code = (
        "import json, sys\n"
        "from docasset.core.ocr.rapid import RapidConfig, RapidEngine, _LOADED\n"
        "v = RapidEngine(RapidConfig(det_model='int8', rec_model='fp32')).versions()\n"
        "print(json.dumps({'v': v['rapidocr'], 'loaded': len(_LOADED),\n"
        "  'imported': sorted(m for m in ('rapidocr', 'onnxruntime', 'cv2') if m in sys.modules)}))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["imported"] == [] and out["loaded"] == 0, out
    det_sum = recorded_sum("PP-OCRv6_det_small.int8.onnx")
    assert f"det int8 {det_sum[:12]} rec fp32" in out["v"]
    assert det_sum == hashlib.sha256(int8_model_path("det").read_bytes()).hexdigest()
    with pytest.raises(OcrError, match="fp32 or int8"):
        RapidEngine(RapidConfig(rec_model="fp16", det_max_side=963)).versions()


def test_a_tampered_int8_model_is_refused_with_how_to_rebuild(tmp_path: Path) -> None:
    for f in MODEL_DIR.iterdir():
        shutil.copy(f, tmp_path / f.name)
    assert int8_model_path("det", tmp_path).name == "PP-OCRv6_det_small.int8.onnx"
    rec = tmp_path / "PP-OCRv6_rec_small.int8.onnx"
    rec.write_bytes(rec.read_bytes()[:-1] + b"\0")
    with pytest.raises(OcrError, match="does not match") as err:
        int8_model_path("rec", tmp_path)
    assert "evals/ppocr_int8/README.md" in str(err.value)
    (tmp_path / "SHA256SUMS").unlink()
    with pytest.raises(OcrError, match="checksums"):
        int8_model_path("det", tmp_path)


def test_an_unknown_model_kind_is_an_error() -> None:
    with pytest.raises(OcrError, match="fp32 or int8"):
        RapidEngine(RapidConfig(det_model="fp16", det_max_side=961)).warm_up()
