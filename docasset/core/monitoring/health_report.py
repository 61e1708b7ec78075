"""The production health report a manager reads in two minutes, and the day's drift page: lists
of report blocks (``docasset.core.reporting.blocks``) rendered as Markdown (Dagster UI) and
standalone HTML files, with the plots of ``docasset.core.reporting.plots`` embedded (nothing
loaded from the network).

Report order: verdict, what to do (the decision line), why it is not OK, what changed (failing
checks, each graded number with its WARN and ERROR levels), likely causes with suggested
actions, the numbers against the reference, estimated vs realized accuracy, the link to the
drift page, then the plots.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise

import polars as pl

from docasset.core.monitoring.assessment import HealthAssessment, WindowSignals
from docasset.core.monitoring.checks import (
    VERDICT_TEXT,
    CheckName,
    CheckOutcome,
    Verdict,
    ks_critical,
)
from docasset.core.monitoring.health import CONF_EDGES, DPI_EDGES
from docasset.core.monitoring.thresholds import HealthThresholds
from docasset.core.reporting import plots
from docasset.core.reporting.blocks import Block, Bullets, Heading, Image, Para, Table

DRIFT_PLOTTED = 6  # features whose distributions the drift page draws, most drifted first


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _share(x: float | None) -> str:
    return "" if x is None else f" ({x:.0%} of documents)"


def _num(x: float | None, fmt: str = ".2f") -> str:
    return "-" if x is None else format(x, fmt)


def evidence(
    a: HealthAssessment, checks: Mapping[CheckName, CheckOutcome], t: HealthThresholds
) -> list[str]:
    """Why the verdict is not (or not only) OK: what could not be assessed, and how little
    human-checked evidence realized accuracy rests on."""
    out = []
    if a.not_assessed:
        out.append(f"Nothing compared: {a.not_assessed}.")
    if a.signals is not None and a.n_checked < t.min_checked_docs:
        out.append(
            f"Realized accuracy rests on {a.n_checked} human-checked documents; at least "
            f"{t.min_checked_docs} are needed (`settings.health.min_checked_docs`)."
        )
    if not a.not_assessed:
        out += [f"`{c.name}` not assessed: {c.summary}." for c in checks.values() if not c.assessed]
    return out


NEXT_STEP: dict[Verdict, str] = {
    "OK": "nothing to do: every check is within its levels",
    "NOT_ENOUGH_CHECKED_DOCUMENTS": "have operators check more documents (QA samples) so "
    "that realized accuracy can be measured",
    "INCOMPLETE": "see *Limits of this assessment*: a check could not be graded",
    "NOT_ASSESSED": "see *Limits of this assessment*: nothing could be compared",
}


def decision(
    a: HealthAssessment, checks: Mapping[CheckName, CheckOutcome], verdict: Verdict
) -> str:
    """The report's first line: the verdict and what to do next (the likely cause's action
    when a check failed)."""
    failing = [c for c in checks.values() if not c.passed]
    if failing:
        worst = sorted(failing, key=lambda c: c.severity != "ERROR")[0]
        action = a.hints[0].action if a.hints else f"look at `{worst.name}` below"
        what = ", ".join(f"`{c.name}` {c.graded}" for c in failing)
        return f"**{VERDICT_TEXT[verdict]}: {what}.** Next step: {action}"
    return f"**{VERDICT_TEXT[verdict]}.** Next step: {NEXT_STEP.get(verdict, 'see below')}."


def blocks(
    a: HealthAssessment,
    checks: Mapping[CheckName, CheckOutcome],
    verdict: Verdict,
    t: HealthThresholds,
    with_plots: bool = True,
) -> list[Block]:
    """The report's content, renderer-independent."""
    out: list[Block] = [
        Heading(f"Production health {a.day}: {VERDICT_TEXT[verdict]}", 1),
        Para(decision(a, checks, verdict)),
    ]
    ref = a.reference
    versions = ", ".join(a.model_versions) or "-"
    against = (
        f"reference: model {ref.model_version} on {ref.n_curated} curated documents."
        if ref
        else "no training reference to compare with."
    )
    out.append(
        Para(
            f"{a.n_modelled} documents predicted by model {versions} "
            f"(+{a.n_unmodelled} before any model); {against}"
        )
    )
    out.append(Para(_qa_line(a)))
    why = evidence(a, checks, t)
    if why:
        out += [Heading("Limits of this assessment"), Bullets(why)]
    w = a.signals
    if w is None:
        return out
    failing = [c for c in checks.values() if not c.passed]
    out.append(Heading("What changed"))
    out.append(
        Bullets(
            [f"**{c.severity}** `{c.name}`: {c.summary} ({c.levels})" for c in failing]
            or ["Nothing beyond thresholds among the checks assessed."]
        )
    )
    out.append(Heading("Likely cause and suggested action"))
    out.append(
        Bullets(
            [f"**{h.title}**{_share(h.share)}: {h.evidence}. *Action:* {h.action}" for h in a.hints]
            or ["No known cause stands out."]
        )
    )
    out += [Heading("Signals vs reference"), _signals_table(a, w, checks)]
    out += _accuracy(a, w, t)
    if a.files and a.files.drift:
        out.append(Para(f"Drift per feature, with distributions: [drift page]({a.files.drift})"))
    elif a.drift is not None and a.drift.skipped:
        out.append(Para(f"Drift not measured: {a.drift.skipped}."))
    if with_plots:
        out.append(Heading("Plots"))
        out += [Image(f"health-{i}.png", title, png) for i, (title, png) in enumerate(_plots(a, t))]
    return out


