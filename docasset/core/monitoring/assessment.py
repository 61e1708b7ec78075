"""The typed contract of production health: what :func:`~docasset.core.monitoring.health.assess`
returns and ``production_health`` stores, read by the checks, the causes, the report and the
evaluations. Frozen dataclasses; :meth:`HealthAssessment.to_dict` is the JSON form
(``reports/health-<day>.json``), floats rounded.

Absent is absent: a figure that could not be measured (no reference, no checked document, no
per-field routing in the predictions) is ``None``, never 0.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from docasset.core.monitoring.drift import DriftResult

Cause = Literal[
    "bad_scans",
    "irrelevant_documents",
    "new_vendors_or_layouts",
    "seasonal_shift",
    "new_date_format",
    "labels_outside_schema",
    "unexplained_drift",
]
CheckedSample = Literal["auto-routed, human-checked", "all corrected"]
ROUND = 4  # decimals of every float in the JSON report and the Dagster metadata


@dataclass(frozen=True)
class Quantiles:
    """The 5th, 50th and 95th percentiles of a measure."""

    p05: float
    p50: float
    p95: float


@dataclass(frozen=True)
class TrendPoint:
    """One day's automation rate over the ``n`` documents a model predicted that day."""

    day: date
    automation_rate: float
    n: int


@dataclass(frozen=True)
class ReferenceSummary:
    """The training reference of the model in use, as the report compares against it
    (held-out figures; OCR/scan measures of the curated documents where they were stored)."""

    model_version: str | None
    n_docs: dict[str, int]
    automation_rate: float
    predictions_per_doc: float
    missing_required_share: float
    confidence: dict[str, float]
    accuracy: dict[str, float]
    months: tuple[int, ...]
    n_vendors: int
    date_formats: tuple[str, ...]
    dpi: Quantiles | None = None
    dpi_histogram: tuple[int, ...] | None = None
    mean_ocr_confidence: float | None = None

    @property
    def n_curated(self) -> int:
        return sum(self.n_docs.values())


@dataclass(frozen=True)
class FieldGap:
    """Estimated vs realized accuracy of one field on the checked documents (``n`` values)."""

    n: int
    estimated: float | None
    realized: float | None

    @property
    def gap(self) -> float | None:
        """Realized minus estimated (None when either is unknown)."""
        if self.estimated is None or self.realized is None:
            return None
        return self.realized - self.estimated


@dataclass(frozen=True)
class AccuracyGap:
    """Estimated vs realized accuracy on the ``n_docs`` documents humans checked."""

    sample: CheckedSample
    n_docs: int
    fields: dict[str, FieldGap]

    def overall(self) -> FieldGap:
        """Every field's values pooled."""
        got = [g for g in self.fields.values() if g.n]
        n = sum(g.n for g in got)
        if not n:
            return FieldGap(0, None, None)
        est = sum((g.estimated or 0.0) * g.n for g in got) / n
        real = sum((g.realized or 0.0) * g.n for g in got) / n
        return FieldGap(n, est, real)


@dataclass(frozen=True)
class UnseenValues:
    """Share of usable documents carrying values never seen in training, and examples."""

    vendor: float
    date_format: float
    month: float
    label: float
    share: float  # any of the four
    vendors: tuple[str, ...] = ()
    months: tuple[int, ...] = ()
    date_formats: tuple[str, ...] = ()


@dataclass(frozen=True)
class FieldRouting:
    """Field-level routing of the window (predictions with a ``field_status`` column): the
    share of document fields accepted, of documents with no field to check (touchless), and
    their realized accuracy on the human-checked documents (None without any)."""

    field_automation: float
    touchless_rate: float
    n_fields: int
    n_docs: int
    accepted_accuracy: float | None = None
    n_accepted_checked: int = 0
    touchless_accuracy: float | None = None
    n_touchless_checked: int = 0


@dataclass(frozen=True)
class Hint:
    """A likely cause: the ``share`` of documents it explains (None when it is not a share of
    documents, e.g. unexplained drift), what was seen, what to do."""

    cause: Cause
    share: float | None
    evidence: str
    action: str

    @property
    def title(self) -> str:
        return self.cause.replace("_", " ")


