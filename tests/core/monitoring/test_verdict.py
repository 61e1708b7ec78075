"""Reports that never overstate: too few checked documents is its own verdict, no reference is
absence (None, omitted), not 0; field-level routing is reported only when predictions carry
it; every float of the JSON report and the metadata is rounded."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import polars as pl
import pytest

from docasset.core.extraction.certify import precision_interval
from docasset.core.monitoring.assessment import HealthAssessment, QaMeasure
from docasset.core.monitoring.checks import evaluate_checks, qa_outcome, verdict
from docasset.core.monitoring.drift import DriftResult
from docasset.core.monitoring.monitor import grade, metadata, report_dict
from tests.core.monitoring.frames import T, assess_window, doc, long_preds

QUIET = DriftResult(
    {"dpi": 0.1, "text_len": 0.05}, {"dpi": "KS", "text_len": "KS"}, 0.02, None, 400, 400
)
RIGHT = {
    "company": "ACME SDN BHD",
    "date": "04/03/2026",
    "address": "NO 1 JALAN SATU",
    "total": "9.00",
}
WRONG = {"company": "OTHER LTD", "date": "01/01/2020", "address": "ELSEWHERE", "total": "1.00"}


def _day(min_checked: int):
    preds = long_preds({f"d{i}": doc() for i in range(12)})
    t = replace(T, min_checked_docs=min_checked)
    # The day: realized accuracy 67 % measured on 3 human-checked documents.
    a = assess_window(
        preds, truths={"d0": RIGHT, "d1": RIGHT, "d2": WRONG}, drift=QUIET, thresholds=t
    )
    return a, t, grade(a, t)


def test_three_checked_documents_say_not_enough_checked_documents_never_ok() -> None:
    a, t, day = _day(min_checked=30)
    assert all(c.assessed and c.passed for n, c in day.checks.items() if n != "qa_accuracy")
    assert not day.checks["qa_accuracy"].assessed  # no QA answer: a stated limit, not graded
    assert "no QA answer for the model in use yet" in day.markdown
    assert a.n_checked == 3 and a.accuracy_gap is not None
    assert a.accuracy_gap.overall().realized == pytest.approx(8 / 12)
    assert day.verdict == "NOT_ENOUGH_CHECKED_DOCUMENTS"
    assert day.markdown.startswith("# Production health 2026-03-04: not enough checked documents")
    assert "rests on 3 human-checked documents; at least 30" in day.markdown
    meta = metadata(day, t)
    assert meta["verdict"] == "not enough checked documents" and meta["checked_documents"] == 3
    assert not any(k.startswith(("realized_accuracy", "accuracy_gap")) for k in meta), meta


def test_enough_checked_documents_and_every_check_assessed_read_ok() -> None:
    _, t, day = _day(min_checked=3)
    assert day.verdict == "OK"
    assert day.markdown.startswith("# Production health 2026-03-04: OK")
    assert metadata(day, t)["realized_accuracy_company"] == pytest.approx(0.6667)


def test_a_check_that_could_not_be_graded_makes_the_day_incomplete_not_ok() -> None:
    preds = long_preds({f"d{i}": doc() for i in range(12)})
    t = replace(T, min_checked_docs=0)
    a = assess_window(preds, thresholds=t)  # no drift measured
    checks = evaluate_checks(a, t)
    assert not checks["drift"].assessed and verdict(a, checks, t) == "INCOMPLETE"


def test_no_reference_is_absent_never_zero() -> None:
    a = assess_window(long_preds({f"d{i}": doc() for i in range(12)}), with_reference=False)
    day = grade(a, T)
    assert a.comparison is None and a.reference is None
    assert a.not_assessed == "model v0001 has no health reference"
    assert day.verdict == "NOT_ASSESSED"
    assert all(not c.assessed and c.value is None for c in day.checks.values())
    meta = metadata(day, T)
    for absent in ("automation_drop", "unseen_share", "max_drift", "likely_cause"):
        assert absent not in meta
    assert meta["automation_rate"] == 1.0  # what was measured is still there
    saved = report_dict(a, day.checks, day.verdict)
    assert saved["comparison"] is None and saved["checks"]["drift"]["value"] is None
    assert "no training reference to compare with" in day.markdown


def test_field_automation_and_touchless_are_reported_only_with_field_status() -> None:
    preds = long_preds({f"d{i}": doc() for i in range(4)})
    plain = grade(assess_window(preds), T)
    assert plain.assessment.signals is not None and plain.assessment.signals.field_routing is None
    assert "field_automation" not in metadata(plain, T) and "touchless" not in plain.markdown

    # d0, d1 touchless; d2 its company to check; d3 every field to check: 11 of 16 accepted.
    to_check = {("d2", "company")} | {("d3", f) for f in RIGHT}
    rows = preds.with_columns(
        pl.Series(
            "field_status",
            [
                "to_check" if (d, f) in to_check else "accepted"
                for d, f in preds.select("doc_id", "field").rows()
            ],
        )
    )
    truths = {"d0": RIGHT, "d1": WRONG, "d2": RIGHT}
    day = grade(assess_window(rows, truths=truths), T)
    r = day.assessment.signals.field_routing  # type: ignore[union-attr]
    assert r is not None and (r.n_fields, r.n_docs) == (16, 4)
    assert r.field_automation == pytest.approx(11 / 16) and r.touchless_rate == 0.5
    # accepted fields of checked docs: d0 4 right, d1 4 wrong, d2 3 right -> 7/11
    assert r.accepted_accuracy == pytest.approx(7 / 11) and r.n_accepted_checked == 11
    assert r.touchless_accuracy == 0.5 and r.n_touchless_checked == 2
    meta = metadata(day, T)
    assert meta["field_automation"] == 0.6875 and meta["touchless_rate"] == 0.5
    assert "| field automation (fields accepted) | 69% | - |" in day.markdown
    assert "| touchless documents | 50% | - |" in day.markdown


def test_json_report_and_metadata_round_every_float() -> None:
    preds = long_preds({f"d{i}": doc(conf=0.91234567) for i in range(7)})
    a = assess_window(preds, truths={"d0": RIGHT}, drift=QUIET)
    day = grade(a, T)
    text = json.dumps(report_dict(a, day.checks, day.verdict))
    floats: list[float] = []

    def walk(x: object) -> None:
        if isinstance(x, float):
            floats.append(x)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(json.loads(text))
    assert floats and all(round(f, 4) == f for f in floats)
    assert 0.9123 in floats  # the estimate, rounded
    nums = [v for v in metadata(day, T).values() if isinstance(v, float)]
    assert nums and all(round(v, 4) == v for v in nums)


def test_the_report_opens_with_what_to_do_and_grades_every_number_beside_its_levels() -> None:
    *_, ok = _day(min_checked=3)
    assert ok.markdown.splitlines()[2] == (
        "**OK.** Next step: nothing to do: every check is within its levels."
    )
    # The day's automation falls far below the reference: one language, levels beside.
    low = replace(T, min_checked_docs=3, automation_drop_warn=0.05, automation_drop_error=0.9)
    preds = long_preds({f"d{i}": doc() for i in range(12)})
    a = assess_window(preds, truths={"d0": RIGHT}, drift=QUIET, thresholds=low)
    a = replace(a, comparison=replace(a.comparison, automation_drop=0.31))  # type: ignore[arg-type]
    day = grade(a, low)
    c = day.checks["automation_drop"]
    assert c.severity == "WARN" and "down 31 points" in c.summary and "+" not in c.summary
    assert c.graded == "31 points (WARN at 5 points, ERROR at 90 points)"
    first = day.markdown.splitlines()[2]
    assert first.startswith("**WARN: `automation_drop` 31 points (WARN at 5 points")
    assert "Next step:" in first
    assert "(WARN at 5 points, ERROR at 90 points)" in day.markdown  # in "What changed" too
    # The drift row carries its levels: 0.10 is below WARN, said so.
    assert "| largest feature drift | 0.10 | 0 = same distribution | within: 0.10 (WARN" in (
        day.markdown
    )


def test_qa_accuracy_errors_only_when_its_upper_bound_is_below_the_target() -> None:
    def measured(right: int, n: int) -> HealthAssessment:
        low, high = precision_interval(right, n) or (0.0, 1.0)
        base = HealthAssessment(day=date(2026, 1, 1), n_unmodelled=0, model_versions=("v1",))
        return replace(base, qa=QaMeasure(n, right, right, low, high, 0.99))

    assert not qa_outcome(HealthAssessment(date(2026, 1, 1), 0, ("v1",))).assessed
    few_errors = qa_outcome(measured(97, 100))  # 97 %: the interval still reaches 99 %
    assert few_errors.assessed and few_errors.passed and few_errors.value > 0.99
    bad = qa_outcome(measured(180, 200))  # 90 %: even the upper bound is far below
    assert bad.severity == "ERROR" and bad.value < 0.99
    assert bad.measures["qa_fields"] == 200 and "180 of 200" in bad.description
