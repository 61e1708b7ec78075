"""A candidate against production on the frozen golden set: evaluate both, decide with the
gate, write the manager's report, record the figures with the version.

:class:`EvaluationReport` is what the ``evaluation_report`` asset stores and what the
``accuracy_regression`` check, ``production_model``, the demo and the simulation read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from spacy.tokens import Doc

from docasset.core.evaluation.error_analysis import analyse, analysis_dict
from docasset.core.evaluation.evaluate import ModelEvaluation, evaluate_model
from docasset.core.evaluation.gate import GateConfig, GateVerdict, regression_verdict
from docasset.core.evaluation.report import ReportConfig, build_report, write_report
from docasset.core.extraction.extract import ModelBundle
from docasset.core.extraction.fields import DocType
from docasset.core.reporting.blocks import Block
from docasset.core.training.registry import Registry
from docasset.errors import EvaluationError


@dataclass(frozen=True)
class Latency:
    """Seconds per golden document (p50/p95) and throughput; production's are None without a
    production model."""

    candidate_p50: float
    candidate_p95: float
    candidate_docs_per_second: float
    production_p50: float | None
    production_p95: float | None
    production_docs_per_second: float | None


@dataclass(frozen=True)
class EvaluationReport:
    """The candidate's figures beside production's (None: there is no production model),
    the gate's verdict and where the report files are."""

    candidate: str
    production: str | None
    verdict: GateVerdict
    n_golden: int
    golden_frozen: bool
    training_set_version: str | None
    candidate_scores: dict[str, Any]
    production_scores: dict[str, Any] | None
    latency: Latency
    error_analysis: dict[str, object]
    report_path: str = ""  # report.md under reports/
    html_path: str = ""  # report.html next to the version

    @property
    def passed(self) -> bool:
        return self.verdict.passed

    @property
    def reasons(self) -> list[str]:
        return self.verdict.reasons

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed, "reasons": self.reasons}


def evaluate_candidate(
    doctype: DocType,
    golden: list[Doc],
    golden_frozen: bool,
    registry: Registry,
    candidate_version: str,
    training_set_version: str | None,
    target_precision: float,
    report: ReportConfig,
    gate: GateConfig,
    reports_dir: Path,
) -> tuple[EvaluationReport, list[Block]]:
    """Evaluate the candidate version and the production alias (if any) on ``golden``, decide,
    write ``report.{md,html,json}`` next to the version and under ``reports_dir``, and record
    the figures with the version. Raises ``EvaluationError`` when the golden set is empty."""
    if not golden:
        raise EvaluationError(
            "the golden set is empty: no corrected documents fall in the golden split yet"
        )

    def evaluate(bundle: ModelBundle) -> ModelEvaluation:
        return evaluate_model(bundle, golden, target_precision, report.bootstrap_samples)

    mv = registry.get(candidate_version)
    cand = evaluate(ModelBundle.load(mv.path, mv.version))
    prod_bundle = registry.load("production")
    prod = evaluate(prod_bundle) if prod_bundle else None
    verdict = regression_verdict(doctype, cand, prod, gate)
    analysis = analyse(
        doctype,
        cand.predictions,
        cand.texts,
        cand.truths,
        report.worst_documents,
        report.snippet_chars,
    )
    blocks = build_report(
        doctype,
        cand,
        prod,
        verdict.passed,
        verdict.reasons,
        analysis,
        golden_frozen,
        verdict.findings,
        gate,
    )
    result = EvaluationReport(
        candidate=mv.version,
        production=prod.version if prod else None,
        verdict=verdict,
        n_golden=len(golden),
        golden_frozen=golden_frozen,
        training_set_version=training_set_version,
        candidate_scores=cand.scores,
        production_scores=prod.scores if prod else None,
        latency=Latency(
            cand.latency_p50,
            cand.latency_p95,
            cand.docs_per_second,
            prod.latency_p50 if prod else None,
            prod.latency_p95 if prod else None,
            prod.docs_per_second if prod else None,
        ),
        error_analysis=analysis_dict(*analysis),
    )
    title = f"docasset evaluation {mv.version}"
    in_version = write_report(Path(mv.path), blocks, result.to_dict(), title)
    in_reports = write_report(
        reports_dir / f"evaluation-{mv.version}", blocks, result.to_dict(), title
    )
    registry.record_metrics(mv.version, version_metrics(cand, result))
    final = EvaluationReport(
        **{
            **result.__dict__,
            "report_path": str(in_reports["md"]),
            "html_path": str(in_version["html"]),
        }
    )
    return final, blocks


def version_metrics(ev: ModelEvaluation, report: EvaluationReport) -> dict[str, object]:
    """The golden-set figures the registry keeps with a version."""
    s = ev.scores
    return {
        "evaluated_against": report.production,
        "n_golden": report.n_golden,
        "gate_passed": report.passed,
        "micro_f1": s["micro"]["f1"],
        "f1": {k: v["f1"] for k, v in s["fields"].items()},
        "ci": s["ci"],
        "automation_rate": s["automation_rate"],
        "field_automation": s["field_automation"],
        "accepted_field_accuracy": s["accepted_field_accuracy"],
        "touchless_accuracy": s["touchless_accuracy"],
        "operator_seconds_per_doc": s["operator_seconds_per_doc"],
        "automation_at_target": s["automation_at_target"],
        "auto_accuracy": s["auto_accuracy"],
        "ece": s["ece"],
        "latency_p50_s": ev.latency_p50,
        "latency_p95_s": ev.latency_p95,
        "docs_per_second": ev.docs_per_second,
    }
