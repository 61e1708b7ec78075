"""The manager-facing evaluation report's content: the decision first (promote, or keep
production with the reasons and the next step, with a warning when the golden set is too
small for the gate), then the summary, per-field scores with intervals (Wilson 95 % for every
proportion, ``intervals``; a proportion of nothing is written as absent), automation,
calibration and error analysis, as blocks (rendered by
``docasset.core.reporting.blocks`` as Markdown for the Dagster UI and ``report.md``, and as
standalone ``report.html``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docasset.core.evaluation.error_analysis import DocErrors, FieldConfusion
from docasset.core.evaluation.evaluate import (
    GoldenScores,
    ModelEvaluation,
    comparison_figures,
    doc_confidence,
    doc_right,
)
from docasset.core.evaluation.gate import GateConfig, GateFinding
from docasset.core.evaluation.intervals import min_documents, proportion
from docasset.core.evaluation.metrics import OPERATOR_SECONDS_CONVENTION, FieldScore
from docasset.core.extraction.fields import DocType
from docasset.core.files import atomic_write
from docasset.core.reporting import plots
from docasset.core.reporting.blocks import (
    Block,
    Bullets,
    Heading,
    Image,
    Para,
    Table,
    to_html,
    to_markdown,
)
from docasset.core.tunable import tunable

WORST_COLUMNS = [
    "document",
    "route",
    "field",
    "predicted",
    "truth",
    "OCR at the truth",
    "OCR at the prediction",
]


@dataclass(frozen=True)
class ReportConfig:
    """What the evaluation report shows."""

    bootstrap_samples: int = tunable(
        1000,
        "Bootstrap resamples of the golden documents for the 95 % intervals of P/R/F1.",
        ge=1,
    )
    worst_documents: int = tunable(10, "Worst golden documents shown in the error analysis.", ge=0)
    snippet_chars: int = tunable(40, "OCR characters shown either side of each error.", ge=0)


def _f(v: float | None, digits: int = 3) -> str:
    return "" if v is None else f"{v:.{digits}f}"


def _ci(scores: GoldenScores | None, name: str, metric: str = "f1") -> str:
    """``0.912 [0.85, 0.97]``: the value and its interval. Precision and recall (proportions
    of counted values) get the Wilson interval of their counts; F1 (not a proportion) its
    percentile-bootstrap interval over documents, or, when every resample gave the same
    value (a small set with no error), says so instead of a zero-width interval."""
    if scores is None:
        return ""
    src = scores.micro if name == "micro" else scores.fields[name]
    if metric in ("precision", "recall"):
        n = src.tp + (src.fp if metric == "precision" else src.fn)
        what = "no predicted value" if metric == "precision" else "no true value"
        return proportion(src.tp, n, what)
    value = src.f1
    ci = scores.ci.get(name, {}).get(metric)
    if ci and ci[0] == ci[1]:
        return f"{value:.3f} (no spread over {scores.n_docs} documents: see P, R)"
    return f"{value:.3f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


NEXT_STEP = {
    "f1_drop": "open the error analysis below for {field}: correct or add documents like the "
    "newly wrong ones, retrain, and evaluate the new candidate",
    "automation_drop": "the candidate sends more documents to operators: compare the "
    "calibration and automation sections; retrain with more corrections before promoting",
    "field_automation_drop": "the candidate accepts fewer fields: compare the calibration "
    "section; retrain with more corrections before promoting",
    "latency": "profile the candidate (latency p95 above); fix its speed, then evaluate again",
}


def decision_blocks(
    candidate: str,
    production: str | None,
    passed: bool,
    reasons: list[str],
    findings: tuple[GateFinding, ...],
    n_golden: int,
    gate: GateConfig,
) -> list[Block]:
    """The decision line (what happens to production, why, what next) and, when the golden
    set is smaller than the gate needs, a warning saying the minimum and how it is chosen."""
    if passed and production is None:
        line = f"**Decision: promote {candidate}** (the first production model)."
    elif passed:
        line = (
            f"**Decision: promote {candidate}** (production moves from {production} to "
            f"{candidate}): no required field, automation or latency regressed beyond its "
            "tolerance."
        )
    else:
        kinds: dict[str, list[str]] = {}
        for f in findings:
            kinds.setdefault(f.kind, []).append(f.field or "")
        steps = [NEXT_STEP[k].format(field=", ".join(fields)) for k, fields in kinds.items()]
        line = (
            f"**Decision: keep {production}** ({candidate} is blocked: {len(reasons)} "
            f"regression(s), listed below). Next step: {'; '.join(steps) or 'see the reasons'}."
        )
    out: list[Block] = [Para(line)]
    need = min_documents(gate.min_net_docs, gate.automation_tolerance)
    if n_golden < need:
        out.append(
            Para(
                f"**Warning: {n_golden} golden documents are too few for this decision** "
                f"(minimum {need}). The gate calls a regression only when at least "
                f"{gate.min_net_docs} more documents went wrong than right; on {n_golden} "
                f"documents that is a change of {gate.min_net_docs / max(n_golden, 1):.0%}, "
                f"more than the {gate.automation_tolerance:.0%} it is set to catch "
                f"(minimum = {gate.min_net_docs} / {gate.automation_tolerance:g}). Correct "
                "more documents of the golden split before trusting a pass."
            )
        )
    return out


def _delta(c: float, p: float | None) -> str:
    return "" if p is None else f"{c - p:+.3f}"


def _curve(doctype: DocType, ev: ModelEvaluation) -> list[tuple[float, bool]]:
    return [
        (doc_confidence(doctype, p), doc_right(doctype, p, ev.truths.get(p.doc_id, {})))
        for p in ev.predictions
    ]


def build_report(
    doctype: DocType,
    cand: ModelEvaluation,
    prod: ModelEvaluation | None,
    passed: bool,
    reasons: list[str],
    analysis: tuple[list[DocErrors], list[FieldConfusion]],
    golden_frozen: bool,
    findings: tuple[GateFinding, ...] = (),
    gate: GateConfig | None = None,
    certification: dict[str, dict[str, Any]] | None = None,
    production_certification: dict[str, dict[str, Any]] | None = None,
    shadow: dict[str, Any] | None = None,
    production_qa: dict[str, Any] | None = None,
) -> list[Block]:
    """Every section of the report, candidate against production (if any); ``findings``:
    the gate's (they pick the next step), ``gate``: its tolerances (the golden-set minimum);
    ``certification``: the candidate's per-field certification (``model.json``); ``shadow``:
    the shadow comparison (``candidate.shadow_summary``)."""
    cs, ps = cand.scores, prod.scores if prod else None
    target = cs.target_precision
    n = cs.n_docs
    blocks: list[Block] = [
        Heading(
            f"Evaluation: candidate {cand.version} vs production "
            f"{prod.version if prod else '(none)'}",
            1,
        ),
        *decision_blocks(
            cand.version or "the candidate",
            prod.version if prod else None,
            passed,
            reasons,
            findings,
            n,
            gate or GateConfig(),
        ),
        Para(
            f"Golden set: {n} {doctype.name} documents"
            f" ({'frozen' if golden_frozen else 'not frozen yet'}, never trained on). "
            f"Verdict of the accuracy_regression gate: **{'PASS' if passed else 'BLOCKED'}**."
        ),
        Bullets(reasons),
        Heading("Summary"),
    ]
    rows = [
        ("micro F1 (95 % CI)", _ci(cs, "micro"), _ci(ps, "micro"), "micro"),
        ("fields accepted (no operator check)", *_props(cs, ps, "field_automation"),
         "field_automation"),
        ("accuracy of accepted fields", *_props(cs, ps, "accepted_field_accuracy"),
         "accepted_field_accuracy"),
        ("touchless documents (no field to check)", *_props(cs, ps, "automation_rate"),
         "automation_rate"),
        ("accuracy of touchless documents", *_props(cs, ps, "touchless_accuracy"),
         "touchless_accuracy"),
        ("operator seconds per document (estimate)", None, None, "operator_seconds_per_doc"),
        (f"documents automatable at {target:.0%} accuracy, ranked by the least confident "
         "required field (thresholds aside)", *_props(cs, ps, "automation_at_target"),
         "automation_at_target"),
        ("expected calibration error (lower is better)", None, None, "ece"),
    ]  # fmt: skip
    table_rows = []
    for label, ctext, ptext, key in rows:
        cval, pval = _summary(cs, key), None if ps is None else _summary(ps, key)
        delta = _delta(cval, pval) if cval is not None and pval is not None else ""
        table_rows.append([label, ctext or _f(cval), ptext or _f(pval), delta])
    table_rows += [
        [
            "latency p50 / p95 per document (s, OCR excluded)",
            f"{cand.latency_p50:.4f} / {cand.latency_p95:.4f}",
            f"{prod.latency_p50:.4f} / {prod.latency_p95:.4f}" if prod else "",
            "",
        ],
        [
            "throughput (documents / s, one core)",
            f"{cand.docs_per_second:.1f}",
            f"{prod.docs_per_second:.1f}" if prod else "",
            "",
        ],
    ]
    blocks.append(Table(["measure", "candidate", "production", "change"], table_rows))
    blocks += [
        Heading("Per field"),
        Table(
            [
                "field",
                "required",
                "precision",
                "recall",
                "F1",
                "production F1",
                "ΔF1",
                "accepted",
                "accepted accuracy",
            ],
            [
                [
                    spec.name,
                    "yes" if spec.required else "",
                    _ci(cs, spec.name, "precision"),
                    _ci(cs, spec.name, "recall"),
                    _ci(cs, spec.name),
                    _ci(ps, spec.name),
                    _delta(cs.f1(spec.name), ps.f1(spec.name) if ps else None),
                    _field_prop(cs.fields[spec.name], "automation"),
                    _field_prop(cs.fields[spec.name], "accepted_accuracy"),
                ]
                for spec in doctype.fields
            ],
        ),
        Para(
            "[low, high]: 95 % intervals. Proportions (precision, recall, shares accepted, "
            "accuracies) carry the Wilson score interval of their counts (k/n); F1 the "
            "percentile bootstrap over golden documents. With few golden documents they are "
            "wide; the gate counts documents that flipped, not just the F1 difference. A "
            "share of nothing (no accepted field, no touchless document) is not shown as a "
            "number."
        ),
        Image(
            "f1.png",
            "per-field F1",
            plots.field_f1(doctype.names, _f1_figures(cs), _f1_figures(ps) if ps else None),
        ),
        *certification_blocks(doctype, certification, production_certification),
        *qa_blocks(production_qa),
        *shadow_blocks(n, cs, ps, shadow),
        Heading("Automation"),
        Para(
            "Each field is accepted when its confidence clears the field's threshold (fitted on "
            "held-out outcomes for the field precision target) and no check blocks it; only "
            "the other fields go to an operator. Operator seconds follow "
            f"{OPERATOR_SECONDS_CONVENTION}. "
            f"A document is touchless when no field is to check and its document confidence "
            f"clears the document threshold (fitted for {target:.0%} document accuracy). "
            f"Blocked documents by kind: {cs.blocker_docs}. "
            "The curve ranks golden documents by "
            "their least confident required field: how much could be automated at which accuracy. "
            "This is the model alone: in production the correction memory also fills fields of "
            "known vendors (not applied here, since the golden documents' own corrections feed "
            "it)."
        ),
        Image(
            "automation.png",
            "automation vs accuracy",
            plots.automation_tradeoff(
                {"candidate": _curve(doctype, cand)}
                | ({"production": _curve(doctype, prod)} if prod else {}),
                _operating("candidate", cs) | (_operating("production", ps) if ps else {}),
                target,
            ),
        ),
        Heading("Calibration"),
        Image(
            "calibration.png",
            "reliability diagram",
            plots.reliability(
                {"candidate": (cs.reliability, cs.ece)}
                | ({"production": (ps.reliability, ps.ece)} if ps else {})
            ),
        ),
    ]
    blocks += _error_blocks(*analysis)
    return blocks


ABSENT = {
    "field_automation": "no field scored",
    "accepted_field_accuracy": "no accepted fields",
    "automation_rate": "no document",
    "touchless_accuracy": "no touchless document",
    "automation_at_target": "no document",
}


def _f1_figures(s: GoldenScores) -> plots.F1Figures:
    """Per-field and micro F1 with their bootstrap intervals, for the F1 plot."""
    return {n: s.f1(n) for n in [*s.fields, "micro"]}, s.ci


def _summary(s: GoldenScores, key: str) -> float | None:
    """A summary row's value (None: a share of nothing)."""
    values: dict[str, float | None] = {
        "micro": s.micro.f1,
        "field_automation": s.field_automation,
        "accepted_field_accuracy": s.accepted_field_accuracy,
        "automation_rate": s.automation_rate,
        "touchless_accuracy": s.touchless_accuracy,
        "operator_seconds_per_doc": s.operator_seconds_per_doc,
        "automation_at_target": s.automation_at_target,
        "ece": s.ece,
    }
    return values[key]


