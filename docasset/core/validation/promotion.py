"""The curated training set as the asset builds it: corrections plus the document and
prediction tables in, the curated set (with its QA list) out."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from docasset.core.extraction.fields import DocType
from docasset.core.ocr.documents import bad_scans, texts_of, word_confs_of
from docasset.core.training.registry import Registry
from docasset.core.validation.curate import (
    CuratedSet,
    SplitConfig,
    curate,
    sampled_auto_outcomes,
    trained_ids,
)
from docasset.core.validation.qa import (
    QaConfig,
    conflict_reasons,
    out_of_fold_disagreements,
    qa_list,
)
from docasset.errors import ModelError


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
