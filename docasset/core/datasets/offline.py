"""OCR and extraction over plain files, outside Dagster (the CLI and the evaluation harness).

The same core functions the assets call: ``inspect_file`` -> ``ocr_documents`` (with an
OCR engine, ``docasset.core.ocr.engine``) -> ``document_text`` -> ``predict_documents``;
nothing here is a second implementation.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import spacy
from spacy.tokens import Doc

from docasset.core.datasets.labelled import IMAGE_SUFFIXES, LabelledDoc
from docasset.core.extraction.extract import ModelBundle
from docasset.core.extraction.fields import DocType
from docasset.core.extraction.ocr_escalation import default_engine
from docasset.core.intake.scans import IntakeLimits, ScanFile, inspect_file
from docasset.core.isolation import isolated
from docasset.core.ocr.documents import second_text
from docasset.core.ocr.engine import OCR_META, Engine, ocr_documents, page_engines
from docasset.core.ocr.pdf_text import page_reasons
from docasset.core.ocr.text import WordSpans, document_text, word_spans
from docasset.core.progress import Progress
from docasset.core.training.align import Alignment
from docasset.core.training.curate import bucket
from docasset.core.training.train import TrainConfig, TrainReport, make_training_doc, train_model
from docasset.errors import DocumentError, ScanError


@dataclass
class OcrRun:
    """OCR texts by key, failures by key, timing, and the engine that read them (its
    ``identity()``, and pages per page engine); ``words`` only when asked for.

    ``seconds`` is the wall time of the OCR (intake excluded), ``cpu_seconds`` the CPU time
    this process and its Tesseract subprocesses spent in it, over ``pages`` pages."""

    texts: dict[str, str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    per_doc_seconds: dict[str, float] = field(default_factory=dict)
    engine: dict[str, Any] = field(default_factory=dict)
    page_engines: dict[str, int] = field(default_factory=dict)
    words: dict[str, pl.DataFrame] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    pages: int = 0
    word_conf: dict[str, WordSpans] = field(default_factory=dict)  # key -> word confidences
    page_reasons: dict[str, int] = field(default_factory=dict)  # why pages were read so
    # key -> the other OCR engine's text, for documents a second engine re-read (hybrid)
    second_texts: dict[str, str] = field(default_factory=dict)


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
    engine: Engine | None = None,
    limits: IntakeLimits | None = None,
    workers: int | None = None,
    keep_words: bool = False,
) -> OcrRun:
    """OCR ``(key, path)`` pairs in parallel; bad files are reported under ``failures``.

    ``engine`` defaults to the default engine setting (``default_engine``)."""
    engine = engine or default_engine()
    limits = limits or IntakeLimits()
    run = OcrRun(engine=engine.identity())
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
    run.pages = sum(len(s.pages) for _, s in scans)
    cpu = process_cpu_seconds()
    started = last = time.perf_counter()
    progress = Progress("ocr", len(scans))
    for key, out in ocr_documents(scans, engine, limits=limits, workers=workers):
        progress.step()
        now = time.perf_counter()
        run.per_doc_seconds[key] = now - last  # wall time between completions (parallel)
        last = now
        if isinstance(out, Exception):
            run.failures[key] = str(out)
            continue
        run.texts[key] = document_text(out, ids[key])
        if (other := second_text(out, ids[key])) is not None:
            run.second_texts[key] = other
        for name, n in page_engines(out).items():
            run.page_engines[name] = run.page_engines.get(name, 0) + n
        for why, n in page_reasons(out).items():
            run.page_reasons[why] = run.page_reasons.get(why, 0) + n
        if keep_words:
            run.words[key] = out
        run.word_conf[key] = word_spans(out).get(ids[key], [])
    run.seconds = time.perf_counter() - started
    run.cpu_seconds = process_cpu_seconds() - cpu
    return run


def process_cpu_seconds() -> float:
    """User + system CPU seconds of this process and its waited-for subprocesses so far."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


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


@dataclass
class TrainedModel:
    """A model trained from a labelled folder, its report, and the documents whose values
    were not found in their OCR text (field names per document)."""

    bundle: ModelBundle
    report: TrainReport
    unaligned: dict[str, list[str]]


def train_labelled(
    docs: list[LabelledDoc],
    texts: dict[str, str],
    doctype: DocType,
    config: TrainConfig,
    dev_fraction: float,
    ocr: dict[str, Any],
    dataset: str,
    word_conf: dict[str, WordSpans] | None = None,
) -> TrainedModel:
    """Train on the OCR texts of labelled documents (dev split by id hash): what ``docasset
    train`` and ``evals.run --train-dataset`` run. The model records ``ocr``, the identity of
    the engine its training text came from (``model.json`` key ``ocr``); ``word_conf`` the
    OCR word confidences (the OCR-evidence features)."""
    tdocs, aligns = training_docs(docs, texts, doctype, word_conf)
    unaligned = {k: [a.field for a in al if not a.aligned] for k, al in aligns.items()}
    unaligned = {k: v for k, v in unaligned.items() if v}
    train, dev = split_docs(tdocs, dev_fraction)
    bundle, report = train_model(train, dev, doctype, config)
    bundle.meta[OCR_META] = ocr
    bundle.meta.update(
        training={
            "dataset": dataset,
            "n_train": report.n_train,
            "n_dev": report.n_dev,
            "unaligned": unaligned,
            "history": report.history,
        }
    )
    return TrainedModel(bundle, report, unaligned)
