"""The production-health checks on ``production_health``: drift, automation-rate drop, values
never seen in training, estimated-accuracy drop. Not blocking (nothing downstream waits on
health); each fails with severity WARN or ERROR by the Settings thresholds, its description
names the likely cause and the suggested action, and its numeric metadata is plotted by
Dagster over the daily partitions."""

from __future__ import annotations

import dagster as dg

from docasset.core.monitoring.checks import CheckOutcome, evaluate_checks
from docasset.defs.monitoring import production_health
from docasset.defs.partitions import days
from docasset.defs.settings import Settings

_SEVERITY = {"WARN": dg.AssetCheckSeverity.WARN, "ERROR": dg.AssetCheckSeverity.ERROR}


def _result(outcome: CheckOutcome) -> dg.AssetCheckResult:
    meta: dict[str, object] = {
        "value": float(outcome.value),
        "warn_at": float(outcome.warn_at),
        "error_at": float(outcome.error_at),
        **{k: float(v) for k, v in outcome.metadata.items()},
    }
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=_SEVERITY.get(outcome.severity or "", dg.AssetCheckSeverity.WARN),
        description=outcome.description,
        metadata=meta,
    )


def _evaluate(name: str, health: dict, settings: Settings) -> dg.AssetCheckResult:
    # Thresholds are read at check time: changing Settings re-grades a day without
    # re-materializing it.
    return _result(evaluate_checks(health, settings.health_thresholds())[name])


@dg.asset_check(
    asset=production_health,
    partitions_def=days,
    description="WARN/ERROR when a per-document feature (text, OCR, scan, layout, field "
    "confidence) or the route drifts from the training reference (deepchecks, "
    "settings.health.drift_warn/error).",
)
def health_drift(production_health: dict, settings: Settings) -> dg.AssetCheckResult:
    return _evaluate("drift", production_health, settings)


@dg.asset_check(
    asset=production_health,
    partitions_def=days,
    description="WARN/ERROR when the automation rate falls below the held-out reference "
    "(settings.health.automation_drop_warn/error).",
)
def health_automation_drop(production_health: dict, settings: Settings) -> dg.AssetCheckResult:
    return _evaluate("automation_drop", production_health, settings)


@dg.asset_check(
    asset=production_health,
    partitions_def=days,
    description="WARN/ERROR when usable documents carry vendors, date formats, months or labels "
    "never seen in training (settings.health.unseen_warn/error).",
)
def health_unseen_values(production_health: dict, settings: Settings) -> dg.AssetCheckResult:
    return _evaluate("unseen_values", production_health, settings)


@dg.asset_check(
    asset=production_health,
    partitions_def=days,
    description="WARN/ERROR when a required field's estimated accuracy (mean calibrated "
    "confidence of the model's values) drops below the held-out reference "
    "(settings.health.accuracy_drop_warn/error).",
)
def health_estimated_accuracy_drop(
    production_health: dict, settings: Settings
) -> dg.AssetCheckResult:
    return _evaluate("estimated_accuracy_drop", production_health, settings)
