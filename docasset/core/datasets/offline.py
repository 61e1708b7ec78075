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
from docasset.core.isolation import isolated
from docasset.core.ocr.tesseract import OcrConfig, ocr_documents
from docasset.core.ocr.text import document_text
from docasset.core.training.align import Alignment
from docasset.core.training.train import make_training_doc
from docasset.core.validation.curate import bucket
from docasset.errors import DocumentError, ScanError


@dataclass
class OcrRun:
    """OCR texts by key, failures by key, and timing."""

    texts: dict[str, str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    per_doc_seconds: dict[str, float] = field(default_factory=dict)


def expand_inputs(inputs: Iterable[Path]) -> list[Path]:
    """Files as given, and the image/PDF files inside given directories (sorted); a file
    named twice is taken once."""
    out: list[Path] = []
    seen: set[Path] = set()
    for p in inputs:
        found = (
            sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES)
            if p.is_dir()
            else [p]
        )
        for q in found:
            real = q.resolve()
            if real not in seen:
                seen.add(real)
                out.append(q)
    return out


def input_keys(paths: list[Path]) -> list[tuple[str, Path]]:
    """``(key, path)`` with a unique key per input: its stem, or the path as given when
    another input has the same stem (so no input's output overwrites another's)."""
    stems: dict[str, int] = {}
    for p in paths:
        stems[p.stem] = stems.get(p.stem, 0) + 1
    return [(p.stem if stems[p.stem] == 1 else str(p), p) for p in paths]


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
            scan = isolated(str(path), inspect_file, path, limits)
        except ScanError as exc:
            run.failures[key] = str(exc)
            continue
        if isinstance(scan, DocumentError):
            run.failures[key] = str(scan)
        else:
            scans.append((key, scan))
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
    run.seconds = time.perf_counter() - started
    return run


def training_docs(
    docs: list[LabelledDoc], texts: dict[str, str], doctype: DocType
) -> tuple[list[Doc], dict[str, list[Alignment]]]:
    """spaCy training docs for labelled documents with OCR text, and every alignment."""
    nlp = spacy.blank("en")
    out, aligns = [], {}
    for d in docs:
        if d.id not in texts:
            continue
        doc, al = make_training_doc(nlp, doctype, d.id, texts[d.id], d.fields)
        out.append(doc)
        aligns[d.id] = al
    return out, aligns


def split_docs(docs: list[Doc], dev_fraction: float) -> tuple[list[Doc], list[Doc]]:
    """Train/dev split stable by document id."""
    train = [d for d in docs if bucket(d.user_data["doc_id"]) >= dev_fraction]
    dev = [d for d in docs if bucket(d.user_data["doc_id"]) < dev_fraction]
    return train, dev
