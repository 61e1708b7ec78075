"""The curated training set as the asset builds it: corrections plus the document and
prediction tables in, the curated set (with its QA list) out.

With field-level routing an operator is not asked about the fields docasset accepted: a
correction leaves them out (Label Studio: the locked box left as shown). Left out, they would
teach the NER that the words printing them are no entity, so :func:`fill_accepted` completes
each correction with the accepted values it did not answer before curation."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from docasset.core.extraction.fields import DocType
from docasset.core.ocr.documents import bad_scans, texts_of, word_confs_of
from docasset.core.training.annotation_qa import (
    QaConfig,
    conflict_reasons,
    out_of_fold_disagreements,
    qa_list,
)
from docasset.core.training.curate import (
    CuratedSet,
    SplitConfig,
    curate,
    sampled_auto_outcomes,
    trained_ids,
)
from docasset.core.training.registry import Registry
from docasset.errors import ModelError


def fill_accepted(corrections: pl.DataFrame, predictions: pl.DataFrame | None) -> pl.DataFrame:
    """``corrections`` with each field the operator left out filled with the value docasset
    accepted for it (the document's latest prediction, ``field_status`` accepted); a field the
    operator answered, even with null, is theirs. Verdicts carry no fields and stay as they are."""
    if predictions is None or "field_status" not in predictions.columns or corrections.is_empty():
        return corrections
    acc = predictions.filter((pl.col("field_status") == "accepted") & pl.col("value").is_not_null())
    if "predicted_at" in acc.columns:
        acc = acc.sort("predicted_at")
    accepted: dict[str, dict[str, str]] = {}
    for r in acc.select("doc_id", "field", "value").iter_rows(named=True):
        accepted.setdefault(r["doc_id"], {})[r["field"]] = r["value"]  # the latest wins
    if not accepted:
        return corrections

    def filled(doc_id: str, fields_json: str | None, verdict: str | None) -> str | None:
        if verdict or fields_json is None or doc_id not in accepted:
            return fields_json
        try:
            fields = json.loads(fields_json)
        except ValueError:
            return fields_json  # an unusable stored record: curation skips it with its reason
        if not isinstance(fields, dict):
            return fields_json
        missing = {f: v for f, v in accepted[doc_id].items() if f not in fields}
        return json.dumps({**fields, **missing}, ensure_ascii=False) if missing else fields_json

    values = [
        filled(d, f, v)
        for d, f, v in corrections.select("doc_id", "fields_json", "verdict").iter_rows()
    ]
    return corrections.with_columns(pl.Series("fields_json", values, dtype=pl.Utf8))


def trained_on(registry: Registry, versions: list[str], sets_dir: Path) -> dict[str, set[str]]:
    """Model version -> document ids its training set held, for the versions whose training
    set is known (the others are left out: no out-of-fold claim is made about them)."""
    out: dict[str, set[str]] = {}
    for v in versions:
        try:
            info = registry.get(v).info
        except ModelError:
            continue
        ids = trained_ids(info, sets_dir, "doc_ids")
        if ids is not None:
            out[v] = ids
    return out


def build_curated_set(
    doctype: DocType,
    corrections: pl.DataFrame,
    documents: pl.DataFrame | None,
    predictions: pl.DataFrame | None,
    registry: Registry,
    curated_dir: Path,
    split: SplitConfig,
    qa: QaConfig,
) -> tuple[CuratedSet, int]:
    """The curated set of the corrections store and the number of out-of-fold disagreements
    on its QA list. ``documents``/``predictions``: the tables of (at least) the corrected
    documents; the frozen golden ids live in ``curated_dir/golden.json``."""
    corrections = fill_accepted(corrections, predictions)
    wanted = set(corrections["doc_id"].to_list())
    docs = documents.filter(pl.col("doc_id").is_in(list(wanted))) if documents is not None else None
    texts = texts_of(docs) if docs is not None else {}
    bad = bad_scans(docs) if docs is not None else set()
    preds = (
        predictions.filter(pl.col("doc_id").is_in(list(wanted)))
        if predictions is not None
        else None
    )
    outcomes = sampled_auto_outcomes(doctype, preds, corrections) if preds is not None else {}
    routes = (
        dict(preds.select("doc_id", "route").unique("doc_id").iter_rows())
        if preds is not None
        else {}
    )
    confs = word_confs_of(docs) if docs is not None else {}
    cur = curate(
        doctype,
        corrections,
        texts,
        bad,
        outcomes,
        curated_dir / "golden.json",
        split,
        routes,
        confs,
    )
    oof: dict[str, list[str]] = {}
    if preds is not None:
        versions = sorted(v for v in preds["model_version"].unique().to_list() if v)
        fold = trained_on(registry, versions, curated_dir / "sets")
        oof = out_of_fold_disagreements(doctype, preds, corrections, fold, qa.min_confidence)
    cur.qa = qa_list(cur.qa, conflict_reasons(corrections), oof)
    return cur, len(oof)
