"""PNG plots of the evaluation report and the learning curve (matplotlib, Agg, no pyplot).

Each function returns PNG bytes. Figures are built with the object API on an Agg canvas, so
no global pyplot state or display backend is involved (safe inside Dagster runs).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 80  # small files: the images are embedded in Dagster metadata and the HTML report
CANDIDATE, PRODUCTION = "#1f77b4", "#ff7f0e"


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def field_f1(
    names: Sequence[str], candidate: Mapping[str, Any], production: Mapping[str, Any] | None
) -> bytes:
    """Per-field F1 (and micro) of candidate and production with bootstrap 95 % intervals."""
    fig = Figure(figsize=(7, 3.4))
    ax = fig.add_subplot()
    labels = [*names, "micro"]
    models = [("candidate", candidate, CANDIDATE)]
    if production is not None:
        models.append(("production", production, PRODUCTION))
    width = 0.8 / len(models)
    for k, (label, scores, colour) in enumerate(models):
        f1 = [scores["micro"]["f1"] if n == "micro" else scores["fields"][n]["f1"] for n in labels]
        ci = scores.get("ci") or {}
        lo = [
            max(0.0, v - ci[n]["f1"][0]) if n in ci else 0.0
            for v, n in zip(f1, labels, strict=True)
        ]
        hi = [
            max(0.0, ci[n]["f1"][1] - v) if n in ci else 0.0
            for v, n in zip(f1, labels, strict=True)
        ]
        xs = [i + (k - (len(models) - 1) / 2) * width for i in range(len(labels))]
        ax.bar(xs, f1, width, yerr=[lo, hi], capsize=3, color=colour, label=label)
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("F1 (95 % bootstrap CI)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("Per-field F1 on the golden set")
    return _png(fig)


def reliability(curves: Mapping[str, tuple[list[Mapping[str, float]], float]]) -> bytes:
    """Reliability diagram: mean confidence vs accuracy per confidence bin, per model.

    ``curves``: model label -> (reliability table, ECE)."""
    fig = Figure(figsize=(4.2, 3.8))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    for (label, (table, ece)), colour in zip(curves.items(), (CANDIDATE, PRODUCTION), strict=False):
        if not table:
            continue
        ax.plot(
            [r["confidence"] for r in table],
            [r["accuracy"] for r in table],
            marker="o",
            color=colour,
            label=f"{label} (ECE {ece:.3f})",
        )
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("predicted confidence")
    ax.set_ylabel("observed accuracy")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Calibration (per predicted field)")
    return _png(fig)


def automation_tradeoff(
    curves: Mapping[str, list[tuple[float, bool]]],
    operating: Mapping[str, tuple[float, float]],
    target: float,
) -> bytes:
    """Accuracy of the accepted documents vs the share accepted, most confident first (up to
    the first document that can never be automated).

    ``curves``: model -> (document confidence, right) per document; ``operating``: model ->
    (automation rate, auto accuracy) at the model's own thresholds (marked)."""
    fig = Figure(figsize=(5.2, 3.6))
    ax = fig.add_subplot()
    for (label, docs), colour in zip(curves.items(), (CANDIDATE, PRODUCTION), strict=False):
        ranked = sorted(docs, key=lambda d: -d[0])
        xs, ys, right = [0.0], [1.0], 0
        for k, (conf, ok) in enumerate(ranked, start=1):
            if conf <= 0:
                break  # a missing or invalid required field: never automatable
            right += ok
            xs.append(k / len(ranked))
            ys.append(right / k)
        ax.step(xs, ys, where="post", color=colour, label=label)
        if label in operating:
            ax.plot(*operating[label], marker="*", markersize=12, color=colour)
    ax.axhline(target, color="grey", linestyle="--", linewidth=1, label=f"target {target:.2f}")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("share of documents automated")
    ax.set_ylabel("accuracy of automated documents")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("Automation vs accuracy (★ = the model's thresholds)")
    return _png(fig)


def learning_curve(rows: Sequence[Mapping[str, Any]], target: float | None = None) -> bytes:
    """The production simulation's weekly field automation and accepted-field accuracy,
    touchless documents and their accuracy, micro F1 and (right axis) operator seconds."""
    fig = Figure(figsize=(7.5, 4.2))
    ax = fig.add_subplot()
    weeks = [r for r in rows if r["week"] > 0]
    for col, label, style in (
        ("field_automation", "fields accepted", "o-"),
        ("accepted_field_accuracy", "accuracy of accepted fields", "o--"),
        ("automation_rate", "touchless documents", "s-"),
        ("auto_accuracy", "accuracy of touchless documents", "s--"),
        ("micro_f1", "micro F1 before correction", "^:"),
    ):
        pts = [(r["week"], r[col]) for r in weeks if r.get(col) is not None]
        if pts:
            ax.plot(*zip(*pts, strict=True), style, label=label)
    secs = [
        (r["week"], r["operator_seconds_per_doc"])
        for r in weeks
        if r.get("operator_seconds_per_doc") is not None
    ]
    if secs:
        ax2 = ax.twinx()
        ax2.bar(*zip(*secs, strict=True), width=0.3, alpha=0.15, color="black")
        ax2.set_ylabel("operator seconds / document (bars)", fontsize=8)
        ax.set_zorder(ax2.get_zorder() + 1)  # the lines above the bars
        ax.patch.set_visible(False)
    if target is not None:
        ax.axhline(target, color="grey", linestyle="--", linewidth=1, label=f"target {target:.2f}")
    for r in weeks:
        if r.get("gate") == "passed":
            ax.axvline(r["week"], color="green", alpha=0.25, linewidth=6)
    ax.set_xticks([r["week"] for r in weeks])
    ax.set_xlabel("week (green: a new model was promoted at the end of that week)")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("docasset production simulation")
    return _png(fig)


