"""The health checks' verdicts (WARN/ERROR by the thresholds) from one assessment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from docasset.core.monitoring.thresholds import HealthThresholds

CHECKS = ("drift", "automation_drop", "unseen_values", "estimated_accuracy_drop")


@dataclass(frozen=True)
class CheckOutcome:
    """One health check's verdict: ``severity`` is None when passed, else WARN or ERROR."""

    name: str
    passed: bool
    severity: str | None
    value: float
    warn_at: float
    error_at: float
    description: str
    metadata: dict[str, float]


KS_C_ALPHA = 1.949  # the two-sample KS coefficient c(alpha) at alpha = 0.001


def ks_critical(n: int, m: int, c_alpha: float = KS_C_ALPHA) -> float:
    """The two-sample Kolmogorov-Smirnov statistic above which samples of sizes ``n`` and
    ``m`` differ at significance alpha (``c_alpha`` 1.949: alpha = 0.001)."""
    if n <= 0 or m <= 0:
        return 1.0
    return min(1.0, c_alpha * ((n + m) / (n * m)) ** 0.5)


def _grade(value: float, warn: float, error: float) -> str | None:
    if value >= error:
        return "ERROR"
    return "WARN" if value >= warn else None


def evaluate_checks(s: Mapping[str, Any], t: HealthThresholds) -> dict[str, CheckOutcome]:
    """The verdicts of the four health checks of an assessment (see :data:`CHECKS`)."""
    hints = s.get("hints") or []
    top = hints[0] if hints else None
    cause = (
        f" Likely cause: {top['cause'].replace('_', ' ')} - {top['evidence']}. "
        f"Suggested action: {top['action']}"
        if top
        else ""
    )
    out: dict[str, CheckOutcome] = {}

    def put(name: str, value: float, warn: float, error: float, what: str, meta: dict) -> None:
        sev = _grade(value, warn, error)
        desc = f"{what}." + (cause if sev else "")
        out[name] = CheckOutcome(name, sev is None, sev, value, warn, error, desc, meta)

    if not s.get("n_modelled") or "reference" not in s:
        why = s.get("status") or "the model in use has no health reference"
        for name in CHECKS:
            out[name] = CheckOutcome(name, True, None, 0.0, 0.0, 0.0, f"not assessed: {why}", {})
        return out
    drift = s.get("drift") or {}
    if drift.get("skipped") or not drift:
        out["drift"] = CheckOutcome(
            "drift",
            True,
            None,
            0.0,
            t.drift_warn,
            t.drift_error,
            f"not assessed: {drift.get('skipped') or 'drift not measured'}",
            {},
        )
    else:
        top3 = sorted(drift["scores"].items(), key=lambda kv: -kv[1])[:3]
        # A small window drifts by chance: the warn level is never below the KS statistic's
        # critical value at alpha 0.001 for these sample sizes (about 20 features are tested).
        crit = ks_critical(drift["n_reference"], drift["n_window"])
        put(
            "drift",
            float(drift["max_score"]),
            max(t.drift_warn, crit),
            max(t.drift_error, crit),
            f"largest drift {drift['max_score']:.2f} ("
            + ", ".join(f"{k} {v:.2f}" for k, v in top3)
            + f"; route {drift.get('prediction_drift') or 0:.2f})",
            {
                "ks_critical_value": crit,
                "max_drift": float(drift["max_score"]),
                "prediction_drift": float(drift.get("prediction_drift") or 0.0),
                **{f"drift_{k}": float(v) for k, v in drift["scores"].items()},
            },
        )
    ref = s["reference"]
    put(
        "automation_drop",
        float(s["automation_drop"]),
        t.automation_drop_warn,
        t.automation_drop_error,
        f"automation rate {s['automation_rate']:.0%} vs {ref['automation_rate']:.0%} on the "
        f"held-out reference (drop {s['automation_drop']:+.0%})",
        {
            "automation_rate": float(s["automation_rate"]),
            "reference_automation_rate": float(ref["automation_rate"]),
            "automation_drop": float(s["automation_drop"]),
        },
    )
    un = s["unseen"]
    put(
        "unseen_values",
        float(s["unseen_share"]),
        t.unseen_warn,
        t.unseen_error,
        f"{s['unseen_share']:.0%} of usable documents carry values never seen in training "
        f"(vendors {un['unseen_vendor']:.0%}, date formats {un['unseen_date_format']:.0%}, "
        f"months {un['unseen_month']:.0%}, labels {un['unseen_label']:.0%})",
        {"unseen_share": float(s["unseen_share"]), **{k: float(v) for k, v in un.items()}},
    )
    drops = s.get("estimated_accuracy_drop") or {}
    worst = max(drops.items(), key=lambda kv: kv[1]) if drops else ("-", 0.0)
    put(
        "estimated_accuracy_drop",
        float(worst[1]),
        t.accuracy_drop_warn,
        t.accuracy_drop_error,
        f"largest drop of estimated accuracy: {worst[0]} {worst[1]:+.1%} vs held-out "
        "reference confidence",
        {
            **{
                f"estimated_accuracy_{k}": float(v)
                for k, v in s["model_estimated_accuracy"].items()
            },
            **{f"estimated_accuracy_drop_{k}": float(v) for k, v in drops.items()},
        },
    )
    return out