def _counts(s: GoldenScores, key: str) -> tuple[int, int]:
    """(k, n) behind a summary proportion."""
    m = s.micro
    counts = {
        "field_automation": (m.accepted, m.n),
        "accepted_field_accuracy": (m.accepted_right, m.accepted),
        "automation_rate": (s.n_auto, s.n_docs),
        "touchless_accuracy": (s.n_auto_correct, s.n_auto),
        "automation_at_target": (round(s.automation_at_target * s.n_docs), s.n_docs),
    }
    return counts[key]


def _props(cs: GoldenScores, ps: GoldenScores | None, key: str) -> tuple[str | None, str | None]:
    """A summary proportion of the candidate and production, with counts and intervals."""

    def one(scores: GoldenScores | None) -> str | None:
        return None if scores is None else proportion(*_counts(scores, key), ABSENT[key])

    return one(cs), one(ps)


def _field_prop(s: FieldScore, key: str) -> str:
    """A field's share accepted, or its accepted accuracy, with counts and interval."""
    if key == "automation":
        return proportion(s.accepted, s.n, "no document", 2)
    return proportion(s.accepted_right, s.accepted, "none accepted")


def _operating(label: str, scores: GoldenScores) -> dict[str, tuple[float, float]]:
    """The model's operating point on the automation plot; none when it automated nothing
    (an accuracy of no document is not a point)."""
    if not scores.n_auto:
        return {}
    return {label: (scores.automation_rate, scores.auto_accuracy)}


