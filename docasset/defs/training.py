"""Stages 5-6: ``curated_training_set`` (gate: ``annotation_consistency``), ``candidate_model``."""

# No ``from __future__ import annotations`` here: Dagster infers run config from the real
# ``config: TrainingConfig`` annotation and cannot resolve it from a string.

from dataclasses import asdict, replace
from pathlib import Path

import dagster as dg
import polars as pl
import spacy
from pydantic import Field

from docasset.core.extraction.evidence import WordSpans, word_spans
from docasset.core.ocr.text import document_text
from docasset.core.reporting.blocks import md_table
from docasset.core.training.registry import Registry
from docasset.core.training.train import docs_from_bytes, train_model
from docasset.core.validation.curate import (
    EXCLUSION_REASONS,
    CuratedSet,
    curate,
    read_set_manifest,
    sampled_auto_outcomes,
    write_set_manifest,
)
from docasset.core.validation.qa import (
    conflict_reasons,
    consistency_summary,
    out_of_fold_disagreements,
    qa_list,
)
from docasset.defs.partitions import ALL_BATCHES, concat_batches
from docasset.defs.resources import DocassetHome
from docasset.defs.settings import Settings
from docasset.errors import ModelError


def _trained_on(registry: Registry, sets_dir: Path, versions: list[str]) -> dict[str, set[str]]:
    """Model version -> document ids its training set held, for the versions whose training
    set is known (the others are left out: no out-of-fold claim is made about them)."""
    out: dict[str, set[str]] = {}
    for v in versions:
        try:
            manifest = read_set_manifest(sets_dir, registry.get(v).info.get("training_set_version"))
        except ModelError:
            manifest = None
        if manifest is not None:
            out[v] = set(manifest["doc_ids"])
    return out


@dg.asset(
    group_name="training",
    ins={
        "ocr_text": dg.AssetIn(**ALL_BATCHES),
        "raw_scans": dg.AssetIn(**ALL_BATCHES),
        "predictions": dg.AssetIn(**ALL_BATCHES),
    },
    kinds={"spacy"},
    description="Corrected documents promoted into spaCy training examples (DocBins for "
    "train/dev/golden) with a reason code for every excluded document. The golden set is "
    "frozen once it has enough documents and is never trained on.",
)
def curated_training_set(
    context,
    corrections: pl.DataFrame,
    ocr_text: dict[str, pl.DataFrame],
    raw_scans: dict[str, pl.DataFrame],
    predictions: dict[str, pl.DataFrame],
    home: DocassetHome,
    settings: Settings,
) -> CuratedSet:
    doctype = settings.doctype()
    words = concat_batches(ocr_text)
    wanted = set(corrections["doc_id"].to_list())
    texts: dict[str, str] = {}
    confs: dict[str, WordSpans] = {}
    if words is not None:
        mine = words.filter(pl.col("doc_id").is_in(list(wanted)))
        for (doc_id,), w in mine.partition_by("doc_id", as_dict=True).items():
            texts[str(doc_id)] = document_text(w, str(doc_id))
        confs = word_spans(mine)
    scans = concat_batches(raw_scans)
    bad = set(scans.filter(pl.col("bad_scan"))["doc_id"].to_list()) if scans is not None else set()
    preds = concat_batches(predictions)
    if preds is not None:  # predictions also carry the OCR evidence (unreadable, no text)
        bad |= set(preds.filter(pl.col("bad_scan"))["doc_id"].to_list())
    outcomes = sampled_auto_outcomes(doctype, preds, corrections) if preds is not None else {}
    routes = (
        dict(preds.select("doc_id", "route").unique("doc_id").iter_rows())
        if preds is not None
        else {}
    )
    wd = home.workdir()
    cur = curate(
        doctype,
        corrections,
        texts,
        bad,
        outcomes,
        wd.curated / "golden.json",
        settings.split_config(),
        routes,
        confs,
    )
    oof: dict[str, list[str]] = {}
    if preds is not None:
        versions = sorted(v for v in preds["model_version"].unique().to_list() if v)
        trained = _trained_on(home.registry(), wd.curated / "sets", versions)
        oof = out_of_fold_disagreements(
            doctype, preds, corrections, trained, settings.qa_config().min_confidence
        )
    cur.qa = qa_list(cur.qa, conflict_reasons(corrections), oof)
    manifest = write_set_manifest(wd.curated / "sets", cur)
    excluded = cur.records.filter(pl.col("split") == "excluded")
    reasons = excluded["reason"].value_counts()
    bases = cur.records.filter(pl.col("basis").is_not_null())["basis"].value_counts()
    context.add_output_metadata(
        {
            "training_set_version": cur.version,
            "manifest": dg.MetadataValue.path(str(manifest)),
            **{f"n_{k}": v for k, v in cur.counts.items()},
            "golden_frozen": bool(cur.golden_ids),
            "excluded_by_reason": dg.MetadataValue.json({r: c for r, c in reasons.iter_rows()}),
            "promoted_by_basis": dg.MetadataValue.json({b: c for b, c in bases.iter_rows()}),
            "reason_codes": dg.MetadataValue.json(EXCLUSION_REASONS),
            "excluded": dg.MetadataValue.md(
                md_table(excluded.head(500).iter_rows(named=True), ["doc_id", "reason"])
            ),
            "n_qa": len(cur.qa),
            "n_out_of_fold_disagreements": len(oof),
            "qa_list": dg.MetadataValue.json(dict(list(cur.qa.items())[:100])),
            "records": dg.MetadataValue.md(
                md_table(
                    cur.records.head(200).iter_rows(named=True),
                    ["doc_id", "split", "reason", "basis", "n_fields", "n_aligned", "issues"],
                )
            ),
        }
    )
    return cur


