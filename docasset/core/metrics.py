"""Evaluation metrics: SROIE-style exact match per field, automation and calibration.

A wrong prediction counts as a false positive and a false negative (the SROIE protocol).
Text fields match ignoring case and whitespace; dates and amounts match normalized.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rapidfuzz.distance import Levenshtein

from docasset.core.extract import DocPrediction
from docasset.core.fields import DocType, values_match


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
            if p is not None and t is not None and ok:
                s.tp += 1
                continue
            if p is not None:
                s.fp += 1
            if t is not None:
                s.fn += 1
            if p is not None or t is not None:
                wrong.append(spec.name)
        if pred.route == "auto":
            n_auto += 1
            n_auto_ok += not any(f in doctype.required for f in wrong)
        if wrong:
            worst.append({"doc_id": pred.doc_id, "wrong": wrong, "route": pred.route})
    ece, table = expected_calibration_error(pairs)
    worst.sort(key=lambda w: -len(w["wrong"]))  # type: ignore[arg-type]
    return Scores(fields, len(predictions), n_auto, n_auto_ok, ece, table, worst[:20])