def _error_blocks(docs: list[DocErrors], fields: list[FieldConfusion]) -> list[Block]:
    out: list[Block] = [Heading("Error analysis (candidate)")]
    if not fields:
        return [*out, Para("No errors on the golden set.")]
    out += [
        Heading("Most confused fields", 3),
        Table(
            ["field", "errors", "wrong value", "missed", "invented", "took the value of"],
            [
                [
                    c.field,
                    str(c.errors),
                    str(c.wrong),
                    str(c.missed),
                    str(c.spurious),
                    ", ".join(f"{k} ({v})" for k, v in c.took_value_of.most_common()),
                ]
                for c in fields
            ],
        ),
        Heading("Worst documents", 3),
        Para(
            "Automated-and-wrong (silent) errors first. ⟦…⟧ marks the true value in the OCR "
            "text and the predicted span, after the page it is on (p. 1 is the first); ⏎ is a "
            "line break."
        ),
        Table(
            WORST_COLUMNS,
            [
                [
                    d.doc_id,
                    d.route,
                    e.field,
                    e.predicted or "—",
                    e.truth or "—",
                    _on_page(e.truth_page, e.truth_context) or "(not in the OCR text)",
                    _on_page(e.predicted_page, e.predicted_context),
                ]
                for d in docs
                for e in d.errors
            ],
            frozenset({5, 6}),
        ),
    ]
    return out


