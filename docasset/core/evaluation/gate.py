"""The accuracy-regression gate: candidate vs production on the golden set, as findings that
carry their numbers (the ``accuracy_regression`` check reads them; nothing parses the text)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from docasset.core.evaluation.evaluate import ModelEvaluation
from docasset.core.extraction.fields import DocType
from docasset.core.tunable import tunable

FindingKind = Literal["f1_drop", "automation_drop", "field_automation_drop", "latency"]


@dataclass(frozen=True)
class GateConfig:
    """Accuracy-regression tolerances (absolute, in F1 / rate points / seconds)."""

    f1_tolerance: float = tunable(0.02, "Largest allowed F1 drop of a required field.", ge=0, le=1)
    automation_tolerance: float = tunable(0.05, "Largest allowed automation-rate drop.", ge=0, le=1)
    latency_p95_factor: float = tunable(2.0, "Largest allowed p95 latency ratio.", ge=1)
    latency_floor_s: float = tunable(
        0.05,
        "p95 latency below this never counts as a regression (milliseconds are timer noise).",
        ge=0,
    )
    # On a small golden set one document moves F1 by several points: one flip is noise.
    min_shadow_docs: int = tunable(
        20,
        "The shadow comparison (checked documents production never trained on) gates only on "
        "at least this many documents; fewer are reported, not decided on.",
        ge=1,
    )
    min_net_docs: int = tunable(
        2,
        "A field regresses only if at least this many more golden documents went right->wrong "
        "than wrong->right.",
        ge=1,
    )


@dataclass(frozen=True)
class GateFinding:
    """One reason the candidate regresses: what (``kind``, ``field``), production's and the
    candidate's value, and the limit the candidate crossed."""

    kind: FindingKind
    field: str | None
    production: float
    candidate: float
    limit: float
    text: str
    scope: Literal["golden", "shadow"] = "golden"  # which comparison found it


@dataclass(frozen=True)
class GateVerdict:
    """The gate's decision. ``first_model``: there was no production model to regress from."""

    passed: bool
    findings: tuple[GateFinding, ...]
    first_model: bool = False

    @property
    def reasons(self) -> list[str]:
        if self.first_model:
            return ["no production model yet: the candidate becomes the first"]
        return [f.text for f in self.findings]


def evidence_change(
    candidate: dict[str, dict[str, Any]] | None, production: dict[str, dict[str, Any]] | None
) -> str:
    """Which fields' certification evidence shrank or lost its threshold, production ->
    candidate ("" when nothing did or either has no certification)."""
    if not candidate or not production:
        return ""
    shrank, kept = [], []
    for name, p in production.items():
        c = candidate.get(name)
        if c is None:
            continue
        lost = p["certified"] and not c["certified"]
        state = "certified -> none" if lost else ("certified" if c["certified"] else "none")
        line = f"{name} {p['evidence']} -> {c['evidence']} checked values ({state})"
        if c["evidence"] < p["evidence"]:
            shrank.append(line)
        elif lost:  # as much evidence or more, yet no threshold: the settings or the model
            kept.append(line)
    out = ""
    if shrank:
        out += "; evidence that shrank: " + ", ".join(shrank)
    if kept:
        out += "; thresholds lost with as much evidence or more: " + ", ".join(kept)
    return out


def regression_verdict(
    doctype: DocType,
    candidate: ModelEvaluation,
    production: ModelEvaluation | None,
    cfg: GateConfig,
    certification: dict[str, dict[str, Any]] | None = None,
    production_certification: dict[str, dict[str, Any]] | None = None,
) -> GateVerdict:
    """Whether ``candidate`` may replace ``production``. With no production model there is
    nothing to regress from. A drop in fields accepted names the certification evidence that
    shrank (``certification``: field -> ``Certification.as_dict()`` of each model)."""
    if production is None:
        return GateVerdict(True, (), first_model=True)
    out: list[GateFinding] = []
    for name in doctype.required:
        c = candidate.scores.fields[name].f1
        p = production.scores.fields[name].f1
        lost = production.correct.get(name, set()) - candidate.correct.get(name, set())
        gained = candidate.correct.get(name, set()) - production.correct.get(name, set())
        if c < p - cfg.f1_tolerance and len(lost) - len(gained) >= cfg.min_net_docs:
            out.append(
                GateFinding(
                    "f1_drop",
                    name,
                    p,
                    c,
                    p - cfg.f1_tolerance,
                    f"{name} F1 dropped {p:.3f} -> {c:.3f} (tolerance {cfg.f1_tolerance}); "
                    f"{len(lost)} golden documents newly wrong, {len(gained)} newly right",
                )
            )
    ca, pa = candidate.scores.automation_rate, production.scores.automation_rate
    if ca < pa - cfg.automation_tolerance:
        out.append(
            GateFinding(
                "automation_drop",
                None,
                pa,
                ca,
                pa - cfg.automation_tolerance,
                f"automation rate dropped {pa:.3f} -> {ca:.3f} "
                f"(tolerance {cfg.automation_tolerance})",
            )
        )
    cf, pf = candidate.scores.field_automation, production.scores.field_automation
    if cf < pf - cfg.automation_tolerance:
        out.append(
            GateFinding(
                "field_automation_drop",
                None,
                pf,
                cf,
                pf - cfg.automation_tolerance,
                f"fields accepted dropped {pf:.3f} -> {cf:.3f} "
                f"(tolerance {cfg.automation_tolerance})"
                + evidence_change(certification, production_certification),
            )
        )
    bound = max(production.latency_p95 * cfg.latency_p95_factor, cfg.latency_floor_s)
    if candidate.latency_p95 > bound:
        out.append(
            GateFinding(
                "latency",
                None,
                production.latency_p95,
                candidate.latency_p95,
                bound,
                f"latency p95 {candidate.latency_p95:.3f}s above {bound:.3f}s",
            )
        )
    return GateVerdict(not out, tuple(out))