def health_figures(
    s: Mapping[str, Any], dpi_edges: Sequence[float], conf_edges: Sequence[float]
) -> list[tuple[str, bytes]]:
    """(title, PNG) of the production-health plots that have data: automation trend,
    estimated vs realized accuracy, feature drift, DPI and confidence distributions."""
    out: list[tuple[str, bytes]] = []
    ref = s.get("reference") or {}

    def emit(title: str, fig: Figure) -> None:
        out.append((title, _png(fig)))

    trend = s.get("trend") or []
    if trend:
        fig = Figure(figsize=(5, 2.6))
        ax = fig.add_subplot()
        ax.plot([t["day"][5:] for t in trend], [t["automation_rate"] for t in trend], "o-")
        if "automation_rate" in ref:
            ax.axhline(ref["automation_rate"], color="grey", ls="--", label="reference")
            ax.legend(fontsize=7)
        ax.set_ylim(0, 1.05)
        ax.set_title("Automation rate per day", fontsize=9)
        ax.tick_params(labelsize=7, axis="both")
        emit("Automation rate trend", fig)
    fields = list((s.get("accuracy_gap") or {}).get("fields") or {})
    if fields:
        fig = Figure(figsize=(5, 2.6))
        ax = fig.add_subplot()
        est, conf = s.get("estimated_accuracy") or {}, ref.get("confidence") or {}
        real = {
            f: g["realized"]
            for f, g in s["accuracy_gap"]["fields"].items()
            if g["realized"] is not None
        }
        xs = range(len(fields))
        ax.bar([x - 0.27 for x in xs], [conf.get(f, 0) for f in fields], 0.27, label="reference")
        ax.bar(list(xs), [est.get(f, 0) for f in fields], 0.27, label="estimated")
        ax.bar([x + 0.27 for x in xs], [real.get(f, 0) for f in fields], 0.27, label="realized")
        ax.set_xticks(list(xs), fields, fontsize=7)
        ax.set_ylim(0, 1.05)
        ax.legend(fontsize=6, loc="lower right")
        ax.set_title("Accuracy per field", fontsize=9)
        emit("Estimated vs realized accuracy", fig)
    drift = s.get("drift") or {}
    if drift.get("scores"):
        top = sorted(drift["scores"].items(), key=lambda kv: kv[1])[-10:]
        fig = Figure(figsize=(5, 2.8))
        ax = fig.add_subplot()
        ax.barh([k for k, _ in top], [v for _, v in top], color="tab:orange")
        ax.set_xlim(0, 1)
        ax.tick_params(labelsize=7)
        ax.set_title("Feature drift (Kolmogorov-Smirnov)", fontsize=9)
        emit("Feature drift", fig)
    if s.get("dpi_histogram") and ref.get("dpi_histogram"):
        fig = Figure(figsize=(5, 2.6))
        ax = fig.add_subplot()
        labels = [f"<{e}" for e in dpi_edges[1:]]
        win, rh = s["dpi_histogram"], ref["dpi_histogram"]
        nw, nr = max(sum(win), 1), max(sum(rh), 1)
        xs = range(len(labels))
        ax.bar([x - 0.2 for x in xs], [v / nr for v in rh], 0.4, label="reference")
        ax.bar([x + 0.2 for x in xs], [v / nw for v in win], 0.4, label="window")
        ax.set_xticks(list(xs), labels, fontsize=6)
        ax.legend(fontsize=7)
        ax.set_title("DPI distribution (share of documents)", fontsize=9)
        emit("DPI distribution", fig)
    hist = s.get("field_confidence_histogram") or {}
    if hist:
        fig = Figure(figsize=(5, 2.6))
        ax = fig.add_subplot()
        mids = [(a + b) / 2 for a, b in pairwise(conf_edges)]
        for f, h in hist.items():
            n = max(sum(h), 1)
            ax.plot(mids, [v / n for v in h], "o-", label=f, ms=3)
        ax.legend(fontsize=6)
        ax.set_title("Model confidence per field (window)", fontsize=9)
        ax.tick_params(labelsize=7)
        emit("Confidence distribution", fig)
    return out
