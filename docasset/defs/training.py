"""Stages 5-6: ``curated_training_set`` (gate: ``annotation_consistency``), ``candidate_model``."""

# No ``from __future__ import annotations`` here: Dagster infers run config from the real
# ``config: TrainingConfig`` annotation and cannot resolve it from a string.

from dataclasses import replace

import dagster as dg
import polars as pl
from pydantic import Field

from docasset.core.batches import BatchFrames, rows_of
from docasset.core.intake.ledger import document_index
from docasset.core.ocr.engine import OCR_META
from docasset.core.reporting.blocks import md_table
from docasset.core.training.annotation_qa import consistency_summary
from docasset.core.training.candidate import train_candidate
from docasset.core.training.curate import EXCLUSION_REASONS, CuratedSet
from docasset.core.training.promotion import build_curated_set
from docasset.defs.ocr_engines import OcrEngine
from docasset.defs.partitions import ALL_BATCHES
from docasset.defs.resources import DocassetHome, ModelRegistry
from docasset.defs.settings import Settings


@dg.asset(
    group_name="training",
    ins={
        "documents": dg.AssetIn(**ALL_BATCHES),
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
    documents: BatchFrames,
    predictions: BatchFrames,
    home: DocassetHome,
    registry: ModelRegistry,
    settings: Settings,
) -> CuratedSet:
    # Only the batches of the corrected documents are read (the documents index says which).
    corrected = corrections["doc_id"].unique().to_list()
    batches_of = document_index(home.workdir()).batches_of
    cur, n_oof = build_curated_set(
        settings.doctype(),
        corrections,
        rows_of(documents, corrected, batches_of),
        rows_of(predictions, corrected, batches_of),
        registry.store(),
        home.workdir().curated,
        settings.split_config(),
        settings.qa_config(),
    )
    context.add_output_metadata(curated_metadata(cur, n_oof))
    return cur


def curated_metadata(cur: CuratedSet, n_oof: int) -> dict[str, object]:
    """The curated set's counts, exclusion reasons, promotion bases and QA list."""
    excluded = cur.records.filter(pl.col("split") == "excluded")
    reasons = excluded["reason"].value_counts()
    bases = cur.records.filter(pl.col("basis").is_not_null())["basis"].value_counts()
    return {
        "training_set_version": cur.version,
        **{f"n_{k}": v for k, v in cur.counts.items()},
        "golden_frozen": bool(cur.golden_ids),
        "excluded_by_reason": dg.MetadataValue.json({r: c for r, c in reasons.iter_rows()}),
        "promoted_by_basis": dg.MetadataValue.json({b: c for b, c in bases.iter_rows()}),
        "reason_codes": dg.MetadataValue.json(EXCLUSION_REASONS),
        "excluded": dg.MetadataValue.md(
            md_table(excluded.head(500).iter_rows(named=True), ["doc_id", "reason"])
        ),
        "n_qa": len(cur.qa),
        "n_out_of_fold_disagreements": n_oof,
        "qa_list": dg.MetadataValue.json(dict(list(cur.qa.items())[:100])),
        "records": dg.MetadataValue.md(
            md_table(
                cur.records.head(200).iter_rows(named=True),
                ["doc_id", "split", "reason", "basis", "n_fields", "n_aligned", "issues"],
            )
        ),
    }


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
    registry: ModelRegistry,
    settings: Settings,
    ocr_engine: OcrEngine,
) -> dict:
    overrides = {k: v for k, v in config.model_dump().items() if v is not None}
    mv, bundle, report = train_candidate(
        curated_training_set,
        settings.doctype(),
        replace(settings.train_config(), **overrides),
        settings.routing_config(),
        registry.store(),
        context.run.run_id,
        # The deployment's engine read the curated documents' text.
        ocr_engine.identity(settings),
        settings.domain_config(),
    )
    context.add_output_metadata(
        {
            "version": mv.version,
            "n_train": report.n_train,
            "n_dev": report.n_dev,
            "dev_accuracy": report.best_dev_accuracy,
            "best_epoch": report.best_epoch,
            "train_seconds": report.seconds,
            "thresholds": dg.MetadataValue.json(bundle.thresholds),
            "ocr_engine": dg.MetadataValue.json(bundle.meta.get(OCR_META) or {}),
        }
    )
    return {
        "version": mv.version,
        "path": str(mv.path),
        "training_set_version": curated_training_set.version,
    }