def _levels(checks: Mapping[CheckName, CheckOutcome], name: CheckName) -> str:
    c = checks.get(name)
    if c is None or not c.assessed:
        return "-"
    return f"{c.severity or 'within'}: {c.graded}"


def _qa_line(a: HealthAssessment) -> str:
    """The accepted-field accuracy the blind QA sample measured (or that none did yet)."""
    q = a.qa
    if q is None or not q.n:
        return "QA-measured accuracy of accepted fields: no QA answer for the model in use yet."
    return (
        f"QA-measured accuracy of accepted fields: {q.right} of {q.n} right "
        f"({q.accuracy:.1%}, 95 % interval {q.low:.3f}-{q.high:.3f}; strict {q.strict} of "
        f"{q.n}), target {q.target:.0%}."
    )


def _signals_table(
    a: HealthAssessment, w: WindowSignals, checks: Mapping[CheckName, CheckOutcome]
) -> Table:
    ref = a.reference
    rows = [
        ["automation rate", _pct(w.automation_rate), _pct(ref.automation_rate if ref else None)],
    ]
    if w.field_routing is not None:
        rows += [
            ["field automation (fields accepted)", _pct(w.field_routing.field_automation), "-"],
            ["touchless documents", _pct(w.field_routing.touchless_rate), "-"],
        ]
    rows += [
        [
            "predictions per document",
            _num(w.predictions_per_doc),
            _num(ref.predictions_per_doc if ref else None),
        ],
        [
            "missing required fields",
            _pct(w.missing_required_share),
            _pct(ref.missing_required_share if ref else None),
        ],
        [
            "mean OCR word confidence",
            _num(w.mean_ocr_confidence, ".1f"),
            _num(ref.mean_ocr_confidence if ref else None, ".1f"),
        ],
        ["bad scans", _pct(w.bad_scan_share), "0% (excluded from training)"],
        ["irrelevant-looking pages", _pct(w.irrelevant_share), "-"],
        [
            "median DPI",
            _num(w.dpi.p50 if w.dpi else None, ".0f"),
            _num(ref.dpi.p50 if ref and ref.dpi else None, ".0f"),
        ],
        [
            "values never seen in training",
            _pct(a.comparison.unseen.share if a.comparison else None),
            "-",
        ],
        ["values from the correction memory", _pct(w.memory_share), "-"],
    ]
    if a.drift is not None:
        rows.append(
            [
                "largest feature drift",
                a.drift.skipped or _num(a.drift.max_score),
                "0 = same distribution",
            ]
        )
    graded: dict[str, CheckName] = {
        "automation rate": "automation_drop",
        "values never seen in training": "unseen_values",
        "largest feature drift": "drift",
    }
    for row in rows:
        row.append(_levels(checks, graded[row[0]]) if row[0] in graded else "")
    return Table(["signal", "window", "reference", "graded (levels)"], rows)


def _accuracy(a: HealthAssessment, w: WindowSignals, t: HealthThresholds) -> list[Block]:
    gap = a.accuracy_gap
    if gap is None:
        return []
    conf = a.reference.confidence if a.reference else {}
    rows = [
        [
            f,
            _pct(w.estimated_accuracy.get(f)),
            _pct(w.model_estimated_accuracy.get(f)),
            _pct(conf.get(f)),
            _pct(g.estimated),
            _pct(g.realized),
            "-" if g.gap is None else f"{g.gap * 100:+.1f} pts",
            str(g.n),
        ]
        for f, g in gap.fields.items()
    ]
    few = (
        f" **Not enough checked documents** ({gap.n_docs} < {t.min_checked_docs}): the "
        "realized figures are indicative only."
        if gap.n_docs < t.min_checked_docs
        else ""
    )
    out: list[Block] = [
        Heading("Estimated vs realized accuracy"),
        Para(
            "Estimated accuracy is the mean calibrated confidence of the extracted values "
            "(no labels needed). Realized accuracy is measured on the documents humans "
            f"checked ({gap.sample}, {gap.n_docs} documents); the gap is realized minus "
            "estimated on those same documents." + few
        ),
        Table(
            [
                "field",
                "estimated (window)",
                "model only",
                "reference",
                "estimated (checked)",
                "realized (checked)",
                "gap",
                "n checked",
            ],
            rows,
        ),
    ]
    r = w.field_routing
    if r is not None:
        out.append(
            Para(
                f"Field-level routing: {r.field_automation:.0%} of {r.n_fields} fields accepted "
                f"(realized accuracy {_pct(r.accepted_accuracy)} on {r.n_accepted_checked} "
                f"checked), {r.touchless_rate:.0%} of {r.n_docs} documents touchless "
                f"(realized accuracy {_pct(r.touchless_accuracy)} on {r.n_touchless_checked} "
                "checked)."
            )
        )
    return out