@dataclass(frozen=True)
class WindowSignals:
    """What the window's documents show, reference or not."""

    automation_rate: float
    review_share: float
    predictions_per_doc: float
    missing_required_share: float
    mean_ocr_confidence: float | None
    bad_scan_share: float
    irrelevant_share: float
    scan_problems: dict[str, int]
    dpi: Quantiles | None
    dpi_histogram: tuple[int, ...] | None
    memory_share: float
    # field -> mean calibrated confidence of the extracted values (all / model-made only)
    estimated_accuracy: dict[str, float]
    model_estimated_accuracy: dict[str, float]
    field_confidence_histogram: dict[str, tuple[int, ...]]
    field_routing: FieldRouting | None = None


@dataclass(frozen=True)
class Comparison:
    """The window against the reference of the model that predicted it."""

    reference: ReferenceSummary
    unseen: UnseenValues
    automation_drop: float
    # required field -> reference confidence minus the window's model confidence
    estimated_accuracy_drop: dict[str, float]


@dataclass(frozen=True)
class ReportFiles:
    """Where the day's report files are (names relative to the reports directory)."""

    directory: str
    html: str
    markdown: str
    json: str
    drift: str | None = None  # docasset's drift page (renders offline)
    deepchecks: str | None = None  # deepchecks' self-contained interactive page (optional)

    def path(self, name: str) -> str:
        return f"{self.directory}/{name}"


@dataclass(frozen=True)
class QaMeasure:
    """Accepted-field accuracy measured by the blind QA sample of the model in use: ``n``
    QA answers, ``right`` of them right under ``equivalent`` (``strict``: exact match), the
    two-sided 95 % Clopper-Pearson interval, and the field target it is held to."""

    n: int
    right: int
    strict: int
    low: float
    high: float
    target: float

    @property
    def accuracy(self) -> float:
        return self.right / self.n


@dataclass(frozen=True)
class HealthAssessment:
    """Every health signal of one window (``production_health``'s value).

    ``not_assessed`` says why nothing could be compared (no document predicted by a model,
    or the model has no health reference); ``signals`` and ``accuracy_gap`` are None without
    modelled documents (``accuracy_gap.n_docs`` is 0 without a checked one), ``comparison``
    None without a reference, ``drift`` None when drift was not run; ``files`` names the
    report files once written.
    """

    day: date
    n_unmodelled: int
    model_versions: tuple[str, ...]
    n_modelled: int = 0
    trend: tuple[TrendPoint, ...] = ()
    not_assessed: str | None = None
    signals: WindowSignals | None = None
    comparison: Comparison | None = None
    accuracy_gap: AccuracyGap | None = None
    drift: DriftResult | None = None
    hints: tuple[Hint, ...] = ()
    files: ReportFiles | None = None
    qa: QaMeasure | None = None  # None: no QA answer for the model in use yet

    @property
    def n_docs(self) -> int:
        return self.n_modelled + self.n_unmodelled

    @property
    def n_checked(self) -> int:
        """Human-checked documents realized accuracy rests on (0 without any)."""
        return self.accuracy_gap.n_docs if self.accuracy_gap else 0

    @property
    def reference(self) -> ReferenceSummary | None:
        return self.comparison.reference if self.comparison else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: dates as ISO strings, floats rounded, derived figures included."""
        d = plain(self)
        d |= {"n_docs": self.n_docs, "n_checked": self.n_checked}
        if self.accuracy_gap is not None:
            for name, g in self.accuracy_gap.fields.items():
                d["accuracy_gap"]["fields"][name]["gap"] = _round(g.gap)
            d["accuracy_gap"]["overall"] = plain(self.accuracy_gap.overall()) | {
                "gap": _round(self.accuracy_gap.overall().gap)
            }
        if self.drift is not None:
            d["drift"]["max_score"] = _round(self.drift.max_score)
        return d


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, ROUND)


def plain(x: object) -> Any:
    """JSON-able form of the contract's values (dataclasses, dates, tuples, rounded floats)."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [plain(v) for v in x]
    if isinstance(x, date):
        return x.isoformat()
    if isinstance(x, float):
        return round(x, ROUND)
    return x
