"""When health checks warn or error and root causes are hinted, and the problem codes they use."""

from __future__ import annotations

from dataclasses import dataclass

# Scan problem codes that mean the page itself is unusable vs the page has nothing on it.
IMAGE_PROBLEMS = ("low_dpi", "blurred", "low_contrast", "unreadable")

EMPTY_PROBLEMS = ("blank", "no_text")

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass(frozen=True)
class HealthThresholds:
    """When a health check warns or errors, and when a root cause is hinted (see Settings)."""

    drift_warn: float = 0.75
    drift_error: float = 0.9
    automation_drop_warn: float = 0.2
    automation_drop_error: float = 0.4
    unseen_warn: float = 0.3
    unseen_error: float = 0.6
    accuracy_drop_warn: float = 0.08
    accuracy_drop_error: float = 0.15
    hint_share: float = 0.2
    vendor_similarity: float = 80.0
    min_drift_docs: int = 10
    trend_days: int = 14
