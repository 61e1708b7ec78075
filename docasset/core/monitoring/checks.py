"""The health checks' verdicts (WARN/ERROR by the thresholds) from one assessment, and the
day's overall verdict.

Every outcome carries its numbers (``value``, the levels, ``measures``): nothing downstream
parses them back out of the description. One severity language everywhere: a graded number
is written in its check's unit (drift as a 0..1 statistic, drops in points, shares in
percent) with its WARN and ERROR levels beside it (``CheckOutcome.graded``). A check that
could not be graded (no reference, drift not measured) is ``assessed=False`` with the
reason, and has no value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from docasset.core.monitoring.assessment import HealthAssessment, Hint
from docasset.core.monitoring.thresholds import HealthThresholds

CheckName = Literal[
    "drift", "automation_drop", "unseen_values", "estimated_accuracy_drop", "qa_accuracy"
]
CHECKS: tuple[CheckName, ...] = (
    "drift",
    "automation_drop",
    "unseen_values",
    "estimated_accuracy_drop",
    "qa_accuracy",
)
Severity = Literal["WARN", "ERROR"]
Verdict = Literal[
    "OK", "WARN", "ERROR", "NOT_ENOUGH_CHECKED_DOCUMENTS", "INCOMPLETE", "NOT_ASSESSED"
]
VERDICT_TEXT: dict[Verdict, str] = {
    "OK": "OK",
    "WARN": "WARN",
    "ERROR": "ERROR",
    "NOT_ENOUGH_CHECKED_DOCUMENTS": "not enough checked documents",
    "INCOMPLETE": "incomplete (some checks not assessed)",
    "NOT_ASSESSED": "not assessed",
}


@dataclass(frozen=True)
class CheckOutcome:
    """One health check's verdict: ``severity`` None when it passed (or was not assessed),
    else WARN or ERROR; ``cause`` is the likely cause named when it failed."""

    name: CheckName
    assessed: bool
    severity: Severity | None
    value: float | None
    warn_at: float
    error_at: float
    summary: str  # what was seen (or why it was not assessed)
    measures: dict[str, float] = field(default_factory=dict)
    cause: Hint | None = None

    @property
    def passed(self) -> bool:
        return self.severity is None

    @property
    def levels(self) -> str:
        """``WARN at 10 points, ERROR at 40 points``, in the check's unit."""
        return f"WARN at {fmt_level(self.name, self.warn_at)}, ERROR at " + fmt_level(
            self.name, self.error_at
        )

    @property
    def graded(self) -> str:
        """The graded number with its levels: ``31 points (WARN at 20 points, ERROR at 40
        points)``; "-" when not assessed."""
        if self.value is None:
            return "-"
        return f"{fmt_level(self.name, self.value)} ({self.levels})"

    @property
    def description(self) -> str:
        """The summary, then the likely cause and action when the check failed."""
        if not self.assessed:
            return f"not assessed: {self.summary}"
        text = f"{self.summary} ({self.levels})."
        if self.severity and self.cause:
            text += (
                f" Likely cause: {self.cause.title} - {self.cause.evidence}. "
                f"Suggested action: {self.cause.action}"
            )
        return text


def fmt_level(name: CheckName, x: float) -> str:
    """A graded number in its check's unit: drift as the statistic, drops in points (a
    negative drop is a rise), shares in percent."""
    if name == "drift":
        return f"{x:.2f}"
    if name in ("automation_drop", "estimated_accuracy_drop"):
        return f"{abs(x) * 100:.0f} points" + (" up" if x < 0 else "")
    return f"{x:.0%}"


def _change(drop: float) -> str:
    """``down 31 points`` / ``up 4 points`` for a drop (reference minus window)."""
    return f"{'down' if drop >= 0 else 'up'} {abs(drop) * 100:.0f} points"


KS_C_ALPHA = 1.949  # the two-sample KS coefficient c(alpha) at alpha = 0.001


def ks_critical(n: int, m: int, c_alpha: float = KS_C_ALPHA) -> float:
    """The two-sample Kolmogorov-Smirnov statistic above which samples of sizes ``n`` and
    ``m`` differ at significance alpha (``c_alpha`` 1.949: alpha = 0.001)."""
    if n <= 0 or m <= 0:
        return 1.0
    return min(1.0, c_alpha * ((n + m) / (n * m)) ** 0.5)


def _grade(value: float, warn: float, error: float) -> Severity | None:
    if value >= error:
        return "ERROR"
    return "WARN" if value >= warn else None


