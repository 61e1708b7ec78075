"""Candidate vs production on the golden set: scores, latency, the regression verdict, Markdown."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from spacy.tokens import Doc

from docasset.core.extract import DocPrediction, ModelBundle, predict_text
from docasset.core.fields import DocType, values_match
from docasset.core.metrics import score


@dataclass(frozen=True)
class GateConfig:
    """Accuracy-regression tolerances (absolute, in F1 / rate points / seconds)."""

    f1_tolerance: float = 0.02
    automation_tolerance: float = 0.05
    latency_p95_factor: float = 2.0
    latency_floor_s: float = 0.05  # below this p95 latency differences are noise
    # A field regresses only if, besides the F1 drop, at least this many more golden documents
    # went from right to wrong than the other way: on a small golden set one document moves
    # F1 by several points, and a single flip is noise, not evidence.
    min_net_docs: int = 2


@dataclass
class ModelEvaluation:
    """One model's figures on the golden set."""

    version: str | None
    scores: dict[str, Any]
    latency_p50: float
    latency_p95: float
    docs_per_second: float
    predictions: list[DocPrediction] = field(default_factory=list, repr=False)
    correct: dict[str, set[str]] = field(default_factory=dict, repr=False)  # field -> doc ids


def evaluate_model(bundle: ModelBundle, golden: list[Doc]) -> ModelEvaluation:
    """Run ``bundle`` on every golden document (OCR text) and score it."""
    preds, times = [], []
    for d in golden:
        t = time.perf_counter()
        preds.append(predict_text(bundle, d.user_data["doc_id"], d.text))
        times.append(time.perf_counter() - t)
    truths = {d.user_data["doc_id"]: d.user_data["fields"] for d in golden}
    s = score(bundle.doctype, preds, truths).as_dict()
    arr = np.array(times) if times else np.zeros(1)
    total = float(arr.sum())
    correct = {
        spec.name: {
            p.doc_id
            for p in preds
            if values_match(
                spec, p.fields[spec.name].value, truths[p.doc_id].get(spec.name) or None
            )
        }
        for spec in bundle.doctype.fields
    }
    return ModelEvaluation(
        bundle.version,
        s,
        float(np.percentile(arr, 50)),
        float(np.percentile(arr, 95)),
        len(golden) / total if total > 0 else 0.0,
        preds,
        correct,
    )


def regression_verdict(
    doctype: DocType,
    candidate: ModelEvaluation,
    production: ModelEvaluation | None,
    cfg: GateConfig,
) -> tuple[bool, list[str]]:
    """(passed, reasons). With no production model there is nothing to regress from."""
    if production is None:
        return True, ["no production model yet: the candidate becomes the first"]
    reasons: list[str] = []
    for name in doctype.required:
        c = candidate.scores["fields"][name]["f1"]
        p = production.scores["fields"][name]["f1"]
        lost = production.correct.get(name, set()) - candidate.correct.get(name, set())
        gained = candidate.correct.get(name, set()) - production.correct.get(name, set())
        if c < p - cfg.f1_tolerance and len(lost) - len(gained) >= cfg.min_net_docs:
            reasons.append(
                f"{name} F1 dropped {p:.3f} -> {c:.3f} (tolerance {cfg.f1_tolerance}); "
                f"{len(lost)} golden documents newly wrong, {len(gained)} newly right"
            )
    ca, pa = candidate.scores["automation_rate"], production.scores["automation_rate"]
    if ca < pa - cfg.automation_tolerance:
        reasons.append(
            f"automation rate dropped {pa:.3f} -> {ca:.3f} (tolerance {cfg.automation_tolerance})"
        )
    bound = max(production.latency_p95 * cfg.latency_p95_factor, cfg.latency_floor_s)
    if candidate.latency_p95 > bound:
        reasons.append(f"latency p95 {candidate.latency_p95:.3f}s above {bound:.3f}s")
    return not reasons, reasons


def report_markdown(
    doctype: DocType,
    candidate: ModelEvaluation,
    production: ModelEvaluation | None,
    passed: bool,
    reasons: list[str],
    n_golden: int,
) -> str:
    """The manager-facing report: per-field table, automation, latency, verdict."""
    prod_name = production.version if production else "(none)"
    verdict = "PASS" if passed else "BLOCKED"
    lines = [
        f"# Evaluation: candidate {candidate.version} vs production {prod_name}",
        "",
        f"Golden set: {n_golden} documents ({doctype.name}). Verdict: **{verdict}**.",
        "",
        *[f"- {r}" for r in reasons],
        "",
        "| field | candidate P | R | F1 | production F1 | delta |",
        "|---|---|---|---|---|---|",
    ]
    for name in doctype.names:
        c = candidate.scores["fields"][name]
        pf1 = production.scores["fields"][name]["f1"] if production else None
        delta = f"{c['f1'] - pf1:+.3f}" if pf1 is not None else ""
        lines.append(
            f"| {name} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | "
            f"{'' if pf1 is None else f'{pf1:.3f}'} | {delta} |"
        )
    cm, pm = candidate.scores["micro"], production.scores["micro"] if production else None
    pm_f1 = "" if pm is None else f"{pm['f1']:.3f}"
    lines += [
        f"| **micro** | {cm['precision']:.3f} | {cm['recall']:.3f} | {cm['f1']:.3f} | {pm_f1} | |",
        "",
        "| measure | candidate | production |",
        "|---|---|---|",
    ]
    rows = [
        ("automation rate", "automation_rate"),
        ("accuracy of auto documents", "auto_accuracy"),
        ("expected calibration error", "ece"),
    ]
    for label, key in rows:
        pv = f"{production.scores[key]:.3f}" if production else ""
        lines.append(f"| {label} | {candidate.scores[key]:.3f} | {pv} |")
    lines += [
        "| latency p50 / p95 (s, OCR excluded) | "
        f"{candidate.latency_p50:.4f} / {candidate.latency_p95:.4f} | "
        + (f"{production.latency_p50:.4f} / {production.latency_p95:.4f}" if production else "")
        + " |",
        f"| documents per second | {candidate.docs_per_second:.1f} | "
        + (f"{production.docs_per_second:.1f}" if production else "")
        + " |",
    ]
    return "\n".join(lines) + "\n"