def _plots(a: HealthAssessment, t: HealthThresholds) -> list[tuple[str, bytes]]:
    """(title, PNG) of the plots that have data."""
    out: list[tuple[str, bytes]] = []
    ref, w = a.reference, a.signals
    if a.trend:
        out.append(
            (
                "Automation rate trend",
                plots.automation_trend(
                    [p.day.isoformat()[5:] for p in a.trend],
                    [p.automation_rate for p in a.trend],
                    ref.automation_rate if ref else None,
                ),
            )
        )
    if w is None:
        return out
    if a.accuracy_gap is not None:
        bars: dict[str, dict[str, float | None]] = {}
        if ref is not None:
            bars["reference"] = dict(ref.confidence)
        bars["estimated"] = dict(w.estimated_accuracy)
        bars["realized"] = {f: g.realized for f, g in a.accuracy_gap.fields.items()}
        out.append(("Estimated vs realized accuracy", plots.accuracy_per_field(bars)))
    if a.drift is not None and a.drift.scores:
        crit = ks_critical(a.drift.n_reference, a.drift.n_window)
        warn = max(t.drift_warn, crit)
        out.append(("Feature drift", plots.drift_scores(a.drift.scores, warn)))
    if w.dpi_histogram and ref is not None and ref.dpi_histogram:
        labels = [f"<{e}" for e in DPI_EDGES[1:]]
        series = {"reference": ref.dpi_histogram, "window": w.dpi_histogram}
        out.append(
            (
                "DPI distribution",
                plots.binned_shares(labels, series, "DPI distribution (share of documents)"),
            )
        )
    if w.field_confidence_histogram:
        mids = [(x + y) / 2 for x, y in pairwise(CONF_EDGES)]
        out.append(
            (
                "Confidence distribution",
                plots.binned_lines(
                    mids, w.field_confidence_histogram, "Model confidence per field (window)"
                ),
            )
        )
    return out


def drift_blocks(
    a: HealthAssessment,
    reference: pl.DataFrame | None,
    window: pl.DataFrame | None,
    t: HealthThresholds,
) -> list[Block]:
    """The day's drift page: per feature its drift score, method and medians on both sides,
    the route's prediction drift, the score bars and the most drifted distributions; links
    back to the report and to deepchecks' interactive page when it was saved."""
    out: list[Block] = [Heading(f"Drift {a.day}: the day's documents vs the training reference", 1)]
    links = [f"[health report]({a.files.html})"] if a.files else []
    if a.files and a.files.deepchecks:
        links.append(f"[deepchecks' interactive page]({a.files.deepchecks})")
    if links:
        out.append(Para("See also: " + ", ".join(links) + "."))
    d = a.drift
    if d is None or d.skipped:
        out.append(Para(f"Drift not measured: {d.skipped if d else 'no reference'}."))
        return out
    crit = ks_critical(d.n_reference, d.n_window)
    warn, error = max(t.drift_warn, crit), max(t.drift_error, crit)
    out.append(
        Para(
            f"{d.n_window} documents of the day against {d.n_reference} reference documents. "
            "Per-document features: Kolmogorov-Smirnov statistic (0 = same distribution, "
            f"1 = disjoint). WARN at {warn:.2f}, ERROR at {error:.2f} (never below "
            f"{crit:.2f}, the statistic's chance level at alpha 0.001 for these sample sizes)."
        )
    )
    rows = []
    for name, score in sorted(d.scores.items(), key=lambda kv: -kv[1]):
        level = "ERROR" if score >= error else "WARN" if score >= warn else "-"
        rows.append(
            [
                name,
                f"{score:.2f}",
                d.methods.get(name, "-"),
                _num(_median(reference, name)),
                _num(_median(window, name)),
                level,
            ]
        )
    if d.prediction_drift is not None:
        rows.append(["route (auto/review)", f"{d.prediction_drift:.2f}", "Cramer's V", "", "", ""])
    out.append(
        Table(["feature", "drift", "method", "reference median", "window median", "level"], rows)
    )
    unmeasured = sorted(k for k, m in d.methods.items() if k not in d.scores)
    if unmeasured:
        out.append(Para("Not measured (too few values): " + ", ".join(unmeasured) + "."))
    out.append(Image("drift-scores.png", "Feature drift", plots.drift_scores(d.scores, warn)))
    top = [k for k, _ in d.top(DRIFT_PLOTTED)]
    if reference is not None and window is not None and top:
        samples = {k: (_values(reference, k), _values(window, k)) for k in top}
        out.append(Image("drift-distributions.png", "Distributions", plots.distributions(samples)))
    return out


def _values(df: pl.DataFrame, col: str) -> list[float]:
    if col not in df.columns:
        return []
    return [float(v) for v in df[col].cast(pl.Float64).drop_nulls().drop_nans().to_list()]


def _median(df: pl.DataFrame | None, col: str) -> float | None:
    vals = _values(df, col) if df is not None else []
    return float(pl.Series(vals).median()) if vals else None  # type: ignore[arg-type]
