"""Annotation QA: the consistency issues of a curated set, per document."""

from __future__ import annotations

import json
from collections import defaultdict
from itertools import pairwise
from typing import Any

import polars as pl
import spacy

from docasset.core.curate import CuratedSet
from docasset.core.fields import DocType, collapse, validate_field
from docasset.core.train import docs_from_bytes


def consistency_issues(curated: CuratedSet, doctype: DocType) -> dict[str, list[str]]:
    """Document id -> issues, for every promoted document (train/dev/golden).

    Checks: entity labels within the schema; spans on token boundaries (a span that does not
    round-trip through ``char_span``); overlapping spans; values that fail their field's
    validator; values not found in the OCR text; the same surface string labelled differently
    across documents.
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
    for key, labs in surface.items():
        if len(labs) > 1:
            for doc_id in where[key]:
                issues[doc_id].append(f"{key!r} labelled {sorted(labs)} across documents")
    return {d: v for d, v in issues.items()}


def consistency_summary(curated: CuratedSet, doctype: DocType) -> dict[str, Any]:
    """Inconsistency rate and the offending documents."""
    issues = consistency_issues(curated, doctype)
    n = len(issues)
    bad = {d: v for d, v in issues.items() if v}
    return {
        "documents": n,
        "documents_with_issues": len(bad),
        "inconsistency_rate": len(bad) / n if n else 0.0,
        "offending": bad,
    }
