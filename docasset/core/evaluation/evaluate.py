"""A model on the golden set: scores with bootstrap intervals, automation at the target
precision, latency (the gate is ``docasset.core.evaluation.gate``, the report
``docasset.core.evaluation.report``)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from spacy.tokens import Doc

from docasset.core.evaluation.metrics import (
    Scores,
    automation_at_precision,
    bootstrap_ci,
    outcome_matrix,
    score,
)
from docasset.core.extraction.evidence import doc_words
from docasset.core.extraction.extract import ModelBundle, predict_text
from docasset.core.extraction.fields import DocType, values_match
from docasset.core.extraction.routing import DocPrediction

CI = dict[str, dict[str, list[float]]]  # field (and "micro") -> metric -> [low, high]


@dataclass
class GoldenScores(Scores):
    """:class:`Scores` of a model on the golden set with what the gate and the report add:
    bootstrap intervals (``ci``, see :func:`bootstrap_ci`), the target precision and the
    share of documents automatable at it, ranked by document confidence (with the cut).
    A dict only at the serialisation boundary (:meth:`as_dict`, :meth:`from_dict`)."""

    ci: CI = field(default_factory=dict)
    target_precision: float = 0.98
    automation_at_target: float = 0.0
    confidence_cut_at_target: float = 1.01

    def f1(self, name: str) -> float:
        """F1 of a field, or of all fields pooled (``"micro"``)."""
        return self.micro.f1 if name == "micro" else self.fields[name].f1

    def as_dict(self) -> dict[str, Any]:
        return {
            **super().as_dict(),
            "ci": self.ci,
            "target_precision": self.target_precision,
            "automation_at_target": self.automation_at_target,
            "confidence_cut_at_target": self.confidence_cut_at_target,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GoldenScores:
        s = Scores.from_dict(d)
        return cls(
            **{f.name: getattr(s, f.name) for f in fields(Scores)},
            ci=d.get("ci") or {},
            target_precision=float(d.get("target_precision", 0.98)),
            automation_at_target=float(d.get("automation_at_target", 0.0)),
            confidence_cut_at_target=float(d.get("confidence_cut_at_target", 1.01)),
        )


def comparison_figures(s: GoldenScores) -> dict[str, float | None]:
    """The figures a shadow comparison sets side by side (``report.json``'s ``shadow``)."""
    return {
        "micro_f1": s.micro.f1,
        "field_automation": s.field_automation,
        "accepted_field_accuracy": s.accepted_field_accuracy,
        "automation_rate": s.automation_rate,
    }


@dataclass
class ModelEvaluation:
    """One model's figures on the golden set (``scores``) with what they were computed from."""

    version: str | None
    scores: GoldenScores
    latency_p50: float
    latency_p95: float
    docs_per_second: float
    predictions: list[DocPrediction] = field(default_factory=list, repr=False)
    correct: dict[str, set[str]] = field(default_factory=dict, repr=False)  # field -> doc ids
    texts: dict[str, str] = field(default_factory=dict, repr=False)  # doc id -> OCR text
    truths: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)


def doc_confidence(doctype: DocType, pred: DocPrediction) -> float:
    """How sure the model is of a whole document: its least confident required field; 0 when
    a required field is missing or a validator fails (such a document can never be automated)."""
    if pred.has("validator_failed", "no_text", "no_model"):
        return 0.0
    confs = [pred.fields[n].confidence if pred.fields[n].value else 0.0 for n in doctype.required]
    return min(confs, default=0.0)


def doc_right(doctype: DocType, pred: DocPrediction, truth: dict[str, str]) -> bool:
    """Every required field right (what "accuracy of auto documents" counts)."""
    return all(
        values_match(doctype.spec(n), pred.fields[n].value, truth.get(n) or None)
        for n in doctype.required
    )


def evaluate_models(
    bundles: list[ModelBundle],
    golden: list[Doc],
    target_precision: float = 0.98,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> list[ModelEvaluation]:
    """Run every bundle on every golden document and score each (in ``bundles``' order).

    The models' latencies are paired: each document is predicted by all of them back to back,
    the order rotating from one document to the next, so that a burst of load on the machine
    (or a cold cache) falls on all of them alike instead of on whichever ran second."""
    preds: list[list[DocPrediction]] = [[] for _ in bundles]
    times: list[list[float]] = [[] for _ in bundles]
    for i, d in enumerate(golden):
        words = doc_words(d)
        for k in range(len(bundles)):
            j = (i + k) % len(bundles)
            t = time.perf_counter()
            pred = predict_text(bundles[j], d.user_data["doc_id"], d.text, words=words)
            times[j].append(time.perf_counter() - t)
            preds[j].append(pred)
    texts = {d.user_data["doc_id"]: d.text for d in golden}
    truths = {d.user_data["doc_id"]: d.user_data["fields"] for d in golden}
    return [
        evaluate_predictions(
            b.doctype, b.version, p, t, texts, truths, target_precision, n_bootstrap, seed
        )
        for b, p, t in zip(bundles, preds, times, strict=True)
    ]


def evaluate_predictions(
    doctype: DocType,
    version: str | None,
    preds: list[DocPrediction],
    times: list[float],
    texts: dict[str, str],
    truths: dict[str, dict[str, str]],
    target_precision: float = 0.98,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> ModelEvaluation:
    """Score predictions made on the golden set (``times``: seconds per document)."""
    base = score(doctype, preds, truths)
    automatable, cut = automation_at_precision(
        [(doc_confidence(doctype, p), doc_right(doctype, p, truths[p.doc_id])) for p in preds],
        target_precision,
    )
    s = GoldenScores(
        **{f.name: getattr(base, f.name) for f in fields(Scores)},
        ci=bootstrap_ci(doctype.names, outcome_matrix(doctype, preds, truths), n_bootstrap, seed),
        target_precision=target_precision,
        automation_at_target=automatable,
        confidence_cut_at_target=cut,
    )
    arr = np.array(times) if times else np.zeros(1)
    total = float(arr.sum())
    correct = {
        spec.name: {
            p.doc_id
            for p in preds
            if values_match(
                spec, p.fields[spec.name].value, truths[p.doc_id].get(spec.name) or None
            )
        }
        for spec in doctype.fields
    }
    return ModelEvaluation(
        version,
        s,
        float(np.percentile(arr, 50)),
        float(np.percentile(arr, 95)),
        len(preds) / total if total > 0 else 0.0,
        preds,
        correct,
        texts,
        truths,
    )
