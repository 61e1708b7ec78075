"""Shared test fixtures: generated scans, a blank vocab, environment for Tesseract."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_THREAD_LIMIT", "1")
ROOT = Path(__file__).resolve().parent.parent
SROIE = ROOT.parent / "shared" / "sroie-dev"


@pytest.fixture(scope="session")
def sroie_dir() -> Path:
    """``../shared/sroie-dev``; a test that needs it fails, saying so, when it is absent
    (nothing is skipped: a missing data set must not pass for a green suite)."""
    if not (SROIE / "img").is_dir():
        pytest.fail(
            f"SROIE data not found at {SROIE}: these tests read ../shared/sroie-dev beside the "
            "repository (200 ICDAR-2019 receipts; never copied into the repo)"
        )
    return SROIE


@pytest.fixture(scope="session")
def receipts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 clean synthetic receipts in the labelled-folder format (generated once)."""
    from docasset.sim.synthetic.generate import generate

    out = tmp_path_factory.mktemp("receipts")
    generate(out, 12, seed=11, prefix="t-")
    return out
