"""The production-health checks on ``production_health``, graded in one pass over the stored
assessment: drift, automation-rate drop, values never seen in training, estimated-accuracy
drop. Not blocking (nothing downstream waits on health); each fails with severity WARN or
ERROR by the Settings thresholds read at check time (changing them re-grades a day without
re-materializing it), its description names the likely cause and the suggested action, and
its numeric metadata is plotted by Dagster over the daily partitions. A check that cannot be
graded that day (no reference, drift on too few documents) yields no result: it shows as
not evaluated, never as passed."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from docasset.core.monitoring.assessment import HealthAssessment
from docasset.core.monitoring.checks import CHECKS, CheckName, CheckOutcome, evaluate_checks
from docasset.defs.monitoring import production_health
from docasset.defs.partitions import days
from docasset.defs.settings import Settings

_SEVERITY = {"WARN": dg.AssetCheckSeverity.WARN, "ERROR": dg.AssetCheckSeverity.ERROR}
_DESCRIPTIONS: dict[CheckName, str] = {
    "drift": "WARN/ERROR when a per-document feature (text, OCR, scan, layout, field "
    "confidence) or the route drifts from the training reference (deepchecks, "
    "settings.health.drift_warn/error).",
    "automation_drop": "WARN/ERROR when the automation rate falls below the held-out reference "
    "(settings.health.automation_drop_warn/error).",
    "unseen_values": "WARN/ERROR when usable documents carry vendors, date formats, months or "
    "labels never seen in training (settings.health.unseen_warn/error).",
    "estimated_accuracy_drop": "WARN/ERROR when a required field's estimated accuracy (mean "
    "calibrated confidence of the model's values) drops below the held-out reference "
    "(settings.health.accuracy_drop_warn/error).",
    "qa_accuracy": "ERROR when the upper bound of the accepted-field accuracy measured by the "
    "blind QA sample (95 % Clopper-Pearson) is below routing.field_target.",
}


def check_name(name: CheckName) -> str:
    return f"health_{name}"


def _result(outcome: CheckOutcome) -> dg.AssetCheckResult:
    meta: dict[str, float] = {"warn_at": outcome.warn_at, "error_at": outcome.error_at}
    if outcome.value is not None:
        meta["value"] = outcome.value
    meta |= outcome.measures
    return dg.AssetCheckResult(
        check_name=check_name(outcome.name),
        passed=outcome.passed,
        severity=_SEVERITY[outcome.severity or "WARN"],
        description=outcome.description,
        metadata={k: round(float(v), 4) for k, v in meta.items()},
    )


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            check_name(name),
            asset=production_health,
            description=_DESCRIPTIONS[name],
            partitions_def=days,
        )
        for name in CHECKS
    ],
    can_subset=True,
    description="The production-health checks, graded from one stored assessment.",
)
def health_checks(
    context,
    production_health: HealthAssessment,
    settings: Settings,
) -> Iterator[dg.AssetCheckResult]:
    if not isinstance(production_health, HealthAssessment):
        raise dg.Failure(
            "production_health was stored before the typed HealthAssessment: re-materialize "
            f"this day ({type(production_health).__name__} found)"
        )
    selected = {k.name for k in context.selected_asset_check_keys}
    for name, outcome in evaluate_checks(production_health, settings.health_thresholds()).items():
        if outcome.assessed and check_name(name) in selected:
            yield _result(outcome)
