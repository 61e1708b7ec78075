"""PNG plots of the evaluation report and the learning curve (matplotlib, Agg, no pyplot).

Each function returns PNG bytes. Figures are built with the object API on an Agg canvas, so
no global pyplot state or display backend is involved (safe inside Dagster runs).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
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
    """The production simulation's weekly automation rate, auto accuracy and micro F1."""
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    weeks = [r for r in rows if r["week"] > 0]
    for col, label in (
        ("automation_rate", "automation rate"),
        ("auto_accuracy", "accuracy of auto documents"),
        ("micro_f1", "micro F1 before correction"),
    ):
        pts = [(r["week"], r[col]) for r in weeks if r.get(col) is not None]
        if pts:
            ax.plot(*zip(*pts, strict=True), marker="o", label=label)
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
