"""Root-cause hints of a health assessment, following the production playbook: bad scans,
irrelevant documents, vendors/layouts not in training, seasonal shift, new date formats."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from docasset.core.monitoring.thresholds import IMAGE_PROBLEMS, MONTHS, HealthThresholds

ACTIONS = {
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


_DRIFT_CAUSE = {
    "dpi": "bad_scans",
    "blur": "bad_scans",
    "contrast": "bad_scans",
    "ocr_conf": "bad_scans",
    "skew_abs": "bad_scans",
}


def root_causes(s: Mapping[str, Any], t: HealthThresholds) -> list[dict[str, Any]]:
    """Likely causes, most documents explained first: ``cause``, ``share`` of the window's
    documents, ``evidence`` (what was seen, how much) and the suggested ``action``."""
    hints: list[dict[str, Any]] = []
    ref = s.get("reference") or {}

    def add(cause: str, share: float, evidence: str) -> None:
        hints.append(
            {
                "cause": cause,
                "share": round(share, 4),
                "evidence": evidence,
                "action": ACTIONS[cause],
            }
        )

    if s.get("bad_scan_share", 0.0) >= t.hint_share:
        probs = {k: v for k, v in s.get("scan_problems", {}).items() if k in IMAGE_PROBLEMS}
        dpi, rdpi = (s.get("dpi") or {}).get("p50"), (ref.get("dpi") or {}).get("p50")
        ocr, rocr = s.get("mean_ocr_confidence"), ref.get("mean_ocr_confidence")
        ev = f"{s['bad_scan_share']:.0%} of documents are bad scans ({_fmt_counts(probs)})"
        if dpi is not None and rdpi is not None:
            ev += f"; median DPI {dpi:.0f} vs {rdpi:.0f} in training"
        if ocr is not None and rocr is not None:
            ev += f"; OCR word confidence {ocr:.0f} vs {rocr:.0f}"
        add("bad_scans", s["bad_scan_share"], ev)
    if s.get("irrelevant_share", 0.0) >= t.hint_share:
        add(
            "irrelevant_documents",
            s["irrelevant_share"],
            f"{s['irrelevant_share']:.0%} of documents are empty pages or carry no receipt "
            f"fields (missing required fields in {s.get('missing_required_share', 0):.0%}, "
            f"{ref.get('missing_required_share', 0):.0%} in training)",
        )
    unseen = s.get("unseen") or {}
    ex = s.get("unseen_examples") or {}
    if unseen.get("unseen_vendor", 0.0) >= t.hint_share:
        add(
            "new_vendors_or_layouts",
            unseen["unseen_vendor"],
            f"{unseen['unseen_vendor']:.0%} of usable documents come from vendors not in "
            f"training ({ref.get('n_vendors', 0)} known), e.g. "
            + ", ".join(ex.get("vendors", [])[:4]),
        )
    if unseen.get("unseen_month", 0.0) >= t.hint_share:
        seen = ", ".join(MONTHS[m - 1] for m in ref.get("months", []))
        new = ", ".join(MONTHS[m - 1] for m in ex.get("months", []))
        add(
            "seasonal_shift",
            unseen["unseen_month"],
            f"{unseen['unseen_month']:.0%} of usable documents are dated in months training "
            f"never saw ({new}; training: {seen})",
        )
    if unseen.get("unseen_date_format", 0.0) >= t.hint_share:
        add(
            "new_date_format",
            unseen["unseen_date_format"],
            f"{unseen['unseen_date_format']:.0%} of usable documents print dates as "
            f"{', '.join(ex.get('date_formats', []))} "
            f"(training: {', '.join(ref.get('date_formats', []))})",
        )
    if unseen.get("unseen_label", 0.0) > 0:
        add("labels_outside_schema", unseen["unseen_label"], "fields outside the model's schema")
    drift = s.get("drift") or {}
    if drift.get("max_score", 0.0) >= t.drift_warn:
        top = sorted((drift.get("scores") or {}).items(), key=lambda kv: -kv[1])[:3]
        causes = {_DRIFT_CAUSE.get(k) for k, v in top if v >= t.drift_warn}
        if not (
            {h["cause"] for h in hints}
            & (causes | {"irrelevant_documents", "new_vendors_or_layouts"})
        ):
            add(
                "unexplained_drift",
                0.0,
                "drifted: " + ", ".join(f"{k} {v:.2f}" for k, v in top),
            )
    hints.sort(key=lambda h: -h["share"])
    return hints


def _fmt_counts(c: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in c.items()) or "no detail"
