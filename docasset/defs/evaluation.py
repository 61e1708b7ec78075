"""Stage 7-8: ``evaluation_report`` (+ blocking ``accuracy_regression`` gate) and
``production_model``, which moves only when the gate passes."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import spacy

from docasset.core.curate import CuratedSet
from docasset.core.evaluate import evaluate_model, regression_verdict, report_markdown
from docasset.core.extract import ModelBundle
from docasset.core.files import atomic_write
from docasset.core.train import docs_from_bytes
from docasset.defs.resources import DocassetHome, Settings
from docasset.errors import ModelError


@dg.asset(
    group_name="evaluation",
    kinds={"spacy"},
    description="Candidate vs production on the frozen golden set: per-field precision/recall/"
    "F1, automation rate, accuracy of auto documents, calibration, latency; the gate verdict. "
    "Written as report.md/report.json next to the candidate version and under reports/.",
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
        raise dg.Failure(
            "the golden set is empty: no corrected documents fall in the golden split yet"
        )
    cand_mv = registry.get(candidate_model["version"])
    cand = evaluate_model(ModelBundle.load(cand_mv.path, cand_mv.version), golden)
    prod_bundle = registry.load("production")
    prod = evaluate_model(prod_bundle, golden) if prod_bundle else None
    passed, reasons = regression_verdict(doctype, cand, prod, settings.gate_config())
    md = report_markdown(doctype, cand, prod, passed, reasons, len(golden))
    report = {
        "candidate": candidate_model["version"],
        "production": prod.version if prod else None,
        "passed": passed,
        "reasons": reasons,
        "n_golden": len(golden),
        "golden_frozen": bool(curated_training_set.golden_ids),
        "candidate_scores": cand.scores,
        "production_scores": prod.scores if prod else None,
        "latency": {
            "candidate_p50": cand.latency_p50,
            "candidate_p95": cand.latency_p95,
            "production_p50": prod.latency_p50 if prod else None,
            "production_p95": prod.latency_p95 if prod else None,
        },
    }
    paths = [Path(cand_mv.path), home.workdir().reports / f"evaluation-{cand_mv.version}"]
    for d in paths:
        d.mkdir(parents=True, exist_ok=True)
        atomic_write(d / "report.md", md.encode())
        atomic_write(d / "report.json", json.dumps(report, indent=2, default=str).encode())
    report["report_path"] = str(paths[1] / "report.md")
    meta: dict[str, object] = {
        "report": dg.MetadataValue.md(md),
        "report_path": dg.MetadataValue.path(report["report_path"]),
        "candidate": cand_mv.version,
        "production": prod.version if prod else "(none)",
        "micro_f1": float(cand.scores["micro"]["f1"]),
        "automation_rate": float(cand.scores["automation_rate"]),
        "auto_accuracy": float(cand.scores["auto_accuracy"]),
        "latency_p95_s": float(cand.latency_p95),
        "n_golden": len(golden),
    }
    meta.update({f"f1_{k}": float(v["f1"]) for k, v in cand.scores["fields"].items()})
    context.add_output_metadata(meta)
    return report


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
        "production", version, f"accuracy_regression passed (run {context.run.run_id})"
    )
    context.add_output_metadata(
        {
            "version": version,
            "previous": evaluation_report["production"] or "(none)",
            "micro_f1": float(evaluation_report["candidate_scores"]["micro"]["f1"]),
        }
    )
    return {"version": version, "previous": evaluation_report["production"]}
