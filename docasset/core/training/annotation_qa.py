"""Annotation QA: the consistency issues of a curated set, and the QA list.

Consistency issues (``consistency_issues``) are hard problems of a promoted annotation; the
``annotation_consistency`` gate counts them. The QA list (``qa_list``) holds documents a person
should look at again without blocking training: annotator conflicts, and out-of-fold
disagreements - a model that never trained on the document predicted another value with high
calibrated confidence (in the spirit of cleanlab's label-issue detection: a confident
out-of-sample prediction that contradicts the given label is a likely label error).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import polars as pl
import spacy

from docasset.core.extraction.fields import DocType, collapse, validate_field, values_match
from docasset.core.training.curate import CuratedSet
from docasset.core.training.train import docs_from_bytes
from docasset.core.tunable import tunable
from docasset.core.validation.corrections import CorrectionRecord, latest_per_document


@dataclass(frozen=True)
class QaConfig:
    """When annotations block training, and what goes on the QA list."""

    max_inconsistency_rate: float = tunable(
        0.15,
        "annotation_consistency fails above this share of promoted documents with issues.",
        ge=0,
        le=1,
    )
    min_confidence: float = tunable(
        0.9,
        "QA list: a model that never trained on a corrected document predicted another value "
        "with at least this calibrated confidence (out-of-fold disagreement).",
        ge=0,
        le=1,
    )
    auto_sample_rate: float = tunable(
        0.05,
        "Share of automated documents (stable by id hash) also put in the review queue as a "
        "QA sample (every accepted field asked blind); the ones found wrong are promoted as "
        "auto false positives.",
        ge=0,
        le=1,
    )
    qa_rate: float = tunable(
        0.05,
        "Share of accepted fields (stable by a hash of document id and field) asked blind in "
        "the review queue as QA: their answers measure accepted-field accuracy and feed the "
        "calibration store (0: off).",
        ge=0,
        le=1,
    )


MODEL_SOURCES = ("model", "rule", "both")  # memory values are the operators' own, not a model's


def consistency_issues(curated: CuratedSet, doctype: DocType) -> dict[str, list[str]]:
    """Document id -> issues, for every promoted document (train/dev/golden).

    Checks: entity labels within the schema; spans on token boundaries (a span that does not
    round-trip through ``char_span``, and annotator spans recorded by curation); overlapping
    spans; values that fail their field's validator; values not found in the OCR text; the
    same surface string labelled differently across documents (except as fields sharing one
    date or amount type, where a value's role is not in its text).
    """
    nlp = spacy.blank("en")
    issues: dict[str, list[str]] = defaultdict(list)
    promoted = curated.records.filter(pl.col("split").is_in(["train", "dev", "golden"]))
    for r in promoted.iter_rows(named=True):
        issues[r["doc_id"]] += json.loads(r["issues"])
    labels = {s.label for s in doctype.fields}
    surface: dict[str, set[str]] = defaultdict(set)
    where: dict[str, set[str]] = defaultdict(set)
    for blob in (curated.train, curated.dev, curated.golden):
        for doc in docs_from_bytes(blob, nlp):
            doc_id = doc.user_data["doc_id"]
            for ent in doc.ents:
                if ent.label_ not in labels:
                    issues[doc_id].append(
                        f"label {ent.label_!r} is not in the {doctype.name} schema"
                    )
                if doc.char_span(ent.start_char, ent.end_char) is None:
                    issues[doc_id].append(f"span {ent.text!r} is not on token boundaries")
                key = collapse(ent.text).lower()
                surface[key].add(ent.label_)
                where[key].add(doc_id)
            spans = sorted((e.start_char, e.end_char) for e in doc.ents)
            if any(a[1] > b[0] for a, b in pairwise(spans)):
                issues[doc_id].append("overlapping spans")
            for name, value in doc.user_data["fields"].items():
                if name in doctype.names:
                    issues[doc_id] += validate_field(doctype.spec(name), value)
    types = {s.label: s.type for s in doctype.fields}
    for key, labs in surface.items():
        if len(labs) > 1 and not _roles_of_one_value_type(labs, types):
            for doc_id in where[key]:
                issues[doc_id].append(f"{key!r} labelled {sorted(labs)} across documents")
    return {d: v for d, v in issues.items()}


ROLE_FREE_TYPES = ("date", "amount")  # a printed date or amount says nothing of its role


def _roles_of_one_value_type(labels: set[str], types: dict[str, str]) -> bool:
    """Whether ``labels`` are fields of one date or amount type: "03/08/20" ends one flight
    and starts another, "9.00" is one receipt's subtotal and another's total. A string
    labelled as a text field in one document and another field elsewhere (a company
    labelled as an address) stays an inconsistency."""
    kinds = {types.get(label) for label in labels}
    return len(kinds) == 1 and kinds <= set(ROLE_FREE_TYPES)


def out_of_fold_disagreements(
    doctype: DocType,
    preds: pl.DataFrame,
    corrections: pl.DataFrame,
    trained_on: dict[str, set[str]],
    min_confidence: float,
) -> dict[str, list[str]]:
    """Document id -> fields where a model that never trained on the document predicted a
    different value than the annotation with calibrated confidence >= ``min_confidence``.

    ``trained_on``: model version -> document ids its training set held. A prediction by a
    model that trained on the document is in-fold and ignored, and so are predictions of
    versions missing from ``trained_on`` (their training set is unknown).
    """
    latest = {
        r["doc_id"]: CorrectionRecord.from_row(r).fields
        for r in latest_per_document(corrections).iter_rows(named=True)
        if not r["verdict"] and not r["conflict"]
    }
    confident = preds.filter(
        pl.col("doc_id").is_in(list(latest))
        & pl.col("model_version").is_not_null()
        & pl.col("source").is_in(MODEL_SOURCES)
        & (pl.col("confidence") >= min_confidence)
        & pl.col("field").is_in(list(doctype.names))
    )
    out: dict[str, list[str]] = defaultdict(list)
    for r in confident.iter_rows(named=True):
        fold = trained_on.get(r["model_version"])
        if fold is None or r["doc_id"] in fold:
            continue
        truth = latest[r["doc_id"]].get(r["field"]) or None
        if not values_match(doctype.spec(r["field"]), r["value"], truth):
            out[r["doc_id"]].append(
                f"{r['field']}: model {r['model_version']} predicted {r['value']!r} at "
                f"{r['confidence']:.2f}, annotated {truth!r}"
            )
    return dict(out)


def conflict_reasons(corrections: pl.DataFrame) -> dict[str, list[str]]:
    """Document id -> the disagreeing annotations of documents in annotator conflict."""
    latest = latest_per_document(corrections)
    ids = latest.filter(pl.col("conflict"))["doc_id"].to_list() if latest.height else []
    out: dict[str, list[str]] = {}
    for doc_id in ids:
        rows = corrections.filter(pl.col("doc_id") == doc_id).sort("timestamp")
        out[doc_id] = [
            f"annotator conflict: {r['annotator']} says {r['fields_json']}"
            for r in rows.iter_rows(named=True)
        ]
    return out


def qa_list(*sources: dict[str, list[str]]) -> dict[str, list[str]]:
    """Merge QA reasons per document."""
    out: dict[str, list[str]] = defaultdict(list)
    for src in sources:
        for doc_id, reasons in src.items():
            out[doc_id] += reasons
    return dict(sorted(out.items()))


def consistency_summary(curated: CuratedSet, doctype: DocType) -> dict[str, Any]:
    """Inconsistency rate, the offending documents, and the QA list."""
    issues = consistency_issues(curated, doctype)
    n = len(issues)
    bad = {d: v for d, v in issues.items() if v}
    qa = getattr(curated, "qa", {}) or {}
    return {
        "documents": n,
        "documents_with_issues": len(bad),
        "inconsistency_rate": len(bad) / n if n else 0.0,
        "offending": bad,
        "qa": qa,
    }