@dg.asset_check(
    asset=curated_training_set,
    blocking=True,
    description="Fails above settings.qa.max_inconsistency_rate of promoted documents "
    "with annotation issues (labels, spans, validators, values absent from the text, "
    "one string labelled differently across documents). Lists the QA list too: annotator "
    "conflicts and out-of-fold disagreements (a model that never trained on the document "
    "confidently predicted another value), which do not block.",
)
def annotation_consistency(
    curated_training_set: CuratedSet, settings: Settings
) -> dg.AssetCheckResult:
    s = consistency_summary(curated_training_set, settings.doctype())
    passed = s["inconsistency_rate"] <= settings.qa_config().max_inconsistency_rate
    return dg.AssetCheckResult(
        passed=passed,
        metadata={
            "inconsistency_rate": float(s["inconsistency_rate"]),
            "threshold": settings.qa_config().max_inconsistency_rate,
            "documents": s["documents"],
            "documents_with_issues": s["documents_with_issues"],
            "offending": dg.MetadataValue.json(dict(list(s["offending"].items())[:50])),
            "offending_ids": dg.MetadataValue.json(sorted(s["offending"])),
            "n_qa": len(s["qa"]),
            "qa_list": dg.MetadataValue.json(dict(list(s["qa"].items())[:50])),
        },
        description=None
        if passed
        else f"{s['documents_with_issues']} of {s['documents']} promoted documents have "
        f"annotation issues ({s['inconsistency_rate']:.1%} > "
        f"{settings.qa_config().max_inconsistency_rate:.1%}): "
        + ", ".join(sorted(s["offending"])[:10]),
    )


class TrainingConfig(dg.Config):
    """Per-run overrides of ``Settings.training`` (unset: the setting)."""

    epochs: int | None = Field(default=None, description="Most passes over the documents.")
    patience: int | None = Field(
        default=None, description="Stop after this many epochs without held-out improvement."
    )
    seed: int | None = Field(default=None, description="Random seed (deterministic per seed).")


@dg.asset(
    group_name="training",
    kinds={"spacy"},
    description="A spaCy NER pipeline trained from scratch (CPU, seeded) on the curated set, "
    "calibrated and thresholded on its dev split, registered as a new version and aliased "
    "`candidate`.",
)
def candidate_model(
    context,
    config: TrainingConfig,
    curated_training_set: CuratedSet,
    home: DocassetHome,
    settings: Settings,
) -> dict:
    doctype = settings.doctype()
    nlp = spacy.blank("en")
    train = docs_from_bytes(curated_training_set.train, nlp)
    dev = docs_from_bytes(curated_training_set.dev, nlp)
    overrides = {k: v for k, v in config.model_dump().items() if v is not None}
    cfg = replace(settings.train_config(), **overrides)
    bundle, report = train_model(train, dev, doctype, cfg, settings.routing_config())
    registry = home.registry()
    mv = registry.register(
        bundle,
        {
            "training_set_version": curated_training_set.version,
            "n_train": report.n_train,
            "n_dev": report.n_dev,
            "calibrated_on": report.calibrated_on,
            "best_epoch": report.best_epoch,
            "dev_accuracy": report.best_dev_accuracy,
            "train_seconds": report.seconds,
            "seed": cfg.seed,
            "run_id": context.run.run_id,
            "config": {**asdict(cfg), **asdict(settings.routing_config())},  # for reproduction
        },
    )
    # Production health compares every window with what this version was trained on.
    from docasset.core.monitoring.reference import build_reference, save_reference

    golden = docs_from_bytes(curated_training_set.golden, nlp)
    save_reference(mv.path, build_reference(bundle, {"train": train, "dev": dev, "golden": golden}))
    registry.set_alias("candidate", mv.version, f"trained in run {context.run.run_id}")
    context.add_output_metadata(
        {
            "version": mv.version,
            "n_train": report.n_train,
            "n_dev": report.n_dev,
            "dev_accuracy": report.best_dev_accuracy,
            "best_epoch": report.best_epoch,
            "train_seconds": report.seconds,
            "thresholds": dg.MetadataValue.json(bundle.thresholds),
        }
    )
    return {
        "version": mv.version,
        "path": str(mv.path),
        "training_set_version": curated_training_set.version,
    }
