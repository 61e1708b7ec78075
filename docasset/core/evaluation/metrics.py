"""Evaluation metrics: SROIE-style exact match per field, automation and calibration.

A wrong prediction counts as a false positive and a false negative (the SROIE protocol).
Text fields match ignoring case and whitespace; dates and amounts match normalized.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from rapidfuzz.distance import Levenshtein

from docasset.core.extraction.extract import DocPrediction
from docasset.core.extraction.fields import DocType, FieldSpec, values_match


@dataclass
class FieldScore:
    """Counts and scores for one field."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    similarity_sum: float = 0.0
    n_truth: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def similarity(self) -> float:
        return self.similarity_sum / self.n_truth if self.n_truth else 0.0


@dataclass
class Scores:
    """All evaluation figures of one model on one labelled set."""

    fields: dict[str, FieldScore]
    n_docs: int
    n_auto: int
    n_auto_correct: int
    ece: float
    reliability: list[dict[str, float]] = field(default_factory=list)
    worst: list[dict[str, object]] = field(default_factory=list)

    @property
    def micro(self) -> FieldScore:
        out = FieldScore()
        for s in self.fields.values():
            out.tp, out.fp, out.fn = out.tp + s.tp, out.fp + s.fp, out.fn + s.fn
            out.similarity_sum += s.similarity_sum
            out.n_truth += s.n_truth
        return out

    @property
    def automation_rate(self) -> float:
        return self.n_auto / self.n_docs if self.n_docs else 0.0

    @property
    def auto_accuracy(self) -> float:
        return self.n_auto_correct / self.n_auto if self.n_auto else 1.0

    def as_dict(self) -> dict[str, object]:
        m = self.micro
        return {
            "n_docs": self.n_docs,
            "micro": {
                "precision": m.precision,
                "recall": m.recall,
                "f1": m.f1,
                "similarity": m.similarity,
            },
            "fields": {
                k: {
                    "precision": s.precision,
                    "recall": s.recall,
                    "f1": s.f1,
                    "similarity": s.similarity,
                    "tp": s.tp,
                    "fp": s.fp,
                    "fn": s.fn,
                }
                for k, s in self.fields.items()
            },
            "automation_rate": self.automation_rate,
            "auto_accuracy": self.auto_accuracy,
            "n_auto": self.n_auto,
            "ece": self.ece,
            "reliability": self.reliability,
        }


def expected_calibration_error(
    pairs: list[tuple[float, bool]], n_bins: int = 10
) -> tuple[float, list[dict[str, float]]]:
    """ECE over equal-width confidence bins, and the reliability table."""
    if not pairs:
        return 0.0, []
    table, ece = [], 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        rows = [(c, ok) for c, ok in pairs if lo <= c < hi or (b == n_bins - 1 and c == 1.0)]
        if not rows:
            continue
        conf = sum(c for c, _ in rows) / len(rows)
        acc = sum(ok for _, ok in rows) / len(rows)
        ece += len(rows) / len(pairs) * abs(conf - acc)
        table.append(
            {
                "lo": lo,
                "hi": hi,
                "n": len(rows),
                "confidence": round(conf, 4),
                "accuracy": round(acc, 4),
            }
        )
    return ece, table


def outcome(spec: FieldSpec, predicted: str | None, truth: str | None) -> tuple[int, int, int]:
    """(tp, fp, fn) of one field of one document under the SROIE protocol."""
    if values_match(spec, predicted, truth):
        return (1, 0, 0) if truth is not None else (0, 0, 0)
    return 0, int(predicted is not None), int(truth is not None)


