"""When health checks warn or error, when root causes are hinted, how much evidence an OK
needs, and the problem codes they use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from docasset.core.tunable import tunable

# Scan problem codes that mean the page itself is unusable vs the page has nothing on it.
IMAGE_PROBLEMS = ("low_dpi", "blurred", "low_contrast", "unreadable")

EMPTY_PROBLEMS = ("blank", "no_text")

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass(frozen=True)
class HealthThresholds:
    """When a health check warns or errors, and when a root cause is hinted (see Settings)."""

    ORDERED: ClassVar = (
        ("drift_warn", "drift_error"),
        ("automation_drop_warn", "automation_drop_error"),
        ("unseen_warn", "unseen_error"),
        ("accuracy_drop_warn", "accuracy_drop_error"),
    )  # each (a, b): a <= b (checked at load)
    # The drops are signed (negative: better than the reference), so their thresholds are only
    # bounded below; one above any possible drop (> 1) switches that level off.

    drift_warn: float = tunable(
        0.75,
        "health drift check: WARN when a feature's drift (Kolmogorov-Smirnov, 0..1) or the "
        "route's prediction drift reaches this.",
        ge=0,
        le=1,
    )
    drift_error: float = tunable(0.9, "health drift check: ERROR at this drift.", ge=0, le=1)
    automation_drop_warn: float = tunable(
        0.2,
        "health automation_drop check: WARN when the automation rate is this much below the "
        "held-out reference.",
        ge=-1,
    )
    automation_drop_error: float = tunable(
        0.4, "health automation_drop check: ERROR at this drop.", ge=-1
    )
    unseen_warn: float = tunable(
        0.3,
        "health unseen_values check: WARN at this share of usable documents with a vendor, "
        "date format, month or label never seen in training.",
        ge=0,
        le=1,
    )
    unseen_error: float = tunable(
        0.6, "health unseen_values check: ERROR at this share.", ge=0, le=1
    )
    accuracy_drop_warn: float = tunable(
        0.08,
        "health estimated_accuracy_drop check: WARN when a required field's mean calibrated "
        "confidence is this much below the held-out reference.",
        ge=-1,
    )
    accuracy_drop_error: float = tunable(
        0.15,
        "health estimated_accuracy_drop check: ERROR at this drop.",
        ge=-1,
    )
    hint_share: float = tunable(
        0.2,
        "A root cause (bad scans, irrelevant pages, new vendors, unseen months) is hinted when "
        "it concerns at least this share of the window's documents.",
        ge=0,
        le=1,
    )
    vendor_similarity: float = tunable(
        80.0,
        "A predicted vendor is known when it matches a training vendor at least this well "
        "(rapidfuzz ratio, 0..100).",
        ge=0,
        le=100,
    )
    min_drift_docs: int = tunable(
        10,
        "Drift is measured only with this many documents on each side.",
        ge=1,
    )
    trend_days: int = tunable(14, "Days of automation-rate trend shown in the health report.", ge=1)
    min_checked_docs: int = tunable(
        30,
        "Realized accuracy is trusted only when it rests on at least this many human-checked "
        "documents of the day; below it the verdict is 'not enough checked documents', never "
        "OK, and realized figures stay out of the metadata.",
        ge=1,
    )
    deepchecks_page: bool = tunable(
        True,
        "Also save deepchecks' interactive drift page (self-contained, about 5 MB a day) beside "
        "docasset's drift page.",
    )