def write_report(
    directory: Path, blocks: list[Block], data: dict[str, Any], title: str
) -> dict[str, Path]:
    """Write ``report.md`` (PNGs beside it), standalone ``report.html`` and ``report.json``
    into ``directory``; returns their paths by format."""
    directory.mkdir(parents=True, exist_ok=True)
    for b in blocks:
        if isinstance(b, Image):
            atomic_write(directory / b.name, b.png)
    paths = {
        "md": directory / "report.md",
        "html": directory / "report.html",
        "json": directory / "report.json",
    }
    atomic_write(paths["md"], to_markdown(blocks, lambda img: img.name).encode())
    atomic_write(paths["html"], to_html(blocks, title).encode())
    atomic_write(paths["json"], json.dumps(data, indent=2, default=str).encode())
    return paths


def _on_page(page: int | None, context: str) -> str:
    """An error's context after the page it is on ("p. 2: ..."), or as is without one."""
    return f"p. {page + 1}: {context}" if page is not None and context else context


def certification_blocks(
    doctype: DocType,
    certs: dict[str, dict[str, Any]] | None,
    production: dict[str, dict[str, Any]] | None = None,
) -> list[Block]:
    """The "Certified thresholds" section: per field the threshold (or none), the checked
    values behind it, their precision's lower bound, where the evidence came from and what is
    missing. Empty for models trained before certification."""
    if not certs:
        return []
    any_cert = next(iter(certs.values()))
    conf = any_cert.get("confidence", 0.0)
    claim = (
        f"one-sided {conf:.0%} Clopper-Pearson lower bound"
        if conf > 0
        else "point estimate (routing.certainty 0: UNCERTIFIED)"
    )
    rows = []
    for spec in doctype.fields:
        c = certs.get(spec.name)
        if c is None:
            continue
        p = (production or {}).get(spec.name)
        rows.append(
            [
                spec.name,
                f"{c['threshold']:.3f}" if c["certified"] else "none",
                str(c["evidence"]),
                str(p["evidence"]) if p else "",
                f"{c['accepted']} ({c['errors']} wrong)",
                f"{c['lower_bound']:.4f}",
                ", ".join(f"{k} {v}" for k, v in sorted(c.get("by_source", {}).items())),
                "" if c["certified"] else _missing(c),
            ]
        )
    return [
        Heading("Certified thresholds"),
        Para(
            f"A field is accepted by the model alone only from a certified threshold: the "
            f"lowest confidence whose checked values at or above it have a {claim} of "
            f"precision >= the field target ({any_cert.get('target', 0):.0%}). Evidence is "
            "pooled from every retrain's held-out values, QA samples of accepted fields and "
            "operator checks (one per document and field, re-scored by this model). With no "
            "error, 99 % at 95 % needs 299 checked values."
        ),
        Table(
            [
                "field",
                "threshold",
                "evidence",
                "production evidence",
                "accepted at threshold",
                "lower bound",
                "sources",
                "missing",
            ],
            rows,
        ),
    ]


