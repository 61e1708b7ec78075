"""The production health report a manager reads in two minutes: one list of report blocks
(``docasset.core.reporting.blocks``) rendered as Markdown (Dagster UI) and a standalone HTML
file, with the plots of ``docasset.core.reporting.plots`` embedded.

Order: verdict, what changed (failing checks), likely causes with suggested actions, the
numbers against the reference, estimated vs realized accuracy, then the plots.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from docasset.core.monitoring.checks import CheckOutcome
from docasset.core.monitoring.health import CONF_EDGES, DPI_EDGES
from docasset.core.reporting import plots
from docasset.core.reporting.blocks import Block, Bullets, Heading, Image, Para, Table


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _num(x: float | None, fmt: str = ".2f") -> str:
    return "-" if x is None else format(x, fmt)


def verdict(checks: Mapping[str, CheckOutcome]) -> str:
    """``ERROR``, ``WARN`` or ``OK``: the worst check severity."""
    sev = {c.severity for c in checks.values()}
    return "ERROR" if "ERROR" in sev else "WARN" if "WARN" in sev else "OK"


def blocks(
    s: Mapping[str, Any], checks: Mapping[str, CheckOutcome], with_plots: bool = True
) -> list[Block]:
    """The report's content, renderer-independent."""
    out: list[Block] = [Heading(f"Production health {s['day']}: {verdict(checks)}", 1)]
    ref = s.get("reference") or {}
    out.append(
        Para(
            f"{s.get('n_modelled', 0)} documents predicted by model "
            f"{', '.join(s.get('model_versions') or ['-'])} "
            f"(+{s.get('n_unmodelled', 0)} before any model); reference: model "
            f"{s.get('reference_version') or '-'} on {sum((ref.get('n_docs') or {}).values())} "
            "curated documents."
        )
    )
    if s.get("status"):
        out.append(Para(str(s["status"])))
        return out
    failing = [c for c in checks.values() if not c.passed]
    out.append(Heading("What changed"))
    out.append(
        Bullets(
            [
                f"**{c.severity}** `{c.name}`: {c.description.split('. Likely cause')[0]}"
                for c in failing
            ]
            or ["Nothing beyond thresholds: every health check passed."]
        )
    )
    hints = s.get("hints") or []
    out.append(Heading("Likely cause and suggested action"))
    out.append(
        Bullets(
            [
                f"**{h['cause'].replace('_', ' ')}** ({h['share']:.0%} of documents): "
                f"{h['evidence']}. *Action:* {h['action']}"
                for h in hints
            ]
            or ["No known cause stands out."]
        )
    )
    out.append(Heading("Signals vs reference"))
    rows = [
        ["automation rate", _pct(s.get("automation_rate")), _pct(ref.get("automation_rate"))],
        [
            "predictions per document",
            _num(s.get("predictions_per_doc")),
            _num(ref.get("predictions_per_doc")),
        ],
        [
            "missing required fields",
            _pct(s.get("missing_required_share")),
            _pct(ref.get("missing_required_share")),
        ],
        [
            "mean OCR word confidence",
            _num(s.get("mean_ocr_confidence"), ".1f"),
            _num(ref.get("mean_ocr_confidence"), ".1f"),
        ],
        ["bad scans", _pct(s.get("bad_scan_share")), "0% (excluded from training)"],
        ["irrelevant-looking pages", _pct(s.get("irrelevant_share")), "-"],
        [
            "median DPI",
            _num((s.get("dpi") or {}).get("p50"), ".0f"),
            _num((ref.get("dpi") or {}).get("p50"), ".0f"),
        ],
        ["values never seen in training", _pct(s.get("unseen_share")), "-"],
        ["values from the correction memory", _pct(s.get("memory_share")), "-"],
    ]
    drift = s.get("drift") or {}
    if drift:
        rows.append(
            [
                "largest feature drift",
                drift.get("skipped") or _num(drift.get("max_score")),
                "0 = same distribution",
            ]
        )
    out.append(Table(["signal", "window", "reference"], rows))
    out.append(Heading("Estimated vs realized accuracy"))
    gap = s.get("accuracy_gap") or {}
    est = s.get("estimated_accuracy") or {}
    mest = s.get("model_estimated_accuracy") or {}
    conf = ref.get("confidence") or {}
    arows = []
    for f, g in (gap.get("fields") or {}).items():
        arows.append(
            [
                f,
                _pct(est.get(f)),
                _pct(mest.get(f)),
                _pct(conf.get(f)),
                _pct(g["estimated"]),
                _pct(g["realized"]),
                "-" if g["gap"] is None else f"{g['gap'] * 100:+.1f} pts",
                str(g["n"]),
            ]
        )
    out.append(
        Para(
            "Estimated accuracy is the mean calibrated confidence of the extracted values "
            "(no labels needed). Realized accuracy is measured on the documents humans "
            f"checked ({gap.get('sample', '-')}, {gap.get('n_docs', 0)} documents); the gap "
            "is realized minus estimated on those same documents."
        )
    )
    out.append(
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
            arows,
        )
    )
    if drift.get("html_path"):
        out.append(Para(f"Drift details (deepchecks): `{drift['html_path']}`"))
    if with_plots:
        out.append(Heading("Plots"))
        out += [
            Image(f"health-{i}.png", title, png)
            for i, (title, png) in enumerate(plots.health_figures(s, DPI_EDGES, CONF_EDGES))
        ]
    return out
