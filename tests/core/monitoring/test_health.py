"""Production-health core without Dagster: reference, novelty, accuracy estimate and gap,
root causes, check grading, the report, and the one module that imports deepchecks."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from docasset.core.monitoring.assessment import FieldGap, TrendPoint
from docasset.core.monitoring.checks import evaluate_checks, ks_critical, verdict
from docasset.core.monitoring.drift import DriftResult, run_drift
from docasset.core.monitoring.health import (
    accuracy_gap,
    assess,
    automation_trend,
    estimated_accuracy,
    model_view,
    novelty,
    trend_documents,
    window_frames,
)
from docasset.core.monitoring.health_report import blocks
from docasset.core.reporting.blocks import to_html, to_markdown
from docasset.core.training.health_reference import (
    date_shape,
    document_features,
    has_reference,
    load_reference,
    save_reference,
    text_features,
)
from docasset.errors import ModelError
from tests.core.monitoring.frames import (
    DAY,
    RECEIPT,
    TEXT,
    T,
    assess_window,
    doc,
    long_preds,
    reference,
)


def test_date_shapes_and_text_features() -> None:
    assert date_shape("25/12/2018") == date_shape("5/1/2018") == "9/9/9"
    assert date_shape("DEC 25, 2018") == date_shape("Nov 3, 2018") == "A 9, 9"
    assert date_shape("2018-12-25") != date_shape("25.12.2018")
    f = text_features(TEXT)
    assert f["n_lines"] == 4 and f["n_words"] == 11 and 0 < f["digit_share"] < 1


def test_reference_round_trip_and_missing_reference(tmp_path: Path) -> None:
    ref = reference()
    save_reference(tmp_path, ref)
    assert has_reference(tmp_path)
    back = load_reference(tmp_path)
    assert back.meta() == ref.meta() and back.features.equals(ref.features)
    assert back.held_out()["split"].unique().to_list() == ["dev"]
    with pytest.raises(ModelError, match="no health reference"):
        load_reference(tmp_path / "other")


def test_novelty_flags_new_vendors_months_and_formats() -> None:
    preds = long_preds(
        {
            "known": doc("ACME SDN. BHD.", "04/03/2026"),  # punctuation differs: still known
            "new_vendor": doc("Nordlicht Software GmbH"),
            "new_month": doc(d="04/11/2026"),
            "new_format": doc(d="2026-03-04"),
        }
    )
    nov = {r["doc_id"]: r for r in novelty(preds, reference(), RECEIPT, 80).to_dicts()}
    assert not any(nov["known"][k] for k in ("unseen_vendor", "unseen_month", "unseen_date_format"))
    assert nov["new_vendor"]["unseen_vendor"] and not nov["new_vendor"]["unseen_month"]
    assert nov["new_month"]["unseen_month"] and nov["new_month"]["month"] == 11
    assert nov["new_format"]["unseen_date_format"] and not nov["new_format"]["unseen_month"]


def test_estimated_accuracy_leaves_memory_values_out_of_the_model_view() -> None:
    preds = long_preds({"a": doc(conf=0.8), "b": doc(conf=0.6)}, memory="company")
    assert estimated_accuracy(preds)["total"] == pytest.approx(0.7)
    model = estimated_accuracy(model_view(preds))
    assert "company" not in model and model["date"] == pytest.approx(0.7)


def test_accuracy_gap_prefers_audited_auto_documents() -> None:
    preds = long_preds({"a": doc(conf=0.95), "b": doc(conf=0.95), "c": doc(conf=0.5)})
    truths = {
        "a": {"company": "ACME SDN BHD", "date": "04/03/2026", "total": "9.00"},
        "b": {"company": "OTHER", "date": "2026-03-04", "total": "9.00"},
        "c": {"company": "ACME SDN BHD"},
    }
    gap = accuracy_gap(RECEIPT, preds, truths)
    assert gap.sample.startswith("auto") and gap.n_docs == 2
    company = gap.fields["company"]
    assert company == FieldGap(n=2, estimated=0.95, realized=0.5)
    assert company.gap == pytest.approx(-0.45)
    assert gap.fields["date"].realized == 1.0  # dates compare normalized
    assert gap.fields["address"].realized == 0.0  # a value where there is none: wrong
    everyone = accuracy_gap(RECEIPT, preds, truths, prefer_auto=False)
    assert everyone.n_docs == 3 and everyone.fields["company"].n == 3


def test_in_distribution_window_passes_every_check() -> None:
    s = assess_window(long_preds({f"d{i}": doc() for i in range(10)}))
    checks = evaluate_checks(s, T)
    assert all(c.passed for c in checks.values()), {k: c.description for k, c in checks.items()}
    assert s.hints == () and s.comparison is not None and s.comparison.unseen.share == 0.0
    # No drift measured here: the check is not assessed (no value), never a 0 that passed.
    assert not checks["drift"].assessed and checks["drift"].value is None
    assert "not assessed" in checks["drift"].description
    assert checks["automation_drop"].value == pytest.approx(-0.1)  # the number, not text


def test_shifted_windows_fire_their_check_with_the_right_hint() -> None:
    new = assess_window(long_preds({f"d{i}": doc(f"NEW VENDOR {i} LTD") for i in range(10)}))
    checks = evaluate_checks(new, T)
    assert checks["unseen_values"].severity == "ERROR" and checks["unseen_values"].value == 1.0
    assert new.hints[0].cause == "new_vendors_or_layouts"
    assert checks["unseen_values"].cause == new.hints[0]
    assert "Add recent documents of these vendors" in checks["unseen_values"].description

    season = assess_window(long_preds({f"d{i}": doc(d=f"0{i % 9 + 1}/11/2026") for i in range(10)}))
    assert season.hints[0].cause == "seasonal_shift"
    assert "Nov" in season.hints[0].evidence

    docs = {f"d{i}": doc(conf=0.95 if i < 6 else 0.3) for i in range(10)}
    bad = assess_window(long_preds(docs), problems={f"d{i}": ["low_dpi"] for i in range(6, 10)})
    checks = evaluate_checks(bad, T)
    assert bad.hints[0].cause == "bad_scans"
    assert checks["automation_drop"].severity == "WARN"  # 0.9 -> 0.6
    assert checks["automation_drop"].measures["automation_rate"] == pytest.approx(0.6)
    assert checks["estimated_accuracy_drop"].severity == "ERROR"  # 0.95 -> 0.69
    assert "Fix scanning" in checks["automation_drop"].description

    empty = {f"d{i}": doc() for i in range(6)} | {f"e{i}": {} for i in range(4)}
    irr = assess_window(long_preds(empty), problems={"e0": ["blank"], "e1": ["no_text", "blurred"]})
    assert irr.hints[0].cause == "irrelevant_documents"
    assert irr.signals is not None
    assert irr.signals.irrelevant_share == pytest.approx(0.4)
    assert irr.signals.bad_scan_share == 0.1


def test_drift_check_grades_by_threshold_and_sample_size() -> None:
    preds = long_preds({f"d{i}": doc() for i in range(10)})

    def drift(score: float, n: int) -> DriftResult:
        return DriftResult({"dpi": score}, {"dpi": "KS"}, 0.0, None, n, n)

    warn = evaluate_checks(assess_window(preds, drift=drift(0.8, 400)), T)["drift"]
    assert warn.severity == "WARN" and warn.value == 0.8 and warn.measures["drift_dpi"] == 0.8
    assert (
        evaluate_checks(assess_window(preds, drift=drift(0.95, 400)), T)["drift"].severity
        == "ERROR"
    )
    # 0.8 between 8 and 8 documents is within chance: the warn level rises to the critical value.
    assert ks_critical(8, 8) > 0.9
    small = evaluate_checks(assess_window(preds, drift=drift(0.8, 8)), T)["drift"]
    assert small.passed and small.assessed and small.warn_at == ks_critical(8, 8)


def test_windows_trend_and_unmodelled_documents() -> None:
    preds = long_preds({"a": doc(), "b": doc(conf=0.2)})
    unmodelled = long_preds({"c": {}}).with_columns(pl.lit(None, pl.Utf8).alias("model_version"))
    window, n_unmodelled = window_frames(pl.concat([preds, unmodelled]), DAY)
    assert window["doc_id"].n_unique() == 2 and n_unmodelled == 1
    assert window_frames(preds, date(2026, 3, 5))[0].is_empty()
    [point] = automation_trend(trend_documents(preds, DAY, 7))
    assert (point.day, point.automation_rate, point.n) == (DAY, 0.5, 2)
    assert automation_trend(trend_documents(preds, date(2026, 3, 20), 7)) == ()
    s = assess(
        day=DAY,
        doctype=RECEIPT,
        window=window_frames(None, DAY)[0],
        features=pl.DataFrame(),
        problems={},
        ref=None,
        ref_features=None,
        truths={},
        drift=None,
        trend=(),
        thresholds=T,
    )
    checks = evaluate_checks(s, T)
    assert s.n_docs == 0 and s.signals is None and s.not_assessed
    assert not any(c.assessed for c in checks.values())
    assert verdict(s, checks, T) == "NOT_ASSESSED"


def test_report_markdown_and_html_say_what_changed_and_what_to_do() -> None:
    s = assess_window(
        long_preds({f"d{i}": doc(f"NEW VENDOR {i} LTD") for i in range(10)}),
        truths={"d0": {"company": "NEW VENDOR 0 LTD"}},
    )
    s = replace(s, trend=(TrendPoint(date(2026, 3, 3), 0.9, 5),))
    checks = evaluate_checks(s, T)
    bl = blocks(s, checks, verdict(s, checks, T), T)
    md = to_markdown(bl)
    assert md.startswith("# Production health 2026-03-04: ERROR")
    assert "## What changed" in md and "`unseen_values`" in md
    assert "new vendors or layouts" in md and "Action:" in md
    assert "data:image/png;base64," in md
    page = to_html(bl)
    assert page.startswith("<!doctype html>") and "<table>" in page and "<img" in page


def test_deepchecks_is_imported_by_the_drift_module_only() -> None:
    # And matplotlib on the first plot: every process loading the definitions paid for both.
    code = (
        "import sys, docasset.definitions, docasset.core.monitoring.health, "
        "docasset.core.monitoring.health_report; "
        "assert 'deepchecks' not in sys.modules, 'deepchecks imported eagerly'; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported eagerly'"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    src = Path(__file__).resolve().parents[3] / "docasset"
    importers = [
        p.relative_to(src).as_posix()
        for p in src.rglob("*.py")
        if "import deepchecks" in p.read_text() or "from deepchecks" in p.read_text()
    ]
    assert importers == ["core/monitoring/drift.py"]


def test_drift_finds_the_shifted_feature_and_writes_html(tmp_path: Path) -> None:
    ref = document_features({f"r{i}": TEXT * (1 + i % 3) for i in range(20)}).with_columns(
        pl.Series("dpi", [300.0] * 20), pl.lit("auto").alias("route")
    )
    cur = document_features({f"c{i}": TEXT * (1 + i % 3) for i in range(12)}).with_columns(
        pl.Series("dpi", [100.0] * 12), pl.lit("review").alias("route")
    )
    res = run_drift(ref, cur, ["text_len", "dpi", "ocr_conf"], tmp_path / "d.html", 10)
    assert res.skipped is None and res.scores["dpi"] == 1.0 and res.scores["text_len"] < 0.3
    assert "ocr_conf" not in res.scores  # all null: not comparable
    assert res.prediction_drift is not None and res.prediction_drift > 0.9
    page = (tmp_path / "d.html").read_text()
    assert "Feature Drift" in page and not re.search(r"<script[^>]*\ssrc=", page)  # inlined
    assert (tmp_path / "d.html").stat().st_mode & 0o777 == 0o644
    few = run_drift(ref, cur.head(5), ["dpi"], None, 10)
    assert few.skipped and "too few" in few.skipped and few.max_score is None
