"""A candidate against production on the frozen golden set: evaluate both, decide with the
gate, write the manager's report, record the figures with the version.

:class:`EvaluationReport` is what the ``evaluation_report`` asset stores and what the
``accuracy_regression`` check, ``production_model``, the demo and the simulation read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl
from spacy.tokens import Doc

from docasset.core.evaluation.error_analysis import analyse, analysis_dict
from docasset.core.evaluation.evaluate import (
    GoldenScores,
    ModelEvaluation,
    comparison_figures,
    evaluate_models,
)
from docasset.core.evaluation.gate import GateConfig, GateVerdict, regression_verdict
from docasset.core.evaluation.report import ReportConfig, build_report, write_report
from docasset.core.extraction.calibration_store import read_evidence, store_dir
from docasset.core.extraction.certify import CERTIFICATION_META
from docasset.core.extraction.extract import ModelBundle
from docasset.core.extraction.fields import DocType
from docasset.core.reporting.blocks import Block
from docasset.core.training.registry import Registry
from docasset.core.validation.checked import qa_accuracy
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
    candidate_scores: GoldenScores
    production_scores: GoldenScores | None
    latency: Latency
    error_analysis: dict[str, object]
    # The shadow comparison: checked documents production never trained on and the candidate
    # only held out (0: none, or no production model).
    n_shadow: int = 0
    shadow: dict[str, Any] = field(default_factory=dict)
    # field -> Certification.as_dict() of the candidate's (production's) thresholds
    certification: dict[str, Any] = field(default_factory=dict)
    production_certification: dict[str, Any] = field(default_factory=dict)
    report_path: str = ""  # report.md under reports/
    html_path: str = ""  # report.html next to the version

    @property
    def passed(self) -> bool:
        return self.verdict.passed

    @property
    def reasons(self) -> list[str]:
        return self.verdict.reasons

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``report.json``): the scores as :meth:`GoldenScores.as_dict`."""
        ps = self.production_scores
        return {
            **asdict(self),
            "candidate_scores": self.candidate_scores.as_dict(),
            "production_scores": ps.as_dict() if ps is not None else None,
            "passed": self.passed,
            "reasons": self.reasons,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A report pickled before the scores were typed held them as dicts.
        for key in ("candidate_scores", "production_scores"):
            if isinstance(state.get(key), dict):
                state = {**state, key: GoldenScores.from_dict(state[key])}
        self.__dict__.update(state)


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
    held_out: list[Doc] | None = None,
) -> tuple[EvaluationReport, list[Block]]:
    """Evaluate the candidate version and the production alias (if any) on ``golden``, decide,
    write ``report.{md,html,json}`` next to the version and under ``reports_dir``, and record
    the figures with the version. Raises ``EvaluationError`` when the golden set is empty.

    Shadow evaluation: of ``held_out`` (the candidate's dev split: checked documents it did not
    train on), those production never trained on either - the documents operators checked
    since production was trained - are predicted by both models and compared paired per
    document by the same rules as the golden set; its findings join the gate's, prefixed
    with how many documents they rest on."""
    if not golden:
        raise EvaluationError(
            "the golden set is empty: no corrected documents fall in the golden split yet"
        )

    mv = registry.get(candidate_version)
    cand_bundle = ModelBundle.load(mv.path, mv.version)
    prod_bundle = registry.load("production")
    # Both models on each document back to back: their latencies are paired (the gate
    # compares them), so load on the machine does not decide a promotion.
    cand, *rest = evaluate_models(
        [cand_bundle, *([prod_bundle] if prod_bundle else [])],
        golden,
        target_precision,
        report.bootstrap_samples,
    )
    prod = rest[0] if rest else None
    certification = cand_bundle.meta.get(CERTIFICATION_META) or {}
    prod_certification = (prod_bundle.meta.get(CERTIFICATION_META) if prod_bundle else None) or {}
    verdict = regression_verdict(doctype, cand, prod, gate, certification, prod_certification)
    shadow_docs = shadow_documents(held_out or [], registry, prod_bundle)
    shadow: dict[str, Any] = {}
    if prod_bundle is not None and shadow_docs:
        cs, ps = evaluate_models(
            [cand_bundle, prod_bundle], shadow_docs, target_precision, report.bootstrap_samples
        )
        shadow = shadow_summary(doctype, cs, ps)
        if len(shadow_docs) >= gate.min_shadow_docs:
            where = f"shadow set ({len(shadow_docs)} checked documents production never saw): "
            extra = tuple(
                replace(f, text=where + f.text, scope="shadow")
                for f in regression_verdict(doctype, cs, ps, gate).findings
                if f.kind != "latency"
            )
            verdict = GateVerdict(not (verdict.findings + extra), verdict.findings + extra)
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
        certification,
        prod_certification,
        shadow,
        production_qa(registry, prod_bundle),
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
        certification=certification,
        production_certification=prod_certification,
        n_shadow=len(shadow_docs) if shadow else 0,
        shadow=shadow,
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


def production_qa(registry: Registry, production: ModelBundle | None) -> dict[str, Any] | None:
    """The accepted-field accuracy production's blind QA answers measured (``checked``), or
    None without a production model."""
    if production is None or production.version is None:
        return None
    evidence, _ = read_evidence(store_dir(registry.root))
    if evidence.height:
        evidence = evidence.filter(pl.col("model_version") == production.version)
    return {"version": production.version, **qa_accuracy(evidence)}


def shadow_documents(
    held_out: list[Doc], registry: Registry, production: ModelBundle | None
) -> list[Doc]:
    """The held-out documents production never trained on (none without a production model
    or when its training set is unknown)."""
    if production is None or production.version is None or not held_out:
        return []
    info = registry.get(production.version).info
    record = info.get("training_set")
    if not isinstance(record, dict) or "doc_ids" not in record:
        return []
    seen = set(record["doc_ids"])
    return [d for d in held_out if d.user_data["doc_id"] not in seen]


def shadow_summary(doctype: DocType, cand: ModelEvaluation, prod: ModelEvaluation) -> dict:
    """Both models' figures on the shadow documents and the paired per-document count: on
    how many documents the candidate gets more (fewer) required fields right."""
    better = worse = 0
    for d in cand.truths:
        c = sum(d in cand.correct.get(n, set()) for n in doctype.required)
        p = sum(d in prod.correct.get(n, set()) for n in doctype.required)
        better, worse = better + (c > p), worse + (c < p)
    return {
        "n_docs": len(cand.truths),
        "candidate": comparison_figures(cand.scores),
        "production": comparison_figures(prod.scores),
        "docs_better": better,
        "docs_worse": worse,
    }


def version_metrics(ev: ModelEvaluation, report: EvaluationReport) -> dict[str, object]:
    """The golden-set figures the registry keeps with a version."""
    s = ev.scores
    return {
        "evaluated_against": report.production,
        "n_golden": report.n_golden,
        "gate_passed": report.passed,
        "micro_f1": s.micro.f1,
        "f1": {k: v.f1 for k, v in s.fields.items()},
        "ci": s.ci,
        "automation_rate": s.automation_rate,
        "field_automation": s.field_automation,
        "accepted_field_accuracy": s.accepted_field_accuracy,
        "touchless_accuracy": s.touchless_accuracy,
        "operator_seconds_per_doc": s.operator_seconds_per_doc,
        "automation_at_target": s.automation_at_target,
        "auto_accuracy": s.auto_accuracy,
        "ece": s.ece,
        "latency_p50_s": ev.latency_p50,
        "latency_p95_s": ev.latency_p95,
        "docs_per_second": ev.docs_per_second,
    }
