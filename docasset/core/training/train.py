"""Training: labelled documents -> spaCy ``Doc`` examples -> a calibrated :class:`ModelBundle`.

A training document is a spaCy ``Doc`` over the OCR text whose entities are the aligned field
values and whose ``user_data`` holds ``doc_id``, the typed truth ``fields`` and, when the OCR
gave them, the word confidences ``word_conf`` (``docasset.core.extraction.evidence``); that is
what the curated training set stores in its ``DocBin``s. Training is CPU-only, from a blank ``en``
pipeline (no downloads), seeded, and keeps the epoch with the best held-out field accuracy.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import polars as pl
import spacy
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from spacy.util import compounding, filter_spans, fix_random_seed, minibatch

from docasset.core.extraction.calibration_store import pooled_evidence
from docasset.core.extraction.certify import CERTIFICATION_META
from docasset.core.extraction.confidence import fit_logistic
from docasset.core.extraction.domain import DOMAIN_META, DomainConfig, domain_summary
from docasset.core.extraction.evidence import WordSpans, doc_words
from docasset.core.extraction.extract import (
    CELLS_META,
    DOC_THRESHOLD_META,
    LAYOUT_META,
    Calibration,
    ModelBundle,
    field_options,
    other_labels,
    predict_text,
)
from docasset.core.extraction.fields import (
    DocType,
    FieldSpec,
    strict_match,
    validate_field,
    values_match,
)
from docasset.core.extraction.history import VendorHistory
from docasset.core.extraction.routing import (
    NEVER,
    FieldPrediction,
    RoutingConfig,
    certify_fields,
    misread,
    precision_cut,
)
from docasset.core.progress import Progress
from docasset.core.training.align import Alignment, align_document
from docasset.core.tunable import tunable
from docasset.core.validation.memory import history_entries, vendor_history
from docasset.errors import TrainingError

MIN_FOLD_DOCS = 8  # fewer training documents per fold: calibrate on the dev split alone
MIN_CALIBRATION_FOLD = 6  # fewer held-out documents per fold: thresholds chosen in sample


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters (defaults suit a few hundred receipts on 2 CPU cores)."""

    ORDERED: ClassVar = (("batch_start", "batch_end"),)  # each (a, b): a <= b (checked at load)

    epochs: int = tunable(40, "Most passes over the training documents.", ge=1)
    patience: int = tunable(15, "Stop after this many epochs without held-out improvement.", ge=1)
    dropout: float = tunable(0.2, "NER dropout rate.", ge=0, lt=1)
    seed: int = tunable(0, "Random seed (training is deterministic per seed).", ge=0)
    batch_start: float = tunable(4.0, "Minibatch size at the first update (compounding).", ge=1)
    batch_end: float = tunable(16.0, "Largest minibatch size (compounding).", ge=1)
    learn_rate: float = tunable(0.001, "Adam learning rate (spaCy's default).", gt=0, le=1)
    calibration_folds: int = tunable(
        3,
        "Cross-fitting folds adding calibration evidence from the training documents "
        "(0: the dev split alone).",
        ge=2,
    )
    fold_patience: int = tunable(
        5,
        "Patience of the fold models (they only parse for calibration: they stop earlier).",
        ge=1,
    )


@dataclass(frozen=True)
class RetrainConfig:
    """When the retraining sensor fires."""

    min_corrections: int = tunable(
        20,
        "Retrain once this many corrections were newly promoted into train/dev since the "
        "training set of the production model.",
        ge=1,
    )
    dead_run_retries: int = tunable(
        1,
        "A retraining run whose process died (killed, crashed) is run again this many times "
        "for the same corrections; a run that failed (or whose candidate the gate blocked) "
        "is a verdict and is not.",
        ge=0,
    )


@dataclass
class TrainReport:
    """What training did: sizes, per-epoch losses and held-out accuracy, the chosen epoch."""

    n_train: int
    n_dev: int
    calibrated_on: str
    best_epoch: int = 0
    best_dev_accuracy: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    n_calibration: int = 0
    # Calibration-store rows of this training's held-out values (``evidence_rows``).
    evidence: list[dict[str, Any]] = field(default_factory=list, repr=False)


