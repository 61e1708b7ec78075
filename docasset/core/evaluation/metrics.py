"""Evaluation metrics: SROIE-style exact match per field, automation and calibration.

A wrong prediction counts as a false positive and a false negative (the SROIE protocol).
Text fields match ignoring case and whitespace; dates and amounts match normalized.

Automation is measured twice: per field (``field_automation``: the share of fields accepted,
with ``accepted_field_accuracy``: the share of accepted fields that are right) and per
document (``touchless_rate``: documents with no field to check, with ``touchless_accuracy``:
the share of them with every required field right). Operator effort follows one stated
convention (:func:`operator_seconds`): a field to check costs ``KEY_SECONDS`` when its value is
wrong or missing (the operator types it) and ``CONFIRM_SECONDS`` when it is right (the
operator confirms it); an accepted field costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rapidfuzz.distance import Levenshtein

from docasset.core.extraction.fields import DocType, FieldSpec, values_match
from docasset.core.extraction.routing import DocPrediction, FieldStatus

KEY_SECONDS = 10.0  # a field to check whose value is wrong or missing: typed by the operator
CONFIRM_SECONDS = 2.0  # a field to check whose value is right: confirmed by the operator

OPERATOR_SECONDS_CONVENTION = (
    f"{KEY_SECONDS:g} s per field to check that is wrong or missing (keyed), "
    f"{CONFIRM_SECONDS:g} s per field to check that is right (confirmed), "
    "0 s per accepted field"
)


def operator_seconds(status: FieldStatus, right: bool) -> float:
    """Estimated operator seconds for one field (the convention of this module)."""
    if status == "accepted":
        return 0.0
    return CONFIRM_SECONDS if right else KEY_SECONDS


@dataclass
class FieldScore:
    """Counts and scores for one field."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    similarity_sum: float = 0.0
    n_truth: int = 0
    n: int = 0  # documents scored
    accepted: int = 0  # ... whose value was accepted (no check)
    accepted_right: int = 0

    @property
    def automation(self) -> float:
        """Share of the documents whose value of this field was accepted."""
        return self.accepted / self.n if self.n else 0.0

    @property
    def accepted_accuracy(self) -> float | None:
        """Share of accepted values that are right (None: nothing accepted)."""
        return self.accepted_right / self.accepted if self.accepted else None

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
    operator_seconds: float = 0.0
    blocker_docs: dict[str, int] = field(default_factory=dict)  # kind -> documents

    @property
    def micro(self) -> FieldScore:
        out = FieldScore()
        for s in self.fields.values():
            out.tp, out.fp, out.fn = out.tp + s.tp, out.fp + s.fp, out.fn + s.fn
            out.similarity_sum += s.similarity_sum
            out.n_truth += s.n_truth
            out.n += s.n
            out.accepted += s.accepted
            out.accepted_right += s.accepted_right
        return out

    @property
    def field_automation(self) -> float:
        """Share of all fields accepted without a check."""
        return self.micro.automation

    @property
    def accepted_field_accuracy(self) -> float | None:
        """Share of accepted fields that are right (None: none accepted)."""
        return self.micro.accepted_accuracy

    @property
    def touchless_accuracy(self) -> float | None:
        """Share of touchless documents with every required field right (None: none)."""
        return self.n_auto_correct / self.n_auto if self.n_auto else None

    @property
    def operator_seconds_per_doc(self) -> float | None:
        return self.operator_seconds / self.n_docs if self.n_docs else None

    @property
    def automation_rate(self) -> float:
        return self.n_auto / self.n_docs if self.n_docs else 0.0

    @property
    def auto_accuracy(self) -> float:
        return self.n_auto_correct / self.n_auto if self.n_auto else 1.0

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``report.json``, the registry's metrics); :meth:`from_dict` reads it."""
        m = self.micro
        return {
            "n_docs": self.n_docs,
            "micro": {
                "precision": m.precision,
                "recall": m.recall,
                "f1": m.f1,
                "similarity": m.similarity,
            },
            "automation_rate": self.automation_rate,
            "auto_accuracy": self.auto_accuracy,
            "n_auto": self.n_auto,
            "touchless_rate": self.automation_rate,
            "touchless_accuracy": self.touchless_accuracy,
            "field_automation": self.field_automation,
            "accepted_field_accuracy": self.accepted_field_accuracy,
            "fields_accepted": m.accepted,
            "fields_accepted_right": m.accepted_right,
            "fields_scored": m.n,
            "n_auto_correct": self.n_auto_correct,
            "fields": {
                k: {
                    "precision": s.precision,
                    "recall": s.recall,
                    "f1": s.f1,
                    "similarity": s.similarity,
                    "tp": s.tp,
                    "fp": s.fp,
                    "fn": s.fn,
                    "automation": s.automation,
                    "accepted": s.accepted,
                    "accepted_right": s.accepted_right,
                    "n": s.n,
                    "accepted_accuracy": s.accepted_accuracy,
                }
                for k, s in self.fields.items()
            },
            "operator_seconds_per_doc": self.operator_seconds_per_doc,
            "operator_seconds_convention": OPERATOR_SECONDS_CONVENTION,
            "blocker_docs": self.blocker_docs,
            "ece": self.ece,
            "reliability": self.reliability,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Scores:
        """The scores :meth:`as_dict` wrote (a stored ``report.json``); the counts are exact
        (a field's true values are its tp + fn), ``worst`` is not stored so comes back empty."""
        fields = {}
        for name, f in d["fields"].items():
            n_truth = int(f["tp"]) + int(f["fn"])
            fields[name] = FieldScore(
                tp=int(f["tp"]),
                fp=int(f["fp"]),
                fn=int(f["fn"]),
                similarity_sum=float(f["similarity"]) * n_truth,
                n_truth=n_truth,
                n=int(f["n"]),
                accepted=int(f["accepted"]),
                accepted_right=int(f["accepted_right"]),
            )
        n_docs = int(d["n_docs"])
        return cls(
            fields,
            n_docs,
            int(d["n_auto"]),
            int(d["n_auto_correct"]),
            float(d["ece"]),
            list(d.get("reliability") or []),
            [],
            float(d.get("operator_seconds_per_doc") or 0.0) * n_docs,
            dict(d.get("blocker_docs") or {}),
        )


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
    seconds = 0.0
    blocker_docs: dict[str, int] = {}
    pairs: list[tuple[float, bool]] = []
    worst: list[dict[str, object]] = []
    for pred in predictions:
        truth = truths.get(pred.doc_id, {})
        wrong: list[str] = []
        for kind in {b.kind for b in pred.blockers}:
            blocker_docs[kind] = blocker_docs.get(kind, 0) + 1
        for spec in doctype.fields:
            s = fields[spec.name]
            fpred = pred.fields.get(spec.name)
            p = fpred.value if fpred is not None else None
            t = truth.get(spec.name) or None
            ok = values_match(spec, p, t)
            status: FieldStatus = fpred.status if fpred is not None else "to_check"
            s.n += 1
            if status == "accepted":
                s.accepted += 1
                s.accepted_right += ok
            seconds += operator_seconds(status, ok)
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
    return Scores(
        fields,
        len(predictions),
        n_auto,
        n_auto_ok,
        ece,
        table,
        worst[:20],
        seconds,
        dict(sorted(blocker_docs.items())),
    )


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
