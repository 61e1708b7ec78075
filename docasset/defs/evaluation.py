"""Stage 7-8: ``evaluation_report`` (+ the ``accuracy_regression`` gate),
``production_model`` (the decision: promote the candidate, or keep production and say why)
and ``serving_model``, the registry alias predictions read."""

from __future__ import annotations

from typing import Any

import dagster as dg
import spacy

from docasset.core.evaluation.candidate import EvaluationReport, evaluate_candidate
from docasset.core.evaluation.evaluate import GoldenScores
from docasset.core.reporting.blocks import to_markdown
from docasset.core.training.curate import CuratedSet
from docasset.core.training.train import docs_from_bytes
from docasset.defs.resources import DocassetHome, ModelRegistry
from docasset.defs.settings import Settings

SERVING_MODEL = "serving_model"
serving_model = dg.AssetSpec(
    SERVING_MODEL,
    group_name="evaluation",
    kinds={"spacy"},
    description="The model predictions read: the registry's `production` alias. "
    "production_model reports it (a materialization when it promotes, an observation when "
    "production stays); `docasset model promote|rollback` move it outside Dagster. "
    "It closes the loop (predictions -> corrections -> training -> production_model -> "
    "serving_model -> predictions) without an edge from production_model, which would make "
    "the asset graph cyclic.",
)


@dg.asset(
    group_name="evaluation",
    kinds={"spacy"},
    description="Candidate vs production on the frozen golden set and, paired per document, on "
    "the shadow set (checked documents production never trained on): per-field precision/recall/"
    "F1 with bootstrap intervals, automation rate at the target precision and accuracy of auto "
    "documents, calibration, latency and throughput, error analysis; the gate verdict. "
    "Markdown with plots in the UI; report.md/report.html/report.json next to the candidate "
    "version and under reports/.",
)
def evaluation_report(
    context,
    candidate_model: dict,
    curated_training_set: CuratedSet,
    home: DocassetHome,
    registry: ModelRegistry,
    settings: Settings,
) -> EvaluationReport:
    report, blocks = evaluate_candidate(
        settings.doctype(),
        docs_from_bytes(curated_training_set.golden, spacy.blank("en")),
        bool(curated_training_set.golden_ids),
        registry.store(),
        candidate_model["version"],
        candidate_model.get("training_set_version"),
        settings.routing_config().target_precision,
        settings.report_config(),
        settings.gate_config(),
        home.workdir().reports,
        # Shadow evaluation: the candidate's held-out documents production never trained on.
        docs_from_bytes(curated_training_set.dev, spacy.blank("en")),
    )
    context.add_output_metadata(report_metadata(report, to_markdown(blocks)))
    return report


def _scores_metadata(prefix: str, s: GoldenScores) -> dict[str, Any]:
    meta: dict[str, Any] = {
        f"{prefix}micro_f1": round(s.micro.f1, 4),
        f"{prefix}automation_rate": round(s.automation_rate, 4),
        f"{prefix}field_automation": round(s.field_automation, 4),
        **{f"{prefix}f1_{k}": round(v.f1, 4) for k, v in s.fields.items()},
        **{f"{prefix}accepted_{k}": round(v.automation, 4) for k, v in s.fields.items()},
    }
    optional = {
        "accepted_field_accuracy": s.accepted_field_accuracy,
        "touchless_accuracy": s.touchless_accuracy,
        "operator_seconds_per_doc": s.operator_seconds_per_doc,
    }
    for key, value in optional.items():
        if value is not None:  # nothing accepted / no touchless document: absent
            meta[f"{prefix}{key}"] = round(value, 4)
    meta.update({f"{prefix}blocked_{k}": n for k, n in s.blocker_docs.items()})
    return meta


def report_metadata(r: EvaluationReport, markdown: str) -> dict[str, Any]:
    """Numeric metadata for trend plots, the report in Markdown and where its files are;
    production's figures only when there is a production model (absent, never 0)."""
    cs = r.candidate_scores
    micro_ci = cs.ci.get("micro", {}).get("f1")
    meta: dict[str, Any] = {
        "report": dg.MetadataValue.md(markdown),
        "report_path": dg.MetadataValue.path(r.report_path),
        "report_html": dg.MetadataValue.path(r.html_path),
        "candidate": r.candidate,
        "passed": r.passed,
        "n_golden": r.n_golden,
        "n_shadow": r.n_shadow,
        **_scores_metadata("", cs),
        "automation_at_target": round(cs.automation_at_target, 4),
        "auto_accuracy": round(cs.auto_accuracy, 4),
        "ece": round(cs.ece, 4),
        "latency_p50_s": round(r.latency.candidate_p50, 5),
        "latency_p95_s": round(r.latency.candidate_p95, 5),
        "docs_per_second": round(r.latency.candidate_docs_per_second, 2),
    }
    if micro_ci:
        meta["micro_f1_ci_low"], meta["micro_f1_ci_high"] = (round(float(x), 4) for x in micro_ci)
    if r.production is not None:
        meta["production"] = r.production
    return meta