def score(
    doctype: DocType, predictions: list[DocPrediction], truths: dict[str, dict[str, str]]
) -> Scores:
    """Score predictions against truth (doc id -> field -> printed value)."""
    fields = {n: FieldScore() for n in doctype.names}
    n_auto = n_auto_ok = 0
    pairs: list[tuple[float, bool]] = []
    worst: list[dict[str, object]] = []
    for pred in predictions:
        truth = truths.get(pred.doc_id, {})
        wrong: list[str] = []
        for spec in doctype.fields:
            s = fields[spec.name]
            p = pred.fields[spec.name].value if spec.name in pred.fields else None
            t = truth.get(spec.name) or None
            ok = values_match(spec, p, t)
            if t is not None:
                s.n_truth += 1
                s.similarity_sum += Levenshtein.normalized_similarity(
                    " ".join((p or "").split()).lower(), " ".join(t.split()).lower()
                )
            if p is not None:
                pairs.append((pred.fields[spec.name].confidence, ok))
            tp, fp, fn = outcome(spec, p, t)
            s.tp, s.fp, s.fn = s.tp + tp, s.fp + fp, s.fn + fn
            if fp or fn:
                wrong.append(spec.name)
        if pred.route == "auto":
            n_auto += 1
            n_auto_ok += not any(f in doctype.required for f in wrong)
        if wrong:
            worst.append({"doc_id": pred.doc_id, "wrong": wrong, "route": pred.route})
    ece, table = expected_calibration_error(pairs)
    worst.sort(key=lambda w: -len(w["wrong"]))  # type: ignore[arg-type]
    return Scores(fields, len(predictions), n_auto, n_auto_ok, ece, table, worst[:20])


def outcome_matrix(
    doctype: DocType, predictions: list[DocPrediction], truths: dict[str, dict[str, str]]
) -> np.ndarray:
    """Per document and field the (tp, fp, fn) counts: shape (documents, fields, 3)."""
    out = np.zeros((len(predictions), len(doctype.fields), 3), dtype=np.int64)
    for i, pred in enumerate(predictions):
        truth = truths.get(pred.doc_id, {})
        for j, spec in enumerate(doctype.fields):
            p = pred.fields[spec.name].value if spec.name in pred.fields else None
            out[i, j] = outcome(spec, p, truth.get(spec.name) or None)
    return out


def _prf(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 over the last axis (tp, fp, fn); 0 where undefined."""
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        r = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    return p, r, f


def bootstrap_ci(
    names: list[str],
    outcomes: np.ndarray,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, dict[str, list[float]]]:
    """Percentile bootstrap intervals of per-field and micro precision/recall/F1.

    Documents are resampled with replacement (the unit of sampling is the document, since a
    document's fields err together); ``outcomes`` is :func:`outcome_matrix`. Returns
    field (and ``micro``) -> metric -> [low, high].
    """
    if outcomes.shape[0] == 0 or n_resamples <= 0:
        return {}
    n = outcomes.shape[0]
    rng = np.random.default_rng(seed)
    # Resampling n documents with replacement = multinomial document weights; one matrix
    # product then gives every resample's counts without materializing the resamples.
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=n_resamples)
    counts = np.einsum("bd,dfk->bfk", weights, outcomes)
    per_field = _prf(counts)
    micro = _prf(counts.sum(axis=1))
    lo, hi = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    metrics = ("precision", "recall", "f1")

    def interval(values: np.ndarray) -> list[float]:
        return [round(float(np.percentile(values, q)), 4) for q in (lo, hi)]

    out = {
        name: {m: interval(v[:, j]) for m, v in zip(metrics, per_field, strict=True)}
        for j, name in enumerate(names)
    }
    out["micro"] = {m: interval(v) for m, v in zip(metrics, micro, strict=True)}
    return out


def automation_at_precision(docs: list[tuple[float, bool]], target: float) -> tuple[float, float]:
    """The largest share of documents that can be accepted, most confident first, with the
    accepted documents' accuracy >= ``target``; and the document confidence cut (1.01: none).

    ``docs`` is (document confidence, document right) per document. The cut falls only
    between distinct confidences, as a threshold would.
    """
    ranked = sorted(docs, key=lambda d: -d[0])
    best_k, cut, right = 0, 1.01, 0
    for k, (conf, ok) in enumerate(ranked, start=1):
        right += ok
        if k < len(ranked) and ranked[k][0] == conf:
            continue
        if conf > 0 and right / k >= target:
            best_k, cut = k, conf
    return (best_k / len(ranked) if ranked else 0.0), cut
