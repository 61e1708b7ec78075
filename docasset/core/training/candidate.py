"""A candidate model from a curated set: trained, registered with its provenance and its
production-health reference, aliased ``candidate``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import spacy

from docasset.core.extraction.domain import DomainConfig
from docasset.core.extraction.extract import ModelBundle, RoutingConfig
from docasset.core.extraction.fields import DocType
from docasset.core.ocr.engine import OCR_META
from docasset.core.training.curate import CuratedSet, training_set_record
from docasset.core.training.health_reference import build_reference, save_reference
from docasset.core.training.registry import ModelVersion, Registry
from docasset.core.training.train import TrainConfig, TrainReport, docs_from_bytes, train_model


def train_candidate(
    curated: CuratedSet,
    doctype: DocType,
    config: TrainConfig,
    routing: RoutingConfig,
    registry: Registry,
    run_id: str,
    ocr: dict[str, Any] | None = None,
    domain: DomainConfig | None = None,
) -> tuple[ModelVersion, ModelBundle, TrainReport]:
    """Train on the curated train/dev splits, register the version (training set, config,
    metrics, run, and ``ocr``: the identity of the OCR engine its text came from, also in
    ``model.json``) with its health reference, and point ``candidate`` at it."""
    nlp = spacy.blank("en")
    train = docs_from_bytes(curated.train, nlp)
    dev = docs_from_bytes(curated.dev, nlp)
    bundle, report = train_model(train, dev, doctype, config, routing, domain)
    if ocr is not None:
        bundle.meta[OCR_META] = ocr
    mv = registry.register(
        bundle,
        {
            "ocr": ocr,
            "training_set_version": curated.version,
            "training_set": training_set_record(curated),
            "n_train": report.n_train,
            "n_dev": report.n_dev,
            "calibrated_on": report.calibrated_on,
            "best_epoch": report.best_epoch,
            "dev_accuracy": report.best_dev_accuracy,
            "train_seconds": report.seconds,
            "seed": config.seed,
            "run_id": run_id,
            "config": {**asdict(config), **asdict(routing)},  # every hyper-parameter
        },
    )
    # Production health compares every window with what this version was trained on.
    golden = docs_from_bytes(curated.golden, nlp)
    save_reference(mv.path, build_reference(bundle, {"train": train, "dev": dev, "golden": golden}))
    registry.set_alias("candidate", mv.version, f"trained in run {run_id}")
    return mv, bundle, report