def make_training_doc(
    vocab_nlp: spacy.language.Language,
    doctype: DocType,
    doc_id: str,
    text: str,
    values: dict[str, str],
    word_conf: WordSpans | None = None,
) -> tuple[Doc, list[Alignment]]:
    """A ``Doc`` with aligned field spans as entities, and the alignments (incl. failures);
    ``word_conf``: the OCR word confidences of the text (the OCR-evidence features)."""
    doc = vocab_nlp.make_doc(text)
    alignments = align_document(doctype, values, text)
    spans: list[Span] = []
    for a in alignments:
        if not a.aligned:
            continue
        span = doc.char_span(
            a.start, a.end, label=doctype.spec(a.field).label, alignment_mode="expand"
        )
        if span is not None:
            spans.append(span)
    doc.ents = filter_spans(spans)
    doc.user_data["doc_id"] = doc_id
    doc.user_data["fields"] = {k: v for k, v in values.items() if k in doctype.names}
    if word_conf:
        doc.user_data["word_conf"] = [list(w) for w in word_conf]
    return doc, alignments


def docs_from_bytes(data: bytes, nlp: spacy.language.Language) -> list[Doc]:
    """Docs of a serialized ``DocBin`` (with user data) in ``nlp``'s vocab."""
    return list(DocBin(store_user_data=True).from_bytes(data).get_docs(nlp.vocab))


def docs_to_bytes(docs: list[Doc]) -> bytes:
    """Serialize docs with their user data."""
    db = DocBin(store_user_data=True)
    for d in docs:
        db.add(d)
    return db.to_bytes()


Parsed = dict[str, Doc]  # doc id -> the pipeline's output for it (its entities)


def _parse(nlp: spacy.language.Language, docs: list[Doc]) -> Parsed:
    return {
        d.user_data["doc_id"]: p
        for d, p in zip(docs, nlp.pipe([d.text for d in docs]), strict=True)
    }


def reported_values(
    bundle: ModelBundle, docs: list[Doc], parsed: Parsed | None = None
) -> Iterator[tuple[FieldSpec, FieldPrediction, bool]]:
    """Every value ``bundle`` reports for a field of ``docs``, and whether it is right.
    ``parsed``: the entities to use per document (default: ``bundle``'s own pipeline)."""
    parsed = parsed if parsed is not None else _parse(bundle.nlp, docs)
    for d in docs:
        doc_id = d.user_data["doc_id"]
        pred = predict_text(bundle, doc_id, d.text, parsed[doc_id], doc_words(d))
        truth = d.user_data["fields"]
        for spec in bundle.doctype.fields:
            f = pred.fields[spec.name]
            if f.value is not None:
                yield spec, f, values_match(spec, f.value, truth.get(spec.name) or None)


def field_evidence(
    bundle: ModelBundle, docs: list[Doc], parsed: Parsed | None = None
) -> list[tuple[str, str, float, bool, dict[str, float]]]:
    """(field, bin, confidence, correct, evidence features) of every reported value (for
    calibration)."""
    return [
        (s.name, f.bin, f.confidence, ok, f.features)
        for s, f, ok in reported_values(bundle, docs, parsed)
    ]


def evidence_rows(
    bundle: ModelBundle, doc: Doc, parsed: Parsed, routing: RoutingConfig
) -> list[dict[str, Any]]:
    """Calibration-store rows (``calibration_store``, without source/version/time) of every
    value ``bundle`` reports for ``doc``: its evidence, confidence, right under
    ``equivalent`` and ``strict``, and ``acceptable``: whether routing could accept it on its
    confidence (valid, blocked by no evidence check, read clearly by the OCR)."""
    truth = doc.user_data["fields"]
    return [
        {
            "field": s.name,
            "doc_id": doc.user_data["doc_id"],
            "bin": f.bin,
            "features": f.features,
            "confidence": f.confidence,
            "correct": ok,
            "strict": strict_match(s, f.value, truth.get(s.name) or None),
            "acceptable": not (f.checks or validate_field(s, f.value) or misread(f, routing)),
        }
        for s, f, ok in reported_values(bundle, [doc], parsed)
    ]


