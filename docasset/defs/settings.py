"""``Settings``: every threshold and tunable of the pipeline, in one resource.

Each section is built from a core config dataclass (``docasset.core.tunable``): the dataclass
holds the default and the description of every field, so nothing is declared twice, and the
typed accessors hand the core its own dataclass back. Override in code with
``Settings(inbox={"settle_seconds": 0})`` or in run config under
``resources.settings.config.<section>.<field>``.
"""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import dagster as dg
from pydantic import ConfigDict, Field, create_model, model_validator

from docasset.core.evaluation.gate import GateConfig
from docasset.core.evaluation.report import ReportConfig
from docasset.core.extraction.domain import DomainConfig
from docasset.core.extraction.extract import RoutingConfig
from docasset.core.extraction.fields import DocType, load_doctype
from docasset.core.intake.inbox import InboxConfig
from docasset.core.intake.quality import QualityThresholds
from docasset.core.intake.scans import IntakeLimits
from docasset.core.monitoring.thresholds import HealthThresholds
from docasset.core.ocr.hybrid import EscalationConfig
from docasset.core.ocr.pdf_text import TextLayerConfig
from docasset.core.ocr.rapid import RapidConfig
from docasset.core.ocr.tesseract import OcrConfig
from docasset.core.training.annotation_qa import QaConfig
from docasset.core.training.curate import SplitConfig
from docasset.core.training.train import RetrainConfig, TrainConfig
from docasset.core.tunable import check, tunables
from docasset.core.validation.corrections import CorrectionsConfig
from docasset.core.validation.ls_config import LabelStudioConfig


class CoreSettings(dg.Config):
    """A Settings section mirroring one core config dataclass."""

    model_config = ConfigDict(extra="forbid")  # a misspelled setting is an error, not ignored

    def core(self) -> Any:
        """The core config dataclass with these values."""
        return type(self).__core__(**self.model_dump())  # type: ignore[attr-defined]

    @model_validator(mode="after")
    def _in_range(self) -> CoreSettings:
        # At load (code, run config, launchpad): a wrong type or an out-of-range value is a
        # ConfigError naming the setting (docasset.core.tunable.check), never used.
        check(self.core(), type(self).__section__)  # type: ignore[attr-defined]
        return self


def section(core: type, name: str) -> type[CoreSettings]:
    """A Dagster config class with the fields, defaults and descriptions of ``core``."""
    fields: dict[str, Any] = {
        n: (t, Field(default=d, description=doc)) for n, t, d, doc in tunables(core)
    }
    cls = create_model(name, __base__=CoreSettings, __doc__=core.__doc__, **fields)
    cls.__core__ = core  # type: ignore[attr-defined]
    cls.__section__ = next(k for k, v in SECTIONS.items() if v is core)  # type: ignore[attr-defined]
    return cls


SECTIONS: dict[str, type] = {
    "inbox": InboxConfig,
    "intake": IntakeLimits,
    "quality": QualityThresholds,
    "ocr": OcrConfig,
    "rapidocr": RapidConfig,
    "text_layer": TextLayerConfig,
    "escalation": EscalationConfig,
    "routing": RoutingConfig,
    "domain": DomainConfig,
    "corrections": CorrectionsConfig,
    "split": SplitConfig,
    "qa": QaConfig,
    "retrain": RetrainConfig,
    "training": TrainConfig,
    "gate": GateConfig,
    "report": ReportConfig,
    "health": HealthThresholds,
    "label_studio": LabelStudioConfig,
}

if TYPE_CHECKING:  # generated classes: a section is given as its class or as a plain dict
    InboxSettings: TypeAlias = Any
    IntakeSettings: TypeAlias = Any
    QualitySettings: TypeAlias = Any
    OcrSettings: TypeAlias = Any
    RapidSettings: TypeAlias = Any
    TextLayerSettings: TypeAlias = Any
    EscalationSettings: TypeAlias = Any
    RoutingSettings: TypeAlias = Any
    DomainSettings: TypeAlias = Any
    CorrectionsSettings: TypeAlias = Any
    SplitSettings: TypeAlias = Any
    QaSettings: TypeAlias = Any
    RetrainSettings: TypeAlias = Any
    TrainSettings: TypeAlias = Any
    GateSettings: TypeAlias = Any
    ReportSettings: TypeAlias = Any
    HealthSettings: TypeAlias = Any
    LabelStudioSettings: TypeAlias = Any
else:
    InboxSettings = section(InboxConfig, "InboxSettings")
    IntakeSettings = section(IntakeLimits, "IntakeSettings")
    QualitySettings = section(QualityThresholds, "QualitySettings")
    OcrSettings = section(OcrConfig, "OcrSettings")
    RapidSettings = section(RapidConfig, "RapidSettings")
    TextLayerSettings = section(TextLayerConfig, "TextLayerSettings")
    EscalationSettings = section(EscalationConfig, "EscalationSettings")
    RoutingSettings = section(RoutingConfig, "RoutingSettings")
    DomainSettings = section(DomainConfig, "DomainSettings")
    CorrectionsSettings = section(CorrectionsConfig, "CorrectionsSettings")
    SplitSettings = section(SplitConfig, "SplitSettings")
    QaSettings = section(QaConfig, "QaSettings")
    RetrainSettings = section(RetrainConfig, "RetrainSettings")
    TrainSettings = section(TrainConfig, "TrainSettings")
    GateSettings = section(GateConfig, "GateSettings")
    ReportSettings = section(ReportConfig, "ReportSettings")
    HealthSettings = section(HealthThresholds, "HealthSettings")
    LabelStudioSettings = section(LabelStudioConfig, "LabelStudioSettings")


