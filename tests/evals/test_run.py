"""``python -m evals.run`` on a tiny generated labelled folder: output files and their schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import spacy

from docasset.core.extraction.extract import Calibration, ModelBundle
from docasset.core.extraction.fields import load_doctype
from evals import run

RECEIPT = load_doctype("receipt")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained (initialized) receipt model: the harness, not the model, is under test."""
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("ner")
    for spec in RECEIPT.fields:
        ner.add_label(spec.label)
    nlp.initialize()
    path = tmp_path_factory.mktemp("model")
    ModelBundle(nlp, RECEIPT, Calibration(), {n: 0.5 for n in RECEIPT.names}).save(path)
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from docasset.sim.synthetic.generate import generate

    out = tmp_path_factory.mktemp("labelled")
    generate(out, 3, seed=7)
    return out


def test_run_writes_predictions_metrics_and_report(
    dataset: Path, model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    cache = tmp_path / "ocr.json"
    args = ["--dataset", str(dataset), "--model", str(model_dir), "--out", str(out)]
    assert run.main([*args, "--ocr-cache", str(cache)]) == 0
    rows = [json.loads(ln) for ln in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 3
    for r in rows:
        assert {"doc", "fields", "confidence", "route", "blockers", "truth", "correct"} <= set(r)
        assert set(r["fields"]) == set(RECEIPT.names)
        assert r["route"] in ("auto", "review") and (r["route"] == "auto") == (not r["blockers"])
    m = json.loads((out / "metrics.json").read_text())
    s = m["scores"]
    assert set(s["fields"]) == set(RECEIPT.names)
    for f in s["fields"].values():
        assert {"precision", "recall", "f1", "similarity"} <= set(f)
    assert {"micro", "automation_rate", "auto_accuracy", "ece", "reliability"} <= set(s)
    assert set(m["ceiling"]) == set(RECEIPT.names) and all(
        0 <= v <= 1 for v in m["ceiling"].values()
    )
    assert {
        "extract_p50_s",
        "extract_p95_s",
        "extract_docs_per_s",
        "with_ocr_p50_s",
        "with_ocr_p95_s",
        "with_ocr_docs_per_s",
    } <= set(m["latency"])
    assert "micro" in (out / "report.md").read_text()
    # The OCR cache is reused: a second run gives the same predictions without OCR.
    out2 = tmp_path / "out2"
    assert run.main([*args[:-1], str(out2), "--ocr-cache", str(cache)]) == 0
    assert json.loads((out2 / "metrics.json").read_text())["ocr_cached"] is True
    assert (out2 / "predictions.jsonl").read_text() == (out / "predictions.jsonl").read_text()


def test_absent_dataset_exits_2(model_dir: Path, tmp_path: Path, capsys) -> None:
    code = run.main(
        ["--dataset", str(tmp_path / "nope"), "--model", str(model_dir), "--out", str(tmp_path)]
    )
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_run_trains_and_scores_per_engine_and_refuses_another_engines_cache(
    dataset: Path, tmp_path: Path, capsys
) -> None:
    model, cache = tmp_path / "model", tmp_path / "tess.json"
    common = ["--dataset", str(dataset), "--model", str(model), "--ocr-cache", str(cache)]
    train = ["--train-dataset", str(dataset), "--epochs", "3", "--dev-fraction", "0.3"]
    argv = [*common, "--out", str(tmp_path / "a"), "--ocr-engine", "tesseract", *train]
    assert run.main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["ocr_engine"] == "tesseract" and summary["ocr_engine_warning"] is None
    assert summary["ocr_pages_by_engine"] == {"tesseract": 3}
    assert summary["ocr_cost"]["pages"] == 3 and summary["ocr_cost"]["cpu_s_per_page"] > 0
    assert 0 <= summary["key_found"] <= 1 and summary["cer"] is None  # no box/ transcripts
    meta = json.loads((model / "model.json").read_text())
    assert meta["ocr"]["engine"] == "tesseract" and "tesseract" in meta["ocr"]["versions"]
    # The Tesseract cache is not RapidOCR text: refused, not silently scored.
    argv = [*common, "--out", str(tmp_path / "b"), "--ocr-engine", "rapidocr"]
    assert run.main(argv) == 2
    assert "holds OCR by tesseract, not rapidocr" in capsys.readouterr().err
    # The Tesseract-trained model scored on RapidOCR text: scored, with the warning.
    argv = [*common[:4], "--out", str(tmp_path / "c"), "--ocr-engine", "rapidocr"]
    assert run.main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["ocr_engine"] == "rapidocr"
    assert "trained on tesseract text" in summary["ocr_engine_warning"]