def evaluate_checks(a: HealthAssessment, t: HealthThresholds) -> dict[CheckName, CheckOutcome]:
    """The verdicts of the health checks of an assessment (see :data:`CHECKS`)."""
    top = a.hints[0] if a.hints else None
    target = a.qa.target if a.qa else 0.0
    levels: dict[CheckName, tuple[float, float]] = {
        "drift": (t.drift_warn, t.drift_error),
        "automation_drop": (t.automation_drop_warn, t.automation_drop_error),
        "unseen_values": (t.unseen_warn, t.unseen_error),
        "estimated_accuracy_drop": (t.accuracy_drop_warn, t.accuracy_drop_error),
        "qa_accuracy": (target, target),
    }
    out: dict[CheckName, CheckOutcome] = {}
    out["qa_accuracy"] = qa_outcome(a)

    def skip(name: CheckName, why: str) -> None:
        out[name] = CheckOutcome(name, False, None, None, *levels[name], why)

    def put(
        name: CheckName, value: float, what: str, measures: dict[str, float], warn: float
    ) -> None:
        error = max(levels[name][1], warn)
        sev = _grade(value, warn, error)
        out[name] = CheckOutcome(
            name, True, sev, value, warn, error, what, measures, top if sev else None
        )

    c, w = a.comparison, a.signals
    if c is None or w is None:
        for name in CHECKS:
            if name != "qa_accuracy":
                skip(name, a.not_assessed or "the model in use has no health reference")
        return out
    drift = a.drift
    top_drift = drift.max_score if drift is not None else None
    if drift is None or drift.skipped or top_drift is None:
        skip("drift", (drift.skipped if drift else None) or "drift not measured")
    else:
        # A small window drifts by chance: the warn level is never below the KS statistic's
        # critical value at alpha 0.001 for these sample sizes (about 20 features are tested).
        crit = ks_critical(drift.n_reference, drift.n_window)
        route = "" if drift.prediction_drift is None else f"; route {drift.prediction_drift:.2f}"
        measures = {"ks_critical_value": crit, "max_drift": top_drift}
        if drift.prediction_drift is not None:
            measures["prediction_drift"] = drift.prediction_drift
        measures |= {f"drift_{k}": v for k, v in drift.scores.items()}
        put(
            "drift",
            top_drift,
            f"largest drift {top_drift:.2f} ("
            + ", ".join(f"{k} {v:.2f}" for k, v in drift.top(3))
            + f"{route})",
            measures,
            max(t.drift_warn, crit),
        )
    ref = c.reference
    put(
        "automation_drop",
        c.automation_drop,
        f"automation rate {w.automation_rate:.0%} vs {ref.automation_rate:.0%} on the "
        f"held-out reference: {_change(c.automation_drop)}",
        {
            "automation_rate": w.automation_rate,
            "reference_automation_rate": ref.automation_rate,
            "automation_drop": c.automation_drop,
        },
        t.automation_drop_warn,
    )
    un = c.unseen
    put(
        "unseen_values",
        un.share,
        f"{un.share:.0%} of usable documents carry values never seen in training "
        f"(vendors {un.vendor:.0%}, date formats {un.date_format:.0%}, "
        f"months {un.month:.0%}, labels {un.label:.0%})",
        {
            "unseen_share": un.share,
            "unseen_vendor": un.vendor,
            "unseen_date_format": un.date_format,
            "unseen_month": un.month,
            "unseen_label": un.label,
        },
        t.unseen_warn,
    )
    drops = c.estimated_accuracy_drop
    if not drops:
        skip("estimated_accuracy_drop", "no required field has a model confidence in the window")
    else:
        worst, drop = max(drops.items(), key=lambda kv: kv[1])
        put(
            "estimated_accuracy_drop",
            drop,
            f"largest drop of estimated accuracy: {worst} {_change(drop)} vs the held-out "
            "reference confidence",
            {
                **{f"estimated_accuracy_{k}": v for k, v in w.model_estimated_accuracy.items()},
                **{f"estimated_accuracy_drop_{k}": v for k, v in drops.items()},
            },
            t.accuracy_drop_warn,
        )
    return out


def qa_outcome(a: HealthAssessment) -> CheckOutcome:
    """ERROR when even the upper bound of the QA-measured accepted-field accuracy (95 %
    Clopper-Pearson) is below the field target: accepted fields are provably worse than
    promised. Not assessed without a QA answer for the model in use."""
    q = a.qa
    if q is None or q.n == 0:
        return CheckOutcome(
            "qa_accuracy", False, None, None, 0.0, 0.0, "no QA answer for the model in use yet"
        )
    sev: Severity | None = "ERROR" if q.high < q.target else None
    return CheckOutcome(
        "qa_accuracy",
        True,
        sev,
        q.high,
        q.target,
        q.target,
        f"accepted fields right {q.right} of {q.n} in the blind QA sample ({q.accuracy:.1%}, "
        f"95 % interval {q.low:.3f}-{q.high:.3f}; strict {q.strict} of {q.n}) against the "
        f"{q.target:.0%} target",
        {
            "qa_fields": float(q.n),
            "qa_right": float(q.right),
            "qa_accuracy": q.accuracy,
            "qa_low": q.low,
            "qa_high": q.high,
        },
    )


def verdict(
    a: HealthAssessment, checks: dict[CheckName, CheckOutcome], t: HealthThresholds
) -> Verdict:
    """The day's verdict, never more reassuring than the evidence: ``NOT_ASSESSED`` when
    nothing could be compared; else the worst failing severity; else
    ``NOT_ENOUGH_CHECKED_DOCUMENTS`` when realized accuracy rests on fewer than
    ``min_checked_docs`` human-checked documents; else ``INCOMPLETE`` when a check could not
    be graded; only then ``OK``."""
    if a.not_assessed is not None:
        return "NOT_ASSESSED"
    sev = {c.severity for c in checks.values()}
    if "ERROR" in sev:
        return "ERROR"
    if "WARN" in sev:
        return "WARN"
    if a.n_checked < t.min_checked_docs:
        return "NOT_ENOUGH_CHECKED_DOCUMENTS"
    # No QA answer yet is a stated limit (the report says so), not an incomplete grading: a
    # deployment with QA off would otherwise never be OK.
    if not all(c.assessed for n, c in checks.items() if n != "qa_accuracy"):
        return "INCOMPLETE"
    return "OK"
