"""PNG plots of the evaluation report, the learning curve and production health (matplotlib,
Agg, no pyplot).

Each function returns PNG bytes. Figures are built with the object API on an Agg canvas, so
no global pyplot state or display backend is involved (safe inside Dagster runs). Readable as
embedded: text at least 9 pt at 100 dpi, every axis labelled; accuracies are drawn as points
on an axis that starts near the lowest value (bars from 0 would hide 96 % vs 100 %).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 100  # the images are embedded in Dagster metadata and the HTML report
TEXT, SMALL = 10, 9  # point sizes of titles and labels, of ticks and legends
CANDIDATE, PRODUCTION = "#1f77b4", "#ff7f0e"


def accuracy_floor(values: Sequence[float | None], margin: float = 0.05) -> float:
    """Where an accuracy axis starts: a step of 0.05 below the lowest value (0 when values
    reach down there), so that differences of a few points stay visible."""
    vals = [v for v in values if v is not None]
    if not vals:
        return 0.0
    return max(0.0, float(np.floor((min(vals) - margin) * 20) / 20))


def _new_figure(figsize: tuple[float, float]) -> Figure:
    # matplotlib is imported on the first plot, not with the module: every process that loads
    # the definitions imports this module, and most never draw (0.3 s per process).
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def _png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


# Per-field (and "micro") F1, and field -> metric -> [low, high] bootstrap intervals.
F1Figures = tuple[Mapping[str, float], Mapping[str, Mapping[str, Sequence[float]]]]


def field_f1(names: Sequence[str], candidate: F1Figures, production: F1Figures | None) -> bytes:
    """Per-field F1 (and micro) of candidate and production with bootstrap 95 % intervals."""
    fig = _new_figure((7, 3.4))
    ax = fig.add_subplot()
    labels = [*names, "micro"]
    models = [("candidate", candidate, CANDIDATE)]
    if production is not None:
        models.append(("production", production, PRODUCTION))
    width = 0.8 / len(models)
    lowest: list[float | None] = []
    for k, (label, scores, colour) in enumerate(models):
        f1_of, ci = scores
        f1 = [f1_of[n] for n in labels]
        lo = [
            max(0.0, v - ci[n]["f1"][0]) if n in ci else 0.0
            for v, n in zip(f1, labels, strict=True)
        ]
        hi = [
            max(0.0, ci[n]["f1"][1] - v) if n in ci else 0.0
            for v, n in zip(f1, labels, strict=True)
        ]
        xs = [i + (k - (len(models) - 1) / 2) * width for i in range(len(labels))]
        ax.errorbar(
            xs, f1, yerr=[lo, hi], fmt="o", capsize=4, color=colour, label=label, markersize=7
        )
        lowest += [v - d for v, d in zip(f1, lo, strict=True)]
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=SMALL)
    ax.tick_params(labelsize=SMALL)
    ax.set_ylim(accuracy_floor(lowest), 1.02)
    ax.set_xlabel("field", fontsize=TEXT)
    ax.set_ylabel("F1 (95 % bootstrap CI)", fontsize=TEXT)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower left", fontsize=SMALL)
    ax.set_title("Per-field F1 on the golden set (axis not from 0)", fontsize=TEXT)
    return _png(fig)


def reliability(curves: Mapping[str, tuple[Sequence[Mapping[str, float]], float]]) -> bytes:
    """Reliability diagram: mean confidence vs accuracy per confidence bin, per model.

    ``curves``: model label -> (reliability table, ECE)."""
    fig = _new_figure((4.2, 3.8))
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
    ax.set_xlabel("predicted confidence", fontsize=TEXT)
    ax.set_ylabel("observed accuracy", fontsize=TEXT)
    ax.tick_params(labelsize=SMALL)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=SMALL)
    ax.set_title("Calibration (per predicted field)", fontsize=TEXT)
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
    fig = _new_figure((5.2, 3.6))
    ax = fig.add_subplot()
    ys_all: list[float | None] = []
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
        ys_all += ys
        if label in operating:
            ax.plot(*operating[label], marker="*", markersize=12, color=colour)
    ax.axhline(target, color="grey", linestyle="--", linewidth=1, label=f"target {target:.2f}")
    ax.set_xlim(0, 1.02)
    points = [acc for _, acc in operating.values()]
    ax.set_ylim(accuracy_floor([*ys_all, *points, target]), 1.02)
    ax.tick_params(labelsize=SMALL)
    ax.set_xlabel("share of documents automated", fontsize=TEXT)
    ax.set_ylabel("accuracy of automated documents", fontsize=TEXT)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=SMALL)
    ax.set_title("Automation vs accuracy (★ = the model's thresholds)", fontsize=TEXT)
    return _png(fig)


def learning_curve(rows: Sequence[Mapping[str, Any]], target: float | None = None) -> bytes:
    """The production simulation's weekly field automation and accepted-field accuracy,
    touchless documents and their accuracy, micro F1 and (right axis) operator seconds."""
    fig = _new_figure((7.5, 4.2))
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
        weeks_x, seconds = zip(*secs, strict=True)
        ax2.bar(weeks_x, seconds, width=0.3, alpha=0.15, color="black")
        ax2.set_ylabel("operator seconds / document (bars)", fontsize=SMALL)
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
    ax.legend(loc="lower right", fontsize=SMALL)
    ax.set_title("docasset production simulation")
    return _png(fig)


def _small(
    title: str, xlabel: str, ylabel: str, size: tuple[float, float] = (5.5, 3.0)
) -> tuple[Figure, Any]:
    fig = _new_figure(size)
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=TEXT)
    ax.set_xlabel(xlabel, fontsize=SMALL)
    ax.set_ylabel(ylabel, fontsize=SMALL)
    ax.tick_params(labelsize=SMALL, axis="both")
    return fig, ax


def automation_trend(
    days: Sequence[str], rates: Sequence[float], reference: float | None = None
) -> bytes:
    """Production health: the automation rate per day, with the reference's as a line."""
    fig, ax = _small("Automation rate per day", "day", "automation rate")
    ax.plot(list(days), list(rates), "o-")
    if reference is not None:
        ax.axhline(reference, color="grey", ls="--", label="reference")
        ax.legend(fontsize=SMALL)
    ax.set_ylim(0, 1.05)
    return _png(fig)