def acceptable_outcomes(
    bundle: ModelBundle, doc: Doc, parsed: Parsed, routing: RoutingConfig
) -> list[tuple[str, float, bool]]:
    """(field, confidence, correct) of the values of ``doc`` that routing could accept on their
    confidence: valid, blocked by no evidence check (an inconsistent total, a second date) and
    read clearly by the OCR. The precision target is the accepted values': a value routing
    never accepts must not hold a threshold up (nor make one look safe)."""
    return [
        (r["field"], r["confidence"], r["correct"])
        for r in evidence_rows(bundle, doc, parsed, routing)
        if r["acceptable"]
    ]


def option_rows(
    bundle: ModelBundle, docs: list[Doc], parsed: Parsed | None = None
) -> dict[str, list[tuple[dict[str, float], bool]]]:
    """Per field: (features, correct) of every candidate (model span or rule) of every doc."""
    parsed = parsed if parsed is not None else _parse(bundle.nlp, docs)
    out: dict[str, list[tuple[dict[str, float], bool]]] = {}
    for d in docs:
        ents = [(e.start_char, e.end_char, e.label_) for e in parsed[d.user_data["doc_id"]].ents]
        truth = d.user_data["fields"]
        for spec in bundle.doctype.fields:
            layout = bool(bundle.meta.get(LAYOUT_META))
            cells = bool(bundle.meta.get(CELLS_META))
            stops = other_labels(bundle.doctype, spec)
            for o in field_options(spec, d.text, ents, layout, doc_words(d), cells, stops):
                ok = values_match(spec, d.text[o.start : o.end], truth.get(spec.name) or None)
                out.setdefault(spec.name, []).append((o.features, ok))
    return out


def fit_calibration(bundle: ModelBundle, docs: list[Doc], parsed: Parsed) -> Calibration:
    """The candidate ranker, then the confidence model of the values it reports, on ``docs``."""
    ranker = {}
    for fname, rows in option_rows(bundle, docs, parsed).items():
        if (model := fit_logistic(rows)) is not None:
            ranker[fname] = model
    ranked = replace(bundle, calibration=Calibration(ranker=ranker))
    evidence = field_evidence(ranked, docs, parsed)
    cal = Calibration.fit(
        [(f, b, ok) for f, b, _, ok, _ in evidence], features=[x for *_, x in evidence]
    )
    cal.ranker = ranker
    return cal


def out_of_fold(
    bundle: ModelBundle, docs: list[Doc], parsed: Parsed, folds: int
) -> dict[str, ModelBundle]:
    """Per document, ``bundle`` with a calibration fitted on the *other* folds of ``docs``:
    scored by it, a document's confidences are out of sample. Empty when ``docs`` are too few
    for ``folds`` folds of ``MIN_CALIBRATION_FOLD`` documents."""
    if folds < 2 or len(docs) < folds * MIN_CALIBRATION_FOLD:
        return {}
    out: dict[str, ModelBundle] = {}
    for k in range(folds):
        rest = [d for d in docs if _fold(d, folds, "cal:") != k]
        fitted = replace(bundle, calibration=fit_calibration(bundle, rest, parsed))
        out.update({d.user_data["doc_id"]: fitted for d in docs if _fold(d, folds, "cal:") == k})
    return out


