"""OCR and extraction over plain files, outside Dagster (the CLI and the evaluation harness).

The same core functions the assets call: ``inspect_file`` -> ``ocr_documents`` ->
``document_text`` -> ``predict_documents``; nothing here is a second implementation.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import spacy
from spacy.tokens import Doc

from docasset.core.datasets.labelled import IMAGE_SUFFIXES, LabelledDoc
from docasset.core.extraction.fields import DocType
from docasset.core.intake.scans import IntakeLimits, ScanFile, inspect_file
from docasset.core.ocr.tesseract import OcrConfig, ocr_documents
from docasset.core.ocr.text import WordSpans, document_text, word_spans
from docasset.core.training.align import Alignment
from docasset.core.training.train import make_training_doc
from docasset.core.validation.curate import bucket
from docasset.errors import ScanError


@dataclass
class OcrRun:
    """OCR texts by key, failures by key, and timing."""

    texts: dict[str, str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    per_doc_seconds: dict[str, float] = field(default_factory=dict)
    word_conf: dict[str, WordSpans] = field(default_factory=dict)  # key -> word confidences


def expand_inputs(inputs: Iterable[Path]) -> list[Path]:
    """Files as given, and the image/PDF files inside given directories (sorted)."""
    out: list[Path] = []
    for p in inputs:
        if p.is_dir():
            out += sorted(
                q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES
            )
        else:
            out.append(p)
    return out


def ocr_files(
    items: Iterable[tuple[str, Path]],
    config: OcrConfig | None = None,
    limits: IntakeLimits | None = None,
    workers: int | None = None,
) -> OcrRun:
    """OCR ``(key, path)`` pairs in parallel; bad files are reported under ``failures``."""
    config = config or OcrConfig()
    limits = limits or IntakeLimits()
    run = OcrRun()
    scans: list[tuple[str, ScanFile]] = []
    for key, path in items:
        try:
            scans.append((key, inspect_file(path, limits)))
        except ScanError as exc:
            run.failures[key] = str(exc)
    ids = {k: s.doc_id for k, s in scans}
    started = last = time.perf_counter()
    for key, out in ocr_documents(scans, config=config, limits=limits, workers=workers):
        now = time.perf_counter()
        run.per_doc_seconds[key] = now - last  # wall time between completions (parallel)
        last = now
        if isinstance(out, Exception):
            run.failures[key] = str(out)
        else:
            run.texts[key] = document_text(out, ids[key])
            run.word_conf[key] = word_spans(out).get(ids[key], [])
    run.seconds = time.perf_counter() - started
    return run


def training_docs(
    docs: list[LabelledDoc],
    texts: dict[str, str],
    doctype: DocType,
    word_conf: dict[str, WordSpans] | None = None,
) -> tuple[list[Doc], dict[str, list[Alignment]]]:
    """spaCy training docs for labelled documents with OCR text (and word confidences), and
    every alignment."""
    nlp = spacy.blank("en")
    out, aligns = [], {}
    for d in docs:
        if d.id not in texts:
            continue
        doc, al = make_training_doc(
            nlp, doctype, d.id, texts[d.id], d.fields, (word_conf or {}).get(d.id)
        )
        out.append(doc)
        aligns[d.id] = al
    return out, aligns


def split_docs(docs: list[Doc], dev_fraction: float) -> tuple[list[Doc], list[Doc]]:
    """Train/dev split stable by document id."""
    train = [d for d in docs if bucket(d.user_data["doc_id"]) >= dev_fraction]
    dev = [d for d in docs if bucket(d.user_data["doc_id"]) < dev_fraction]
    return train, dev
