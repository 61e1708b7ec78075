"""Root-cause hints of a health assessment, following the production playbook: bad scans,
irrelevant documents, vendors/layouts not in training, seasonal shift, new date formats."""

from __future__ import annotations

from collections.abc import Mapping

from docasset.core.monitoring.assessment import Cause, Comparison, Hint, WindowSignals
from docasset.core.monitoring.drift import DriftResult
from docasset.core.monitoring.thresholds import IMAGE_PROBLEMS, MONTHS, HealthThresholds

ACTIONS: dict[Cause, str] = {
    "bad_scans": "Fix scanning: rescan at 300 DPI (150 at least), check focus, contrast and "
    "feeding; bad scans go to review and never become training data.",
    "irrelevant_documents": "Filter irrelevant documents before intake (inbox rules or a page "
    "classifier); mark them `irrelevant` in review so they never train the model.",
    "new_vendors_or_layouts": "Add recent documents of these vendors to training: correct them "
    "in review; the retraining sensor retrains once enough corrections arrive.",
    "seasonal_shift": "Add recent documents to training: the training data never saw these months.",
    "new_date_format": "Add documents with the new date format to training and check the date "
    "normalizer parses it.",
    "labels_outside_schema": "The predictions carry fields the model was not trained for: "
    "check the document-type configuration matches the production model.",
    "unexplained_drift": "Open the drift report: the documents changed in ways no known cause "
    "explains; add recent documents to training.",
}


_DRIFT_CAUSE: dict[str, Cause] = {
    "dpi": "bad_scans",
    "blur": "bad_scans",
    "contrast": "bad_scans",
    "ocr_conf": "bad_scans",
    "skew_abs": "bad_scans",
}


def root_causes(
    w: WindowSignals, c: Comparison | None, drift: DriftResult | None, t: HealthThresholds
) -> tuple[Hint, ...]:
    """Likely causes, most documents explained first: the share of the window's documents
    each explains, the evidence (what was seen, how much) and the suggested action."""
    hints: list[Hint] = []
    ref = c.reference if c else None

    def add(cause: Cause, share: float | None, evidence: str) -> None:
        hints.append(
            Hint(cause, None if share is None else round(share, 4), evidence, ACTIONS[cause])
        )

    if w.bad_scan_share >= t.hint_share:
        probs = {k: v for k, v in w.scan_problems.items() if k in IMAGE_PROBLEMS}
        ev = f"{w.bad_scan_share:.0%} of documents are bad scans ({_fmt_counts(probs)})"
        if w.dpi is not None and ref is not None and ref.dpi is not None:
            ev += f"; median DPI {w.dpi.p50:.0f} vs {ref.dpi.p50:.0f} in training"
        ocr, rocr = w.mean_ocr_confidence, ref.mean_ocr_confidence if ref else None
        if ocr is not None and rocr is not None:
            ev += f"; OCR word confidence {ocr:.0f} vs {rocr:.0f}"
        add("bad_scans", w.bad_scan_share, ev)
    if w.irrelevant_share >= t.hint_share:
        in_training = f", {ref.missing_required_share:.0%} in training" if ref else ""
        add(
            "irrelevant_documents",
            w.irrelevant_share,
            f"{w.irrelevant_share:.0%} of documents are empty pages or carry no receipt "
            f"fields (missing required fields in {w.missing_required_share:.0%}{in_training})",
        )
    if c is not None and ref is not None:
        un = c.unseen
        if un.vendor >= t.hint_share:
            add(
                "new_vendors_or_layouts",
                un.vendor,
                f"{un.vendor:.0%} of usable documents come from vendors not in training "
                f"({ref.n_vendors} known), e.g. " + ", ".join(un.vendors[:4]),
            )
        if un.month >= t.hint_share:
            seen = ", ".join(MONTHS[m - 1] for m in ref.months)
            new = ", ".join(MONTHS[m - 1] for m in un.months)
            add(
                "seasonal_shift",
                un.month,
                f"{un.month:.0%} of usable documents are dated in months training never saw "
                f"({new}; training: {seen})",
            )
        if un.date_format >= t.hint_share:
            add(
                "new_date_format",
                un.date_format,
                f"{un.date_format:.0%} of usable documents print dates as "
                f"{', '.join(un.date_formats)} (training: {', '.join(ref.date_formats)})",
            )
        if un.label > 0:
            add("labels_outside_schema", un.label, "fields outside the model's schema")
    top_drift = drift.max_score if drift is not None else None
    if drift is not None and top_drift is not None and top_drift >= t.drift_warn:
        top = drift.top(3)
        causes = {_DRIFT_CAUSE.get(k) for k, v in top if v >= t.drift_warn}
        explained = {h.cause for h in hints}
        if not explained & (causes | {"irrelevant_documents", "new_vendors_or_layouts"}):
            add("unexplained_drift", None, "drifted: " + ", ".join(f"{k} {v:.2f}" for k, v in top))
    hints.sort(key=lambda h: 1.0 if h.share is None else -h.share)  # unknown share last
    return tuple(hints)


def _fmt_counts(c: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in c.items()) or "no detail"
