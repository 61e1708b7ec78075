"""The production health report a manager reads in two minutes: Markdown (Dagster UI) and a
standalone HTML file, both built from one list of blocks, with matplotlib plots embedded as
base64 PNG data URIs.

Order: verdict, what changed (failing checks), likely causes with suggested actions, the
numbers against the reference, estimated vs realized accuracy, then the plots.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

from docasset.core.monitoring.health import CONF_EDGES, DPI_EDGES, CheckOutcome

Block = tuple[str, Any]  # ("h1"|"h2"|"p"|"ul"|"table"|"img", payload)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _num(x: float | None, fmt: str = ".2f") -> str:
    return "-" if x is None else format(x, fmt)


def verdict(checks: Mapping[str, CheckOutcome]) -> str:
    """``ERROR``, ``WARN`` or ``OK``: the worst check severity."""
    sev = {c.severity for c in checks.values()}
    return "ERROR" if "ERROR" in sev else "WARN" if "WARN" in sev else "OK"


def blocks(
    s: Mapping[str, Any], checks: Mapping[str, CheckOutcome], plots: bool = True
) -> list[Block]:
    """The report's content, renderer-independent."""
    out: list[Block] = [("h1", f"Production health {s['day']}: {verdict(checks)}")]
    ref = s.get("reference") or {}
    out.append(
        (
            "p",
            f"{s.get('n_modelled', 0)} documents predicted by model "
            f"{', '.join(s.get('model_versions') or ['-'])} "
            f"(+{s.get('n_unmodelled', 0)} before any model); reference: model "
            f"{s.get('reference_version') or '-'} on {sum((ref.get('n_docs') or {}).values())} "
            "curated documents.",
        )
    )
    if s.get("status"):
        out.append(("p", str(s["status"])))
        return out
    failing = [c for c in checks.values() if not c.passed]
    out.append(("h2", "What changed"))
    out.append(
        (
            "ul",
            [
                f"**{c.severity}** `{c.name}`: {c.description.split('. Likely cause')[0]}"
                for c in failing
            ]
            or ["Nothing beyond thresholds: every health check passed."],
        )
    )
    hints = s.get("hints") or []
    out.append(("h2", "Likely cause and suggested action"))
    out.append(
        (
            "ul",
            [
                f"**{h['cause'].replace('_', ' ')}** ({h['share']:.0%} of documents): "
                f"{h['evidence']}. *Action:* {h['action']}"
                for h in hints
            ]
            or ["No known cause stands out."],
        )
    )
    out.append(("h2", "Signals vs reference"))
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
    out.append(("table", (["signal", "window", "reference"], rows)))
    out.append(("h2", "Estimated vs realized accuracy"))
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
        (
            "p",
            "Estimated accuracy is the mean calibrated confidence of the extracted values "
            "(no labels needed). Realized accuracy is measured on the documents humans "
            f"checked ({gap.get('sample', '-')}, {gap.get('n_docs', 0)} documents); the gap "
            "is realized minus estimated on those same documents.",
        )
    )
    out.append(
        (
            "table",
            (
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
            ),
        )
    )
    if drift.get("html_path"):
        out.append(("p", f"Drift details (deepchecks): `{drift['html_path']}`"))
    if plots:
        out.append(("h2", "Plots"))
        out += [("img", (title, png)) for title, png in figures(s)]
    return out


def to_markdown(bl: Sequence[Block]) -> str:
    """Markdown of the blocks (images as data-URI links)."""
    lines: list[str] = []
    for kind, payload in bl:
        if kind == "h1":
            lines += [f"# {payload}", ""]
        elif kind == "h2":
            lines += [f"## {payload}", ""]
        elif kind == "p":
            lines += [payload, ""]
        elif kind == "ul":
            lines += [f"- {x}" for x in payload] + [""]
        elif kind == "table":
            head, rows = payload
            lines.append("| " + " | ".join(head) + " |")
            lines.append("|" + "---|" * len(head))
            lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
            lines.append("")
        elif kind == "img":
            title, png = payload
            lines += [f"![{title}](data:image/png;base64,{png})", ""]
    return "\n".join(lines)


def _inline(text: str) -> str:
    """``**bold**``, ``*em*`` and ``code`` of our own strings, after escaping."""
    t = html.escape(text)
    t = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", t)
    t = re.sub(r"\*(.+?)\*", r"<i>\1</i>", t)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", t)


def to_html(bl: Sequence[Block]) -> str:
    """A standalone HTML page of the blocks."""
    body: list[str] = []
    title = "Production health"
    for kind, payload in bl:
        if kind == "h1":
            title = str(payload)
            body.append(f"<h1>{_inline(payload)}</h1>")
        elif kind == "h2":
            body.append(f"<h2>{_inline(payload)}</h2>")
        elif kind == "p":
            body.append(f"<p>{_inline(payload)}</p>")
        elif kind == "ul":
            body.append("<ul>" + "".join(f"<li>{_inline(x)}</li>" for x in payload) + "</ul>")
        elif kind == "table":
            head, rows = payload
            th = "".join(f"<th>{_inline(h)}</th>" for h in head)
            trs = "".join(
                "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in rows
            )
            body.append(f"<table><tr>{th}</tr>{trs}</table>")
        elif kind == "img":
            cap, png = payload
            body.append(
                f'<figure><img alt="{html.escape(cap)}" src="data:image/png;base64,{png}">'
                f"<figcaption>{html.escape(cap)}</figcaption></figure>"
            )
    style = (
        "body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
        "figure{display:inline-block;margin:0 1em 1em 0}code{background:#f3f3f3}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )


def figures(s: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(title, base64 PNG) of the report's plots; only those with data."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display in runs
    import matplotlib.pyplot as plt

    out: list[tuple[str, str]] = []
    ref = s.get("reference") or {}

    def emit(title: str, fig: Any) -> None:
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=72)
        plt.close(fig)
        out.append((title, base64.b64encode(buf.getvalue()).decode()))

    trend = s.get("trend") or []
    if trend:
        fig, ax = plt.subplots(figsize=(5, 2.6))
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
        fig, ax = plt.subplots(figsize=(5, 2.6))
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
        fig, ax = plt.subplots(figsize=(5, 2.8))
        ax.barh([k for k, _ in top], [v for _, v in top], color="tab:orange")
        ax.set_xlim(0, 1)
        ax.tick_params(labelsize=7)
        ax.set_title("Feature drift (Kolmogorov-Smirnov)", fontsize=9)
        emit("Feature drift", fig)
    if s.get("dpi_histogram") and ref.get("dpi_histogram"):
        fig, ax = plt.subplots(figsize=(5, 2.6))
        labels = [f"<{e}" for e in DPI_EDGES[1:]]
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
        fig, ax = plt.subplots(figsize=(5, 2.6))
        mids = [(a + b) / 2 for a, b in pairwise(CONF_EDGES)]
        for f, h in hist.items():
            n = max(sum(h), 1)
            ax.plot(mids, [v / n for v in h], "o-", label=f, ms=3)
        ax.legend(fontsize=6)
        ax.set_title("Model confidence per field (window)", fontsize=9)
        ax.tick_params(labelsize=7)
        emit("Confidence distribution", fig)
    return out
