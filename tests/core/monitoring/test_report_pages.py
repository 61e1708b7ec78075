"""One monitored day end to end (real deepchecks, no Dagster), and its pages opened in headless
Chromium with no network: the drift page shows its features and scores and draws its plots,
deepchecks' interactive page renders (plotly ran from the inlined scripts), the health report
links the drift page; every report file is readable by the group."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from docasset.core.intake.quality import QualityThresholds
from docasset.core.monitoring.health import frame_features, trend_documents
from docasset.core.monitoring.monitor import DayInputs, DayReport, monitor_day
from tests.core.monitoring.frames import DAY, RECEIPT, TEXT, T, doc, long_preds, reference, words

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
OFFLINE = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    # No network: every connection goes to a closed local port, no name resolves.
    "--proxy-server=127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--virtual-time-budget=8000",
)


@dataclass
class Day:
    report: DayReport
    reports: Path


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    ref = reference(20)
    ref_ids = ref.features["doc_id"].to_list()
    # The day's documents are three times as long as training's and read worse.
    window = {f"d{i}": TEXT * 3 for i in range(12)}
    preds = long_preds({d: doc() for d in window})
    inputs = DayInputs(
        day=DAY,
        predictions=preds,
        scans=None,
        words=words(window, conf=55.0),
        trend=trend_documents(preds, DAY, 14),
        reference=ref,
        reference_measures=frame_features(ref_ids, words(dict.fromkeys(ref_ids, TEXT)), None),
    )
    reports = tmp_path_factory.mktemp("reports")
    yield Day(monitor_day(inputs, RECEIPT, {}, T, QualityThresholds(), reports), reports)


def _browser() -> str:
    found = next((b for b in map(shutil.which, BROWSERS) if b), None)
    if found is None:
        pytest.fail("headless Chromium is needed: ./run.sh setup installs Debian's `chromium`")
    return found


def _chromium(page: Path, profile: Path, *args: str) -> str:
    out = subprocess.run(
        [_browser(), *OFFLINE, f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_report_files_are_written_and_readable_by_the_group(day: Day) -> None:
    files = day.report.assessment.files
    assert files is not None and files.drift and files.deepchecks
    names = [files.html, files.markdown, files.json, files.drift, files.deepchecks]
    assert sorted(p.name for p in day.reports.iterdir()) == sorted(names)
    for name in names:
        assert (day.reports / name).stat().st_mode & 0o777 == 0o644, name


def test_the_offline_browser_really_has_no_network(tmp_path: Path) -> None:
    page = tmp_path / "probe.html"
    page.write_text(
        "<!doctype html><body><script src='https://cdn.jsdelivr.net/npm/x@1/x.js' "
        "onerror=\"document.body.dataset.net='blocked'\" "
        "onload=\"document.body.dataset.net='reached'\"></script></body>"
    )
    assert 'data-net="blocked"' in _chromium(page, tmp_path / "profile", "--dump-dom")


def test_drift_page_renders_offline_with_features_scores_and_plots(
    day: Day, tmp_path: Path
) -> None:
    a = day.report.assessment
    assert a.drift is not None and a.drift.skipped is None and a.files and a.files.drift
    top, score = a.drift.top(1)[0]
    assert top in ("text_len", "n_words", "ocr_conf", "n_lines") and score == 1.0
    page = day.reports / a.files.drift
    dom = _chromium(page, tmp_path / "p1", "--dump-dom")
    assert "Drift 2026-03-04" in dom
    for name, value in a.drift.scores.items():
        assert f"<td>{name}</td><td>{value:.2f}</td>" in dom, name
    assert f'href="{a.files.deepchecks}"' in dom and f'href="{a.files.html}"' in dom
    shot = tmp_path / "drift.png"
    _chromium(page, tmp_path / "p2", "--window-size=1200,2400", f"--screenshot={shot}")
    # The embedded PNG plots were decoded and drawn: coloured pixels (text is grey/black).
    with Image.open(shot) as img:
        rgb = np.asarray(img.convert("RGB")).astype(int)
    coloured = int(((rgb.max(axis=2) - rgb.min(axis=2)) > 80).sum())
    assert coloured > 5_000, coloured


def test_deepchecks_page_renders_offline(day: Day, tmp_path: Path) -> None:
    files = day.report.assessment.files
    assert files is not None and files.deepchecks
    dom = _chromium(day.reports / files.deepchecks, tmp_path / "p", "--dump-dom")
    # plotly ran from the inlined scripts and drew its charts (class main-svg).
    assert "Feature Drift" in dom and 'class="main-svg"' in dom


def test_health_report_links_the_drift_page(day: Day, tmp_path: Path) -> None:
    files = day.report.assessment.files
    assert files is not None and files.drift
    dom = _chromium(day.reports / files.html, tmp_path / "p", "--dump-dom")
    assert f'<a href="{files.drift}">drift page</a>' in dom
    assert "Production health 2026-03-04" in dom
