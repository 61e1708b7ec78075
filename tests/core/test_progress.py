from __future__ import annotations

import logging

import pytest

from docasset.core.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lines_carry_counts_rate_and_time_left_at_most_every_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    p = Progress("ocr", 10, every=2.0, clock=clock)
    with caplog.at_level(logging.INFO, logger="docasset.progress"):
        for _ in range(10):
            clock.now += 0.5  # 2 documents a second
            p.step()
        p.finish()
    lines = [r.getMessage() for r in caplog.records]
    # The first step, then one every 2 s (4 documents), then the last: not one per document.
    assert lines == [
        "ocr: 1/10 documents (10%), 2/s, about 5s left",
        "ocr: 5/10 documents (50%), 2/s, about 3s left",
        "ocr: 9/10 documents (90%), 2/s, about 1s left",
        "ocr: 10/10 documents (100%), 2/s, done in 5s",
    ]


def test_an_early_stop_says_so_and_unknown_totals_count_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    with caplog.at_level(logging.INFO, logger="docasset.progress"):
        p = Progress("training", 40, unit="epochs", every=60, clock=clock)
        clock.now += 30
        p.step(note="held-out accuracy 0.500")
        clock.now += 30
        p.step()
        p.total = p.done
        p.finish(note="stopped: no improvement in 1 epochs")
        q = Progress("pages", None, unit="pages", clock=clock)
        clock.now += 4
        q.step(8)
    lines = [r.getMessage() for r in caplog.records]
    assert (
        lines[0]
        == "training: 1/40 epochs (2%), 0.033/s, about 19m30s left; held-out accuracy 0.500"
    )
    assert lines[1] == (
        "training: 2/2 epochs (100%), 0.033/s, done in 1m00s; stopped: no improvement in 1 epochs"
    )
    assert lines[2] == "pages: 8 pages, 2/s"