def accuracy_per_field(bars: Mapping[str, Mapping[str, float | None]]) -> bytes:
    """Points per field: ``bars`` maps a series label (reference, estimated, realized) to
    field -> accuracy; unknown values are left out, not drawn as 0. The axis starts near the
    lowest value (points, not bars, so the truncated axis misleads nobody)."""
    fig, ax = _small("Accuracy per field (axis not from 0)", "field", "accuracy")
    fields = list(dict.fromkeys(f for series in bars.values() for f in series))
    width = 0.6 / max(len(bars), 1)
    for k, (label, series) in enumerate(bars.items()):
        pts = [(i, series[f]) for i, f in enumerate(fields) if series.get(f) is not None]
        xs = [i + (k - (len(bars) - 1) / 2) * width for i, _ in pts]
        ax.plot(xs, [v for _, v in pts], "o", markersize=7, label=label)
    ax.set_xticks(range(len(fields)), fields, fontsize=SMALL)
    ax.set_ylim(accuracy_floor([v for sr in bars.values() for v in sr.values()]), 1.02)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=SMALL, loc="lower right")
    return _png(fig)


def drift_scores(scores: Mapping[str, float], warn: float | None = None, top: int = 10) -> bytes:
    """Horizontal bars of the ``top`` largest per-feature drift scores (0..1)."""
    ranked = sorted(scores.items(), key=lambda kv: kv[1])[-top:]
    fig, ax = _small(
        "Feature drift (Kolmogorov-Smirnov)",
        "KS statistic (0 = same distribution, 1 = disjoint)",
        "feature",
        (5.5, 1.3 + 0.3 * len(ranked)),
    )
    # Coloured by grade against the WARN level drawn beside: below it is not a finding.
    colours = ["tab:orange" if warn is not None and v >= warn else "tab:gray" for _, v in ranked]
    ax.barh([k for k, _ in ranked], [v for _, v in ranked], color=colours)
    if warn is not None:
        ax.axvline(warn, color="black", ls="--", lw=1, label=f"WARN at {warn:.2f}")
        ax.legend(fontsize=SMALL, loc="lower right")
    ax.set_xlim(0, 1)
    return _png(fig)


def distributions(
    samples: Mapping[str, tuple[Sequence[float], Sequence[float]]], cols: int = 3
) -> bytes:
    """Small multiples: per feature, the reference and window histograms (share of
    documents), on the same bins."""
    n = max(len(samples), 1)
    rows = (n + cols - 1) // cols
    fig = _new_figure((3 * cols, 2.2 * rows))
    for i, (name, (ref, cur)) in enumerate(samples.items()):
        ax = fig.add_subplot(rows, cols, i + 1)
        both = np.asarray([*ref, *cur], dtype=float)
        edges = [float(e) for e in np.histogram_bin_edges(both, bins=12)] if both.size else [0, 1]
        for vals, label, colour in ((ref, "reference", PRODUCTION), (cur, "window", CANDIDATE)):
            if len(vals):
                w = np.full(len(vals), 1.0 / len(vals))
                ax.hist(vals, bins=edges, weights=w, alpha=0.55, color=colour, label=label)
        ax.set_title(name, fontsize=SMALL)
        ax.tick_params(labelsize=SMALL - 1)
        ax.set_ylabel("share of documents", fontsize=SMALL - 1)
        if i == 0:
            ax.legend(fontsize=SMALL - 1)
    return _png(fig)


def binned_shares(labels: Sequence[str], series: Mapping[str, Sequence[int]], title: str) -> bytes:
    """Bars of binned counts as shares of each series' total (e.g. DPI, reference vs window)."""
    fig, ax = _small(title, "bin", "share of documents")
    width = 0.8 / max(len(series), 1)
    for k, (label, counts) in enumerate(series.items()):
        total = max(sum(counts), 1)
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(labels))]
        ax.bar(xs, [v / total for v in counts], width, label=label)
    ax.set_xticks(range(len(labels)), list(labels), fontsize=SMALL)
    ax.legend(fontsize=SMALL)
    return _png(fig)


def binned_lines(mids: Sequence[float], series: Mapping[str, Sequence[int]], title: str) -> bytes:
    """One line per series of binned counts as shares (e.g. confidence per field)."""
    fig, ax = _small(title, "model confidence (bin middle)", "share of values")
    for label, counts in series.items():
        total = max(sum(counts), 1)
        ax.plot(list(mids), [v / total for v in counts], "o-", label=label, ms=4)
    ax.legend(fontsize=SMALL)
    return _png(fig)
