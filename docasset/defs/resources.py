"""Resources: the deployment's working directory, its settings (all thresholds), IO managers."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field
from upath import UPath

from docasset.core.evaluation.evaluate import GateConfig
from docasset.core.extraction.fields import DocType, load_doctype
from docasset.core.intake.quality import QualityThresholds
from docasset.core.intake.scans import IntakeLimits
from docasset.core.monitoring.thresholds import HealthThresholds
from docasset.core.ocr.tesseract import OcrConfig
from docasset.core.training.registry import Registry
from docasset.core.validation.curate import SplitConfig
from docasset.core.workdir import Workdir

DEFAULT_HOME = os.environ.get("DOCASSET_HOME", str(Path.cwd() / ".docasset" / "work"))


class DocassetHome(dg.ConfigurableResource):
    """Where one deployment keeps its files: inbox, archive, corrections, models, reports."""

    root: str = Field(default=DEFAULT_HOME, description="Working directory (env DOCASSET_HOME).")

    def workdir(self) -> Workdir:
        return Workdir(Path(self.root))

    def registry(self) -> Registry:
        return Registry(self.workdir().models)


class Settings(dg.ConfigurableResource):
    """Every threshold and tunable of the pipeline, in one place."""

    doc_type: str = Field(
        default="receipt", description="Document type (shipped name or YAML path)."
    )
    max_file_mb: float = Field(default=50.0, description="Larger scan files are quarantined.")
    max_pixels_per_page: int = Field(default=60_000_000, description="Decompression-bomb cap.")
    max_pages: int = Field(default=200, description="Documents with more pages are quarantined.")
    pdf_dpi: int = Field(default=300, description="Rasterisation DPI of PDF pages.")
    batch_max_files: int = Field(default=500, description="Most files one inbox batch takes.")
    inbox_settle_seconds: float = Field(
        default=2.0, description="A file must be unchanged this long before intake."
    )
    min_dpi: float = Field(
        default=150.0, description="Below this effective DPI a scan is bad (300 preferred)."
    )
    min_blur: float = Field(
        default=20.0, description="Variance of the Laplacian below this is a blurred scan."
    )
    min_contrast: float = Field(
        default=0.08, description="Grey-level contrast below this is unreadable."
    )
    min_ocr_confidence: float = Field(
        default=40.0, description="Mean word confidence below this is unreadable."
    )
    max_bad_scan_share: float = Field(
        default=0.5, description="scan_quality gate fails above this share of bad files."
    )
    ocr_workers: int = Field(
        default=0, description="Parallel Tesseract processes (0: one per core)."
    )
    target_precision: float = Field(
        default=0.98, description="Routing thresholds aim at this precision of auto documents."
    )
    memory_confidence: float = Field(
        default=0.99,
        description="Confidence given to a field filled from the correction memory (the vendor's "
        "operator-typed value found again in the text).",
    )
    retrain_min_corrections: int = Field(
        default=20, description="Retraining sensor fires after this many newly corrected documents."
    )
    golden_fraction: float = Field(
        default=0.2, description="Share of corrected documents (by id hash) held out as golden."
    )
    dev_fraction: float = Field(
        default=0.2, description="Share used for calibration and thresholds."
    )
    min_golden: int = Field(
        default=5, description="The golden set freezes once it has this many documents."
    )
    max_inconsistency_rate: float = Field(
        default=0.15,
        description="annotation_consistency fails above this share of documents with issues.",
    )
    f1_tolerance: float = Field(
        default=0.02,
        description="accuracy_regression: largest allowed F1 drop of a required field.",
    )
    automation_tolerance: float = Field(
        default=0.05, description="accuracy_regression: largest allowed automation-rate drop."
    )
    min_net_docs: int = Field(
        default=2,
        description="accuracy_regression: a field regresses only if at least this many more golden "
        "documents went right->wrong than wrong->right (one flip on a small set is noise).",
    )
    latency_p95_factor: float = Field(
        default=2.0, description="accuracy_regression: largest allowed p95 latency ratio."
    )

    # validation loop
    qa_min_confidence: float = Field(
        default=0.9,
        description="QA list: a model that never trained on a corrected document predicted "
        "another value with at least this calibrated confidence (out-of-fold disagreement).",
    )
    auto_sample_rate: float = Field(
        default=0.05,
        description="Share of automated documents (stable by id hash) also put in the review "
        "queue as a QA sample; the ones found wrong are promoted as auto false positives.",
    )

    # production health
    health_drift_warn: float = Field(
        default=0.75,
        description="health drift check: WARN when a feature's drift (Kolmogorov-Smirnov, 0..1) "
        "or the route's prediction drift reaches this.",
    )
    health_drift_error: float = Field(
        default=0.9, description="health drift check: ERROR at this drift."
    )
    health_automation_drop_warn: float = Field(
        default=0.2,
        description="health automation_drop check: WARN when the automation rate is this much "
        "below the held-out reference.",
    )
    health_automation_drop_error: float = Field(
        default=0.4, description="health automation_drop check: ERROR at this drop."
    )
    health_unseen_warn: float = Field(
        default=0.3,
        description="health unseen_values check: WARN at this share of usable documents with a "
        "vendor, date format, month or label never seen in training.",
    )
    health_unseen_error: float = Field(
        default=0.6, description="health unseen_values check: ERROR at this share."
    )
    health_accuracy_drop_warn: float = Field(
        default=0.08,
        description="health estimated_accuracy_drop check: WARN when a required field's mean "
        "calibrated confidence is this much below the held-out reference.",
    )
    health_accuracy_drop_error: float = Field(
        default=0.15, description="health estimated_accuracy_drop check: ERROR at this drop."
    )
    health_hint_share: float = Field(
        default=0.2,
        description="A root cause (bad scans, irrelevant pages, new vendors, unseen months) is "
        "hinted when it concerns at least this share of the window's documents.",
    )
    health_vendor_similarity: float = Field(
        default=80.0,
        description="A predicted vendor is known when it matches a training vendor at least "
        "this well (rapidfuzz ratio, 0..100).",
    )
    health_min_drift_docs: int = Field(
        default=10, description="Drift is measured only with this many documents on each side."
    )
    health_trend_days: int = Field(
        default=14, description="Days of automation-rate trend shown in the health report."
    )

    def health_thresholds(self) -> HealthThresholds:
        return HealthThresholds(
            drift_warn=self.health_drift_warn,
            drift_error=self.health_drift_error,
            automation_drop_warn=self.health_automation_drop_warn,
            automation_drop_error=self.health_automation_drop_error,
            unseen_warn=self.health_unseen_warn,
            unseen_error=self.health_unseen_error,
            accuracy_drop_warn=self.health_accuracy_drop_warn,
            accuracy_drop_error=self.health_accuracy_drop_error,
            hint_share=self.health_hint_share,
            vendor_similarity=self.health_vendor_similarity,
            min_drift_docs=self.health_min_drift_docs,
            trend_days=self.health_trend_days,
        )

    # evaluation report
    latency_floor_s: float = Field(
        default=0.05,
        description="accuracy_regression: p95 latency below this never counts as a regression "
        "(differences of milliseconds are timer noise).",
    )
    bootstrap_samples: int = Field(
        default=1000,
        description="evaluation_report: bootstrap resamples of the golden documents for the "
        "95 % confidence intervals of precision/recall/F1.",
    )
    report_worst_documents: int = Field(
        default=10, description="evaluation_report: worst golden documents in the error analysis."
    )
    report_snippet_chars: int = Field(
        default=40,
        description="evaluation_report: OCR characters shown either side of each error.",
    )

    def doctype(self) -> DocType:
        return load_doctype(self.doc_type)

    def intake_limits(self) -> IntakeLimits:
        return IntakeLimits(
            max_bytes=int(self.max_file_mb * 1024 * 1024),
            max_pixels_per_page=self.max_pixels_per_page,
            max_pages=self.max_pages,
            pdf_dpi=self.pdf_dpi,
        )

    def quality_thresholds(self) -> QualityThresholds:
        return QualityThresholds(
            self.min_dpi, self.min_blur, self.min_contrast, self.min_ocr_confidence
        )

    def ocr_config(self) -> OcrConfig:
        return OcrConfig()

    def split_config(self) -> SplitConfig:
        return SplitConfig(self.golden_fraction, self.dev_fraction, self.min_golden)

    def gate_config(self) -> GateConfig:
        return GateConfig(
            self.f1_tolerance,
            self.automation_tolerance,
            self.latency_p95_factor,
            latency_floor_s=self.latency_floor_s,
            min_net_docs=self.min_net_docs,
        )


ALL_PARTITIONS = "docasset/all_partitions"


class _PolarsParquet(dg.UPathIOManager):
    extension: str = ".parquet"

    def dump_to_path(self, context: dg.OutputContext, obj: pl.DataFrame, path: UPath) -> None:
        if not isinstance(obj, pl.DataFrame):
            raise TypeError(
                f"{context.asset_key}: the parquet IO manager stores polars frames, got {type(obj)}"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        obj.write_parquet(str(tmp))
        os.replace(str(tmp), str(path))

    def load_from_path(self, context: dg.InputContext, path: UPath) -> pl.DataFrame:
        return pl.read_parquet(str(path))

    def load_partitions(self, context: dg.InputContext):
        # Inputs mapped to all partitions always get a {partition: frame} dict, even when only
        # one partition exists yet (Dagster's default would hand over the bare frame then).
        out = super().load_partitions(context)
        if (context.definition_metadata or {}).get(ALL_PARTITIONS) and isinstance(
            out, pl.DataFrame
        ):
            return {context.asset_partition_keys[0]: out}
        return out

    def load_input(self, context: dg.InputContext):
        out = super().load_input(context)
        if out is None and (context.definition_metadata or {}).get(ALL_PARTITIONS):
            return {}  # no partition exists yet: an empty mapping, not None
        return out


class PolarsParquetIOManager(dg.ConfigurableIOManagerFactory):
    """Stores polars frames as Parquet under ``base_dir/<asset>/<partition>.parquet``."""

    base_dir: str = Field(description="Directory of the stored frames.")

    def create_io_manager(self, context: dg.InitResourceContext) -> _PolarsParquet:
        return _PolarsParquet(base_path=UPath(self.base_dir))
