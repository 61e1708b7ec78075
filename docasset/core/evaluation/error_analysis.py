"""Error analysis of one model on the golden set: the worst documents, each error shown in
its OCR context, and the fields most often confused (with each other, missed or invented)."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass

from docasset.core.extraction.extract import DocPrediction
from docasset.core.extraction.fields import DocType, values_match
from docasset.core.ocr.text import page_of


@dataclass(frozen=True)
class FieldError:
    """One wrong field of one document."""

    field: str
    kind: str  # wrong | missed | spurious
    predicted: str | None
    truth: str | None
    confidence: float
    truth_context: str  # OCR text around where the true value is printed ("" if not found)
    predicted_context: str  # OCR text around the predicted span ("" if nothing predicted)
    truth_page: int | None = None  # 0-based page where the true value is printed
    predicted_page: int | None = None  # 0-based page of the predicted span


@dataclass(frozen=True)
class DocErrors:
    """A document with at least one wrong field."""

    doc_id: str
    route: str
    errors: list[FieldError]

    @property
    def silent(self) -> bool:
        """Wrong but automated: nobody would have looked at it."""
        return self.route == "auto"


@dataclass
class FieldConfusion:
    """How one field goes wrong across the golden set."""

    field: str
    wrong: int = 0
    missed: int = 0
    spurious: int = 0
    took_value_of: Counter[str] = dataclasses.field(default_factory=Counter)  # other field -> count

    @property
    def errors(self) -> int:
        return self.wrong + self.missed + self.spurious


def _flat(text: str) -> str:
    return text.replace("\n", " ⏎ ")


def _window(text: str, start: int, end: int, chars: int) -> str:
    """``text`` around [start, end) with the span in ⟦ ⟧, newlines shown as ⏎."""
    lo, hi = max(0, start - chars), min(len(text), end + chars)
    return (
        ("…" if lo > 0 else "")
        + _flat(text[lo:start])
        + "⟦"
        + _flat(text[start:end])
        + "⟧"
        + _flat(text[end:hi])
        + ("…" if hi < len(text) else "")
    )


def find_value(text: str, value: str) -> tuple[int, int] | None:
    """Where ``value`` is printed in ``text``, ignoring case and whitespace; None if absent."""
    tokens = value.split()
    if not tokens:
        return None
    m = re.search(r"\s*".join(re.escape(t) for t in tokens), text, re.IGNORECASE)
    return (m.start(), m.end()) if m else None


def doc_errors(
    doctype: DocType, pred: DocPrediction, text: str, truth: dict[str, str], chars: int = 40
) -> list[FieldError]:
    """Every wrong field of one document, with its OCR context."""
    out = []
    for spec in doctype.fields:
        fp = pred.fields.get(spec.name)
        p = fp.value if fp else None
        t = truth.get(spec.name) or None
        if values_match(spec, p, t):
            continue
        kind = "missed" if p is None else "spurious" if t is None else "wrong"
        where = find_value(text, t) if t else None
        out.append(
            FieldError(
                spec.name,
                kind,
                p,
                t,
                fp.confidence if fp else 0.0,
                _window(text, *where, chars) if where else "",
                _window(text, fp.start, fp.end, chars) if fp and p is not None else "",
                page_of(text, where[0]) if where else None,
                page_of(text, fp.start) if fp and p is not None else None,
            )
        )
    return out


def analyse(
    doctype: DocType,
    predictions: list[DocPrediction],
    texts: dict[str, str],
    truths: dict[str, dict[str, str]],
    n_worst: int = 10,
    chars: int = 40,
) -> tuple[list[DocErrors], list[FieldConfusion]]:
    """The ``n_worst`` worst documents and the per-field confusion, most errors first.

    Worst first: silent errors (automated and wrong) before reviewed ones, then more wrong
    fields, then more confident mistakes (a confident error is the costlier kind).
    """
    docs: list[DocErrors] = []
    confusion = {n: FieldConfusion(n) for n in doctype.names}
    for pred in predictions:
        truth = truths.get(pred.doc_id, {})
        errors = doc_errors(doctype, pred, texts.get(pred.doc_id, ""), truth, chars)
        for e in errors:
            c = confusion[e.field]
            setattr(c, e.kind, getattr(c, e.kind) + 1)
            if e.predicted is None:
                continue
            for other in doctype.fields:
                if other.name != e.field and values_match(
                    other, e.predicted, truth.get(other.name) or None
                ):
                    c.took_value_of[other.name] += 1
        if errors:
            docs.append(DocErrors(pred.doc_id, pred.route, errors))
    docs.sort(key=lambda d: (not d.silent, -len(d.errors), -sum(e.confidence for e in d.errors)))
    fields = sorted((c for c in confusion.values() if c.errors), key=lambda c: -c.errors)
    return docs[:n_worst], fields


def analysis_dict(docs: list[DocErrors], fields: list[FieldConfusion]) -> dict[str, object]:
    """JSON-ready form of :func:`analyse` (for ``report.json``)."""
    return {
        "worst_documents": [
            {
                "doc_id": d.doc_id,
                "route": d.route,
                "errors": [e.__dict__ for e in d.errors],
            }
            for d in docs
        ],
        "confused_fields": [
            {
                "field": c.field,
                "errors": c.errors,
                "wrong": c.wrong,
                "missed": c.missed,
                "spurious": c.spurious,
                "took_value_of": dict(c.took_value_of),
            }
            for c in fields
        ],
    }
