"""Stage 7-8: ``evaluation_report`` (+ blocking ``accuracy_regression`` gate) and
``production_model``, which moves only when the gate passes."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import spacy

from docasset.core.evaluation.error_analysis import analyse, analysis_dict
from docasset.core.evaluation.evaluate import ModelEvaluation, evaluate_model, regression_verdict
from docasset.core.evaluation.report import build_report, write_report
from docasset.core.extraction.extract import ModelBundle
from docasset.core.reporting.blocks import to_markdown
from docasset.core.training.train import docs_from_bytes
from docasset.core.validation.curate import CuratedSet
from docasset.defs.resources import DocassetHome
from docasset.defs.settings import Settings
from docasset.errors import EvaluationError, ModelError


@dg.asset(
    group_name="evaluation",
    kinds={"spacy"},
    description="Candidate vs production on the frozen golden set: per-field precision/recall/"
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
    settings: Settings,
) -> dict:
    doctype = settings.doctype()
    registry = home.registry()
    golden = docs_from_bytes(curated_training_set.golden, spacy.blank("en"))
    if not golden:
        raise EvaluationError(
            "the golden set is empty: no corrected documents fall in the golden split yet"
        )

    def evaluate(bundle: ModelBundle) -> ModelEvaluation:
        return evaluate_model(
            bundle,
            golden,
            settings.routing_config().target_precision,
            settings.report_config().bootstrap_samples,
        )

    cand_mv = registry.get(candidate_model["version"])
    cand = evaluate(ModelBundle.load(cand_mv.path, cand_mv.version))
    prod_bundle = registry.load("production")
    prod = evaluate(prod_bundle) if prod_bundle else None
    passed, reasons = regression_verdict(doctype, cand, prod, settings.gate_config())
    analysis = analyse(
        doctype,
        cand.predictions,
        cand.texts,
        cand.truths,
        settings.report_config().worst_documents,
        settings.report_config().snippet_chars,
    )
    frozen = bool(curated_training_set.golden_ids)
    blocks = build_report(doctype, cand, prod, passed, reasons, analysis, frozen)
    report = {
        "candidate": cand_mv.version,
        "production": prod.version if prod else None,
        "passed": passed,
        "reasons": reasons,
        "n_golden": len(golden),
        "golden_frozen": frozen,
        "training_set_version": candidate_model.get("training_set_version"),
        "candidate_scores": cand.scores,
        "production_scores": prod.scores if prod else None,
        "latency": {
            "candidate_p50": cand.latency_p50,
            "candidate_p95": cand.latency_p95,
            "candidate_docs_per_second": cand.docs_per_second,
            "production_p50": prod.latency_p50 if prod else None,
            "production_p95": prod.latency_p95 if prod else None,
            "production_docs_per_second": prod.docs_per_second if prod else None,
        },
        "error_analysis": analysis_dict(*analysis),
    }
    title = f"docasset evaluation {cand_mv.version}"
    in_version = write_report(Path(cand_mv.path), blocks, report, title)
    in_reports = write_report(
        home.workdir().reports / f"evaluation-{cand_mv.version}", blocks, report, title
    )
    registry.record_metrics(cand_mv.version, _summary(cand, report))
    report["report_path"] = str(in_reports["md"])
    report["html_path"] = str(in_version["html"])
    cs = cand.scores
    micro_ci = cs["ci"].get("micro", {}).get("f1") or [0.0, 0.0]
    meta: dict[str, object] = {
        "report": dg.MetadataValue.md(to_markdown(blocks)),
        "report_path": dg.MetadataValue.path(report["report_path"]),
        "report_html": dg.MetadataValue.path(report["html_path"]),
        "candidate": cand_mv.version,
        "production": prod.version if prod else "(none)",
        "passed": passed,
        "micro_f1": float(cs["micro"]["f1"]),
        "micro_f1_ci_low": float(micro_ci[0]),
        "micro_f1_ci_high": float(micro_ci[1]),
        "automation_rate": float(cs["automation_rate"]),
        "automation_at_target": float(cs["automation_at_target"]),
        "auto_accuracy": float(cs["auto_accuracy"]),
        "field_automation": float(cs["field_automation"]),
        "touchless_rate": float(cs["touchless_rate"]),
        "ece": float(cs["ece"]),
        "latency_p50_s": float(cand.latency_p50),
        "latency_p95_s": float(cand.latency_p95),
        "docs_per_second": float(cand.docs_per_second),
        "n_golden": len(golden),
    }
    meta.update({f"f1_{k}": float(v["f1"]) for k, v in cs["fields"].items()})
    meta.update({f"accepted_{k}": float(v["automation"]) for k, v in cs["fields"].items()})
    for key in ("accepted_field_accuracy", "touchless_accuracy", "operator_seconds_per_doc"):
        if cs.get(key) is not None:  # absent (nothing accepted) stays absent
            meta[key] = float(cs[key])
    meta.update({f"blocked_{k}": int(n) for k, n in (cs.get("blocker_docs") or {}).items()})
    context.add_output_metadata(meta)
    return report


def _summary(ev: ModelEvaluation, report: dict) -> dict[str, object]:
    """The golden-set figures the registry keeps with a version."""
    s = ev.scores
    return {
        "evaluated_against": report["production"],
        "n_golden": report["n_golden"],
        "gate_passed": report["passed"],
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


@dg.asset_check(
    asset=evaluation_report,
    blocking=True,
    description="Fails when a required field's F1 drops beyond tolerance, the "
    "automation rate drops, or p95 latency regresses (see Settings).",
)
def accuracy_regression(evaluation_report: dict) -> dg.AssetCheckResult:
    cand = evaluation_report["candidate_scores"]
    prod = evaluation_report["production_scores"]
    meta: dict[str, object] = {
        "candidate_micro_f1": float(cand["micro"]["f1"]),
        "production_micro_f1": float(prod["micro"]["f1"]) if prod else 0.0,
        "candidate_automation_rate": float(cand["automation_rate"]),
        "production_automation_rate": float(prod["automation_rate"]) if prod else 0.0,
        "candidate_latency_p95_s": float(evaluation_report["latency"]["candidate_p95"]),
        "reasons": dg.MetadataValue.json(evaluation_report["reasons"]),
    }
    for name, s in cand["fields"].items():
        meta[f"delta_f1_{name}"] = float(s["f1"] - (prod["fields"][name]["f1"] if prod else 0.0))
    return dg.AssetCheckResult(
        passed=bool(evaluation_report["passed"]),
        metadata=meta,
        description="; ".join(evaluation_report["reasons"]),
    )


@dg.asset(
    group_name="evaluation",
    kinds={"spacy"},
    description="The registry's `production` alias. Moves to the candidate only after "
    "accuracy_regression passed (blocking), and refuses a report that did not pass.",
)
def production_model(context, evaluation_report: dict, home: DocassetHome) -> dict:
    if not evaluation_report["passed"]:
        raise ModelError(
            f"refusing to promote {evaluation_report['candidate']}: "
            + "; ".join(evaluation_report["reasons"])
        )
    registry = home.registry()
    version = evaluation_report["candidate"]
    registry.set_alias(
        "production",
        version,
        f"accuracy_regression passed (run {context.run.run_id})",
        kind="promote",
    )
    context.add_output_metadata(
        {
            "version": version,
            "previous": evaluation_report["production"] or "(none)",
            "micro_f1": float(evaluation_report["candidate_scores"]["micro"]["f1"]),
            "automation_rate": float(evaluation_report["candidate_scores"]["automation_rate"]),
            "report_html": dg.MetadataValue.path(evaluation_report.get("html_path", "")),
        }
    )
    return {"version": version, "previous": evaluation_report["production"]}
