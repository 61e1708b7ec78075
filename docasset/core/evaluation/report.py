"""The manager-facing evaluation report's content: summary, per-field scores with intervals,
automation, calibration and error analysis, as blocks (rendered by
``docasset.core.reporting.blocks`` as Markdown for the Dagster UI and ``report.md``, and as
standalone ``report.html``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docasset.core.evaluation.error_analysis import DocErrors, FieldConfusion
from docasset.core.evaluation.evaluate import ModelEvaluation, doc_confidence, doc_right
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
    )
    worst_documents: int = tunable(10, "Worst golden documents shown in the error analysis.")
    snippet_chars: int = tunable(40, "OCR characters shown either side of each error.")


def _f(v: float | None, digits: int = 3) -> str:
    return "" if v is None else f"{v:.{digits}f}"


def _ci(scores: dict[str, Any] | None, name: str, metric: str = "f1") -> str:
    """``0.912 [0.85, 0.97]``: the value and its bootstrap interval."""
    if scores is None:
        return ""
    value = scores["micro" if name == "micro" else "fields"]
    value = value[metric] if name == "micro" else value[name][metric]
    ci = (scores.get("ci") or {}).get(name, {}).get(metric)
    return f"{value:.3f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


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
) -> list[Block]:
    """Every section of the report, candidate against production (if any)."""
    cs, ps = cand.scores, prod.scores if prod else None
    target = cs.get("target_precision", 0.98)
    n = cs["n_docs"]
    blocks: list[Block] = [
        Heading(
            f"Evaluation: candidate {cand.version} vs production "
            f"{prod.version if prod else '(none)'}",
            1,
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
        ("micro F1 (95 % CI)", _ci(cs, "micro"), _ci(ps, "micro"), cs["micro"]["f1"], "micro"),
        ("fields accepted (no operator check)", None, None, cs.get("field_automation"),
         "field_automation"),
        ("accuracy of accepted fields", None, None, cs.get("accepted_field_accuracy"),
         "accepted_field_accuracy"),
        ("touchless documents (no field to check)", None, None, cs["automation_rate"],
         "automation_rate"),
        ("accuracy of touchless documents", None, None, cs.get("touchless_accuracy"),
         "touchless_accuracy"),
        ("operator seconds per document (estimate)", None, None,
         cs.get("operator_seconds_per_doc"), "operator_seconds_per_doc"),
        (f"automation achievable at {target:.0%} precision", None, None,
         cs["automation_at_target"], "automation_at_target"),
        ("expected calibration error (lower is better)", None, None, cs["ece"], "ece"),
    ]  # fmt: skip
    table_rows = []
    for label, ctext, ptext, cval, key in rows:
        pval = None if ps is None else (ps["micro"]["f1"] if key == "micro" else ps.get(key))
        delta = _delta(cval, pval) if cval is not None else ""
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
                    _delta(
                        cs["fields"][spec.name]["f1"],
                        ps["fields"][spec.name]["f1"] if ps else None,
                    ),
                    _f(cs["fields"][spec.name].get("automation"), 2),
                    _f(cs["fields"][spec.name].get("accepted_accuracy")),
                ]
                for spec in doctype.fields
            ],
        ),
        Para(
            "[low, high]: 95 % percentile-bootstrap intervals over golden documents. With few "
            "golden documents they are wide; the gate counts documents that flipped, not just "
            "the F1 difference."
        ),
        Image("f1.png", "per-field F1", plots.field_f1(doctype.names, cs, ps)),
        Heading("Automation"),
        Para(
            "Each field is accepted when its confidence clears the field's threshold (fitted on "
            "held-out outcomes for the field precision target) and no check blocks it; only "
            "the other fields go to an operator. Operator seconds follow "
            f"{cs.get('operator_seconds_convention', 'the metrics convention')}. "
            f"A document is touchless when no field is to check and its document confidence "
            f"clears the document threshold (fitted for {target:.0%} document accuracy). "
            f"Blocked documents by kind: {cs.get('blocker_docs') or {}}. "
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
                {"candidate": (cs["automation_rate"], cs["auto_accuracy"])}
                | ({"production": (ps["automation_rate"], ps["auto_accuracy"])} if ps else {}),
                target,
            ),
        ),
        Heading("Calibration"),
        Image(
            "calibration.png",
            "reliability diagram",
            plots.reliability(
                {"candidate": (cs["reliability"], cs["ece"])}
                | ({"production": (ps["reliability"], ps["ece"])} if ps else {})
            ),
        ),
    ]
    blocks += _error_blocks(*analysis)
    return blocks


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