def calibrate(
    bundle: ModelBundle,
    held_out: list[Doc],
    routing: RoutingConfig,
    parsed: Parsed | None = None,
    folds: int = 5,
    evidence: pl.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """Fit the candidate ranker, then the confidence of the values it reports, then the
    routing thresholds, all on ``held_out`` documents (in place). ``parsed`` gives, per
    document, entities from a pipeline that never trained on it (cross-fitting); by default
    ``bundle``'s pipeline parses them (right for documents it did not train on).

    The thresholds are chosen on out-of-fold confidences (``folds`` folds of ``held_out``,
    each scored by a calibration fitted on the others): a threshold chosen on the confidences
    of the very documents the confidence model was fitted on finds the top values right more
    often than they are on new documents. Too few documents for folds: in-sample, as before.

    The thresholds are *certified* (``routing.certainty``, see ``extraction.certify``) on
    these fresh rows pooled with the calibration store's ``evidence`` (earlier retrains' folds,
    QA, operator checks), re-scored by the new confidence model from their features: a
    retrain never loses automation because its own held-out split is smaller than the
    evidence production already has. Returns the fresh rows (``evidence_rows``), for the store.
    """
    parsed = parsed if parsed is not None else _parse(bundle.nlp, held_out)
    bundle.calibration = fit_calibration(bundle, held_out, parsed)
    scorers = out_of_fold(bundle, held_out, parsed, folds)
    fresh = [
        row
        for d in held_out
        for row in evidence_rows(scorers.get(d.user_data["doc_id"], bundle), d, parsed, routing)
    ]
    pooled = [(r["field"], r["confidence"], r["correct"], "fold") for r in fresh if r["acceptable"]]
    if evidence is not None and not evidence.is_empty():
        seen = {(d.user_data["doc_id"], s.name) for d in held_out for s in bundle.doctype.fields}
        pooled += pooled_evidence(evidence, bundle.version, bundle.calibration.confidence, seen)
    certs = certify_fields(
        bundle.doctype, pooled, routing.field_target, routing.certainty, routing.min_support
    )
    bundle.thresholds = {name: c.threshold for name, c in certs.items()}
    bundle.meta[CERTIFICATION_META] = {name: c.as_dict() for name, c in certs.items()}
    for scorer in scorers.values():
        scorer.thresholds = bundle.thresholds
    bundle.meta[DOC_THRESHOLD_META], bundle.meta["doc_threshold_basis"] = doc_threshold(
        bundle, held_out, routing, parsed, scorers
    )
    return fresh


def leave_one_out_history(docs: list[Doc]) -> dict[str, VendorHistory]:
    """Per document, the vendor history the *other* documents' corrections give it: what
    production sees for a repeat vendor once those documents were corrected."""
    pool = history_entries([(d.user_data["doc_id"], d.user_data["fields"], d.text) for d in docs])
    out: dict[str, VendorHistory] = {}
    for d in docs:
        me = d.user_data["doc_id"]
        entries = [replace(e, support=len(ids - {me})) for e, ids in pool if ids - {me}]
        if (h := vendor_history(d.text, entries)) is not None:
            out[me] = h
    return out


def doc_threshold(
    bundle: ModelBundle,
    held_out: list[Doc],
    routing: RoutingConfig,
    parsed: Parsed,
    scorers: dict[str, ModelBundle] | None = None,
) -> tuple[float, str]:
    """The document-confidence threshold for touchless documents, and its basis.

    Fitted like the field thresholds, on the held-out documents whose every field is accepted
    (each with the vendor history the other documents give it, as in production): the lowest
    document confidence at which they are entirely right with ``routing.target_precision``
    (basis ``held-out``). With fewer than ``min_support`` such documents the target itself is
    the threshold, trusting the calibrated confidences (basis ``calibration``: the product of
    calibrated field confidences is the probability that every field is right, if fields err
    independently). ``scorers``: per document, the bundle whose out-of-fold calibration
    scores it (default ``bundle``)."""
    bundle.meta[DOC_THRESHOLD_META] = 0.0  # the scorers share ``meta``
    history = leave_one_out_history(held_out)
    rows: list[tuple[float, bool]] = []
    for d in held_out:
        doc_id = d.user_data["doc_id"]
        scorer = (scorers or {}).get(doc_id, bundle)
        pred = predict_text(
            scorer, doc_id, d.text, parsed[doc_id], doc_words(d), history.get(doc_id), routing
        )
        if pred.route != "auto":
            continue
        truth = d.user_data["fields"]
        right = all(
            values_match(s, pred.fields[s.name].value, truth.get(s.name) or None)
            for s in bundle.doctype.fields
            if s.required
        )
        rows.append((pred.doc_confidence, right))
    if len(rows) < routing.min_support:
        return routing.target_precision, "calibration"
    cut = precision_cut(rows, routing.target_precision, routing.min_support)
    return (cut if cut < NEVER else NEVER), "held-out"


def _fully_aligned(doc: Doc, doctype: DocType) -> bool:
    """Whether every labelled value of ``doc`` is one of its entities. A value OCR garbled
    beyond alignment would otherwise teach the NER that the words printing it are not an
    entity (spaCy has no per-label "unknown"), so such documents are left out of NER updates
    (they still serve calibration when held out)."""
    labels = {e.label_ for e in doc.ents}
    fields = doc.user_data.get("fields", {})
    return all(doctype.spec(k).label in labels for k, v in fields.items() if v and v.strip())


def _accuracy(bundle: ModelBundle, docs: list[Doc]) -> float:
    """Share of (document, field) pairs predicted exactly right, missing counted wrong."""
    right = total = 0
    parsed = _parse(bundle.nlp, docs)
    for d in docs:
        pred = predict_text(
            bundle, d.user_data["doc_id"], d.text, parsed[d.user_data["doc_id"]], doc_words(d)
        )
        for spec in bundle.doctype.fields:
            t = d.user_data["fields"].get(spec.name) or None
            if t is None and pred.fields[spec.name].value is None:
                continue
            total += 1
            right += values_match(spec, pred.fields[spec.name].value, t)
    return right / total if total else 0.0


def _fit_ner(
    train_docs: list[Doc],
    held_out: list[Doc],
    doctype: DocType,
    config: TrainConfig,
    patience: int,
    report: TrainReport | None = None,
    label: str = "training",
) -> spacy.language.Language:
    """Train NER from scratch on ``train_docs``, keeping the epoch with the best accuracy on
    ``held_out``; per-epoch history goes to ``report`` when given, progress lines (``label``)
    to ``docasset.core.progress``."""
    fix_random_seed(config.seed)
    rng = random.Random(config.seed)
    nlp = spacy.blank("en")
    ner: Any = nlp.add_pipe("ner")  # spaCy types add_pipe as a bare callable
    for spec in doctype.fields:
        ner.add_label(spec.label)
    examples = [Example(nlp.make_doc(d.text), d) for d in train_docs if _fully_aligned(d, doctype)]
    if not examples:
        raise TrainingError("no training document has all its values aligned to its text")
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = config.learn_rate
    probe = ModelBundle(nlp, doctype, Calibration(), {}, meta={LAYOUT_META: True, CELLS_META: True})
    best_bytes, best_acc, stale = nlp.to_bytes(), -1.0, 0
    progress = Progress(label, config.epochs, unit="epochs")
    for epoch in range(1, config.epochs + 1):
        rng.shuffle(examples)
        losses: dict[str, float] = {}
        for batch in minibatch(
            examples, size=compounding(config.batch_start, config.batch_end, 1.001)
        ):
            nlp.update(batch, drop=config.dropout, sgd=optimizer, losses=losses)
        acc = _accuracy(probe, held_out)
        if report is not None:
            report.history.append(
                {
                    "epoch": epoch,
                    "loss": round(losses.get("ner", 0.0), 3),
                    "dev_accuracy": round(acc, 4),
                }
            )
        if acc > best_acc:
            best_bytes, best_acc, stale = nlp.to_bytes(), acc, 0
            if report is not None:
                report.best_epoch, report.best_dev_accuracy = epoch, acc
        else:
            stale += 1
        progress.step(note=f"held-out accuracy {acc:.3f} (best {best_acc:.3f})")
        if stale >= patience:
            progress.total = epoch
            progress.finish(note=f"stopped: no improvement in {patience} epochs")
            break
    nlp.from_bytes(best_bytes)
    return nlp


def cross_fitted(
    train_docs: list[Doc], held_out: list[Doc], doctype: DocType, config: TrainConfig
) -> Parsed:
    """Entities for every training document from a pipeline trained without it: the training
    documents fall in ``config.calibration_folds`` folds (stable by id) and a model trained on
    the other folds parses each fold. Empty when the folds would be too small."""
    k = config.calibration_folds
    if k < 2 or len(train_docs) < k * MIN_FOLD_DOCS:
        return {}
    folds = [[d for d in train_docs if _fold(d, k) == i] for i in range(k)]
    parsed: Parsed = {}
    for i, fold in enumerate(folds):
        rest = [d for j, f in enumerate(folds) if j != i for d in f]
        if not fold or not any(_fully_aligned(d, doctype) for d in rest):
            return {}
        nlp = _fit_ner(
            rest, held_out, doctype, config, config.fold_patience, label=f"fold {i + 1}/{k}"
        )
        parsed.update(_parse(nlp, fold))
    return parsed


def _fold(doc: Doc, k: int, salt: str = "fold:") -> int:
    digest = hashlib.sha256((salt + doc.user_data["doc_id"]).encode()).hexdigest()
    return int(digest[:8], 16) % k


def train_model(
    train_docs: list[Doc],
    dev_docs: list[Doc],
    doctype: DocType,
    config: TrainConfig,
    routing: RoutingConfig | None = None,
    domain: DomainConfig | None = None,
    evidence: pl.DataFrame | None = None,
) -> tuple[ModelBundle, TrainReport]:
    """Train NER from scratch on ``train_docs``; calibrate and set the routing thresholds on
    held-out outcomes: the ``dev_docs`` parsed by the model plus, cross-fitted, the training
    documents parsed by fold models that never saw them.

    Why cross-fitting: a confidence model fitted on a few dozen dev documents carries their
    sampling error into every confidence (production health's estimated accuracy is their
    mean). On five random halvings of SROIE, the gap between mean confidence and realized
    accuracy on the other half had max |gap| 8.3 points with the dev split alone and 5.1
    with 3-fold cross-fitting (mean |gap| 3.0 -> 2.5).

    With no dev documents and too few for folds, calibration falls back to the training
    documents and the report says so (``calibrated_on="train"``): confidences are then
    optimistic.

    ``evidence``: the calibration store's rows, pooled with this training's held-out values
    to certify the thresholds (see :func:`calibrate`); the report's ``evidence`` holds the
    fresh rows to append to the store.
    """
    if not train_docs:
        raise TrainingError("no training documents")
    routing = routing or RoutingConfig()
    started = time.perf_counter()
    report = TrainReport(len(train_docs), len(dev_docs), "dev" if dev_docs else "train")
    nlp = _fit_ner(train_docs, dev_docs or train_docs, doctype, config, config.patience, report)
    bundle = ModelBundle(
        nlp, doctype, Calibration(), {}, meta={LAYOUT_META: True, CELLS_META: True}
    )
    # What the training documents look like: a document unlike them is not accepted on the
    # model's confidence alone (docasset.core.extraction.domain).
    if (summary := domain_summary([d.text for d in train_docs], domain)) is not None:
        bundle.meta[DOMAIN_META] = summary
    folds = cross_fitted(train_docs, dev_docs or train_docs, doctype, config)
    held_out = dev_docs + [d for d in train_docs if d.user_data["doc_id"] in folds]
    if folds:
        report.calibrated_on = "dev+folds" if dev_docs else "folds"
    if held_out:
        parsed = {**_parse(nlp, dev_docs), **folds}
        report.evidence = calibrate(bundle, held_out, routing, parsed, evidence=evidence)
    else:  # in-sample confidences: certify on the store, never store these rows as evidence
        calibrate(bundle, train_docs, routing, evidence=evidence)
    report.n_calibration = len(held_out or train_docs)
    report.seconds = round(time.perf_counter() - started, 2)
    return bundle, report