@dg.asset_check(
    asset=evaluation_report,
    blocking=True,
    description="Fails when a required field's F1 drops beyond tolerance, the "
    "automation rate or the share of accepted fields drops, or p95 latency regresses (see "
    "Settings.gate), on the golden set or, from gate.min_shadow_docs documents, on the shadow "
    "set (checked documents production never trained on). A failing candidate is a normal "
    "outcome, reported at WARN severity so the run goes on to production_model, which keeps "
    "production and records why (it promotes only a report that passed); an error in the check "
    "itself stops promotion.",
)
def accuracy_regression(evaluation_report: EvaluationReport) -> dg.AssetCheckResult:
    r = evaluation_report
    meta: dict[str, Any] = {
        **_scores_metadata("candidate_", r.candidate_scores),
        "candidate_latency_p95_s": round(r.latency.candidate_p95, 5),
        "findings": len(r.verdict.findings),
        "reasons": dg.MetadataValue.json(r.reasons),
    }
    prod = r.production_scores
    if prod is not None:  # no production model: nothing to compare, so no deltas at all
        meta.update(_scores_metadata("production_", prod))
        for name, s in r.candidate_scores.fields.items():
            meta[f"delta_f1_{name}"] = round(s.f1 - prod.fields[name].f1, 4)
    for f in r.verdict.findings:
        key = f"{f.kind}_{f.field}" if f.field else f.kind
        key = key if f.scope == "golden" else f"{f.scope}_{key}"
        meta[f"limit_{key}"] = round(f.limit, 4)
    if r.passed:
        return dg.AssetCheckResult(passed=True, metadata=meta, description="; ".join(r.reasons))
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=meta,
        description=f"candidate {r.candidate} blocked, production stays {r.production}: "
        + "; ".join(r.reasons),
    )


@dg.asset(
    group_name="evaluation",
    kinds={"spacy"},
    description="The promotion decision: the candidate becomes the registry's `production` "
    "alias when accuracy_regression passed, else production stays, with the gate's reasons "
    "(`decision`: promoted | kept). Reports serving_model either way.",
)
def production_model(context, evaluation_report: EvaluationReport, registry: ModelRegistry) -> dict:
    r = evaluation_report
    common: dict[str, Any] = {
        "candidate": r.candidate,
        "micro_f1": round(r.candidate_scores.micro.f1, 4),
        "automation_rate": round(r.candidate_scores.automation_rate, 4),
        "reasons": dg.MetadataValue.json(r.reasons),
        "report_html": dg.MetadataValue.path(r.html_path),
    }
    if not r.passed:
        kept = r.production or "(none)"
        summary = f"production stays {kept}: candidate {r.candidate} blocked by " + (
            "accuracy_regression: " + "; ".join(r.reasons)
        )
        context.log.info(summary)
        context.add_output_metadata(
            {"decision": "kept", "version": kept, "summary": summary, **common}
        )
        context.log_event(
            dg.AssetObservation(
                SERVING_MODEL,
                metadata={"version": kept, "decision": "kept", "blocked_candidate": r.candidate},
            )
        )
        return {"version": kept, "previous": kept, "promoted": False, "candidate": r.candidate}
    registry.store().set_alias(
        "production",
        r.candidate,
        f"accuracy_regression passed (run {context.run.run_id})",
        kind="promote",
    )
    summary = f"production is now {r.candidate}" + (
        f" (was {r.production})" if r.production else " (the first model)"
    )
    context.log.info(summary)
    meta: dict[str, Any] = {"decision": "promoted", "version": r.candidate, "summary": summary}
    if r.production is not None:
        meta["previous"] = r.production
    context.add_output_metadata({**meta, **common})
    context.log_event(
        dg.AssetMaterialization(
            SERVING_MODEL,
            metadata={"version": r.candidate, "previous": r.production or "(none)"},
        )
    )
    return {"version": r.candidate, "previous": r.production, "promoted": True}
