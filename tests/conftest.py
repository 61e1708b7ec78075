"""Shared test fixtures: generated scans, a blank vocab, environment for Tesseract; and how
test files are grouped over the xdist workers (``pytest_collection_modifyitems``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import tesseract_replay

os.environ.setdefault("OMP_THREAD_LIMIT", "1")
ROOT = Path(__file__).resolve().parent.parent
SROIE = ROOT.parent / "shared" / "sroie-dev"
# ../shared beside the repository; DOCASSET_SHARED points elsewhere (a git worktree's parent).
VRDU = Path(os.environ.get("DOCASSET_SHARED", ROOT.parent / "shared")) / "vrdu-dev"


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
def vrdu_dir() -> Path:
    """``../shared/vrdu-dev`` (150 ad-buy PDFs); a test that needs it fails, saying so, when
    it is absent."""
    if not (VRDU / "img").is_dir():
        pytest.fail(
            f"vrdu-dev data not found at {VRDU}: these tests read ../shared/vrdu-dev beside the "
            "repository (150 FCC ad-buy PDFs; never copied into the repo; DOCASSET_SHARED "
            "names another shared folder)"
        )
    return VRDU


@pytest.fixture(scope="session")
def receipts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 clean synthetic receipts in the labelled-folder format (generated once)."""
    from docasset.sim.synthetic.generate import generate

    out = tmp_path_factory.mktemp("receipts")
    generate(out, 12, seed=11, prefix="t-")
    return out


# Session "worlds": fixtures that build a whole deployment once per session (generated
# documents, OCR, a trained model). ``./run.sh test`` spreads test files over the xdist workers
# (``--dist loadfile``: a file's module fixtures are built once); the files using one world are
# scheduled as one unit, so one worker builds the world, once, instead of each worker that gets
# one of them. A file using a world must be listed here (collection fails otherwise).
WORLD_FILES = {
    "loop": (  # tests/defs/conftest.py
        "tests/defs/test_crash_recovery.py",
        "tests/defs/test_e2e.py",
        "tests/defs/test_gates.py",
        "tests/defs/test_health.py",
        "tests/defs/test_ocr_engines.py",
    ),
}
_UNIT_OF_FILE = {f: f"world:{w}" for w, files in WORLD_FILES.items() for f in files}
# The longest units first (longest-processing-time-first scheduling): a long file started last
# would keep one worker busy while the other idles. Ranked by the per-file durations of a whole
# `pytest -n 2 --dist loadfile --durations=0` run with the Tesseract replay (docs/
# development.md, *Suite speed*); every other file follows in collection order.
LONGEST_FIRST = (
    "world:loop",
    "tests/test_cli.py",
    "tests/integration/test_label_studio.py",
    "tests/integration/test_scale_out.py",
    "tests/evals/test_bench_history.py",
    "tests/sim/test_simulation.py",
    "tests/defs/test_validation_loop.py",
    "tests/evals/test_benchmarks_smoke.py",
    "tests/core/training/test_train_extract.py",
)


def _unit(item: pytest.Item) -> str:
    path = item.nodeid.split("::")[0]
    return _UNIT_OF_FILE.get(path, path)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = item.nodeid.split("::")[0]
        for world, files in WORLD_FILES.items():
            if world in getattr(item, "fixturenames", ()) and path not in files:
                raise pytest.UsageError(
                    f"{path} uses the session world {world!r}: add it to WORLD_FILES in "
                    "tests/conftest.py so that the world is built by one worker only"
                )
    rank = {u: i for i, u in enumerate(LONGEST_FIRST)}
    # A stable sort: the tests of one file keep their order.
    items.sort(key=lambda item: rank.get(_unit(item), len(rank)))


# Recorded OCR answers (Tesseract, RapidOCR) for the tests that do not test OCR
# (tests/tesseract_replay.py).
_REPLAY = tesseract_replay.install()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before the test's fixtures are built: a world is built with its first test's setting.
    if _REPLAY is not None:
        _REPLAY.active = tesseract_replay.replays(item.nodeid)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _REPLAY is None:
        return
    counts = {"replayed": _REPLAY.hits, "computed": _REPLAY.misses}
    worker = getattr(session.config, "workerinput", {}).get("workerid", "main")
    if tesseract_replay.MODE == "record":
        _REPLAY.write_new(worker)
    if hasattr(session.config, "workeroutput"):  # an xdist worker: the controller reports
        session.config.workeroutput["tesseract_replay"] = counts
    else:
        _REPLAY_COUNTS.append(counts)


_REPLAY_COUNTS: list[dict[str, int]] = []


def pytest_testnodedown(node: object, error: object) -> None:
    counts = getattr(node, "workeroutput", {}).get("tesseract_replay")
    if counts:
        _REPLAY_COUNTS.append(counts)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _REPLAY_COUNTS:
        return
    replayed = sum(c["replayed"] for c in _REPLAY_COUNTS)
    computed = sum(c["computed"] for c in _REPLAY_COUNTS)
    if not replayed + computed:  # no test here asked Tesseract
        return
    terminalreporter.write_line(
        f"OCR replay: {replayed} answers replayed, {computed} computed by Tesseract or RapidOCR "
        "outside tests/tesseract_replay.py REAL_OCR (record them: DOCASSET_TESSERACT_REPLAY="
        "record, then python -m tests.tesseract_replay merge)"
        if computed
        else f"OCR replay: {replayed} answers replayed, none missing"
    )


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``--dist loadfile`` with the files of one world in one unit (see ``WORLD_FILES``)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    config.option.loadscopereorder = False  # keep the collection's longest-first order

    class WorldScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::")[0]
            return _UNIT_OF_FILE.get(path, path)

    return WorldScheduling(config, log)
