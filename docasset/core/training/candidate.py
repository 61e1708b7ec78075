"""A candidate model from a curated set: trained, registered with its provenance and its
production-health reference, aliased ``candidate``."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import spacy

from docasset.core.extraction.calibration_store import (
    append_evidence,
    evidence_frame,
    read_evidence,
    stamp,
    store_dir,
)
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
    ``model.json``) with its health reference, and point ``candidate`` at it.

    The thresholds are certified on this training's held-out values pooled with the
    calibration store (``models/calibration``); the held-out values are then appended to the
    store (source ``fold``), so the evidence grows with every retrain."""
    nlp = spacy.blank("en")
    train = docs_from_bytes(curated.train, nlp)
    dev = docs_from_bytes(curated.dev, nlp)
    evidence, _ = read_evidence(store_dir(registry.root))
    bundle, report = train_model(train, dev, doctype, config, routing, domain, evidence)
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
    rows = stamp(report.evidence, "fold", mv.version, datetime.now(UTC))
    append_evidence(store_dir(registry.root), evidence_frame(rows), f"fold-{mv.version}")
    registry.set_alias("candidate", mv.version, f"trained in run {run_id}")
    return mv, bundle, report