def _missing(c: dict[str, Any]) -> str:
    if c["missing"] is None:
        return "errors at every cut: more evidence alone cannot certify it"
    top = c.get("top_error")
    if top is not None and not c["accepted"]:  # the most confident value is a wrong one
        return (
            f"the most confident value (score {top:.2f}) is wrong: a cut above it needs "
            f"{c['missing']} checked values with no error"
        )
    return f"needs {c['missing']} more checked values with no error"


def qa_blocks(qa: dict[str, Any] | None) -> list[Block]:
    """Production's accepted-field accuracy as its blind QA sample measured it."""
    if qa is None:
        return []
    if not qa["n"]:
        return [Para(f"QA-measured accuracy of production {qa['version']}: no QA answer yet.")]
    low, high = qa["interval"]
    return [
        Para(
            f"QA-measured accuracy of production {qa['version']}'s accepted fields (blind QA "
            f"sample): {qa['right']} of {qa['n']} right ({qa['accuracy']:.1%}, 95 % interval "
            f"{low:.3f}-{high:.3f}; strict {qa['strict_accuracy']:.1%})."
        )
    ]


def shadow_blocks(
    n_golden: int,
    cs: GoldenScores,
    ps: GoldenScores | None,
    shadow: dict[str, Any] | None,
) -> list[Block]:
    """ "What each comparison rests on": the golden set and the shadow set (checked documents
    production never trained on and the candidate only held out), paired per document."""
    if ps is None:
        return []
    keys = ("micro_f1", "field_automation", "accepted_field_accuracy")
    golden_c, golden_p = comparison_figures(cs), comparison_figures(ps)
    rows = [["golden (frozen)", str(n_golden), *_pair(golden_c, golden_p, keys), ""]]
    if shadow:
        rows.append(
            [
                "shadow (checked since production, never trained on)",
                str(shadow["n_docs"]),
                *_pair(shadow["candidate"], shadow["production"], keys),
                f"{shadow['docs_better']} better / {shadow['docs_worse']} worse",
            ]
        )
    else:
        rows.append(["shadow", "0", "", "", "", "no checked document production never saw"])
    return [
        Heading("What each comparison rests on"),
        Table(
            [
                "comparison",
                "documents",
                "micro F1 (candidate / production)",
                "fields accepted",
                "accepted accuracy",
                "paired per document (required fields right)",
            ],
            rows,
        ),
    ]


def _pair(c: dict[str, Any], p: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    return [f"{_f(c.get(k))} / {_f(p.get(k))}" for k in keys]