class Settings(dg.ConfigurableResource):
    """Every threshold and tunable of the pipeline, by stage (see each section's fields)."""

    doc_type: str = Field(
        default="receipt", description="Document type (shipped name or YAML path)."
    )
    inbox: InboxSettings = Field(default_factory=InboxSettings, description="Inbox claiming.")
    intake: IntakeSettings = Field(
        default_factory=IntakeSettings, description="Caps on scan files."
    )
    quality: QualitySettings = Field(
        default_factory=QualitySettings, description="Scan-quality verdicts and the gate."
    )
    ocr: OcrSettings = Field(default_factory=OcrSettings, description="OCR: engine, Tesseract.")
    rapidocr: RapidSettings = Field(
        default_factory=RapidSettings, description="The RapidOCR (PP-OCR) engine."
    )
    text_layer: TextLayerSettings = Field(
        default_factory=TextLayerSettings,
        description="When a PDF page is read from its text layer (ocr.text_layer: auto).",
    )
    escalation: EscalationSettings = Field(
        default_factory=EscalationSettings,
        description="When the hybrid engine re-reads a page with RapidOCR.",
    )
    routing: RoutingSettings = Field(
        default_factory=RoutingSettings, description="Routing thresholds and memory."
    )
    domain: DomainSettings = Field(
        default_factory=DomainSettings,
        description="Out-of-domain documents: the training summary a candidate saves.",
    )
    corrections: CorrectionsSettings = Field(
        default_factory=CorrectionsSettings, description="What a corrections file may hold."
    )
    split: SplitSettings = Field(
        default_factory=SplitSettings, description="train/dev/golden split."
    )
    qa: QaSettings = Field(default_factory=QaSettings, description="Annotation QA and sampling.")
    retrain: RetrainSettings = Field(
        default_factory=RetrainSettings, description="When to retrain."
    )
    training: TrainSettings = Field(
        default_factory=TrainSettings, description="Training hyper-parameters."
    )
    gate: GateSettings = Field(
        default_factory=GateSettings, description="accuracy_regression tolerances."
    )
    report: ReportSettings = Field(
        default_factory=ReportSettings, description="The evaluation report."
    )
    health: HealthSettings = Field(
        default_factory=HealthSettings, description="Production-health checks and hints."
    )
    label_studio: LabelStudioSettings = Field(
        default_factory=LabelStudioSettings, description="Label Studio review tasks."
    )

    def doctype(self) -> DocType:
        return load_doctype(self.doc_type)

    def inbox_config(self) -> InboxConfig:
        return cast(InboxConfig, self.inbox.core())

    def intake_limits(self) -> IntakeLimits:
        return cast(IntakeLimits, self.intake.core())

    def quality_thresholds(self) -> QualityThresholds:
        return cast(QualityThresholds, self.quality.core())

    def ocr_config(self) -> OcrConfig:
        return cast(OcrConfig, self.ocr.core())

    def rapid_config(self) -> RapidConfig:
        return cast(RapidConfig, self.rapidocr.core())

    def domain_config(self) -> DomainConfig:
        return cast(DomainConfig, self.domain.core())

    def text_layer_config(self) -> TextLayerConfig:
        return cast(TextLayerConfig, self.text_layer.core())

    def escalation_config(self) -> EscalationConfig:
        return cast(EscalationConfig, self.escalation.core())

    def routing_config(self) -> RoutingConfig:
        return cast(RoutingConfig, self.routing.core())

    def corrections_config(self) -> CorrectionsConfig:
        return cast(CorrectionsConfig, self.corrections.core())

    def split_config(self) -> SplitConfig:
        return cast(SplitConfig, self.split.core())

    def qa_config(self) -> QaConfig:
        return cast(QaConfig, self.qa.core())

    def retrain_config(self) -> RetrainConfig:
        return cast(RetrainConfig, self.retrain.core())

    def train_config(self) -> TrainConfig:
        return cast(TrainConfig, self.training.core())

    def gate_config(self) -> GateConfig:
        return cast(GateConfig, self.gate.core())

    def report_config(self) -> ReportConfig:
        return cast(ReportConfig, self.report.core())

    def health_thresholds(self) -> HealthThresholds:
        return cast(HealthThresholds, self.health.core())

    def label_studio_config(self) -> LabelStudioConfig:
        return cast(LabelStudioConfig, self.label_studio.core())


def section_types() -> dict[str, type]:
    """Section name -> the core dataclass it mirrors (for tests and docs)."""
    hints = typing.get_type_hints(Settings)
    return {n: SECTIONS[n] for n in hints if n in SECTIONS}
