"""Dagster-level fixtures: a working directory, a persistent test instance, the definitions."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest

from docasset.definitions import build_definitions
from docasset.defs.settings import Settings

# These synthetic worlds hold tens of documents: 299 checked values per field (what certifying
# 99 % at 95 % takes) are out of reach, so they route on the point estimate (certainty 0).
# Certification itself is tested in tests/core/extraction/test_certify.py and the training
# tests.
UNCERTIFIED: dict[str, object] = {"certainty": 0.0}


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def make_defs() -> Callable[..., dg.Definitions]:
    """Definitions for a working directory, with settings overrides (no inbox settle time)."""

    def make(home: Path, **sections: dict[str, object]) -> dg.Definitions:
        inbox = {"settle_seconds": 0.0, **sections.pop("inbox", {})}
        routing = {**UNCERTIFIED, **sections.pop("routing", {})}
        return build_definitions(str(home), Settings(inbox=inbox, routing=routing, **sections))

    return make


# The loop's documents come from 10 of the generator's vendors and months 1-9, so that the
# production-health tests (tests/defs/test_health.py, on a copy of the trained loop) can show
# documents of the other vendors and months as unseen.
N_TRAIN_VENDORS = 10  # the first ones of vendor_catalogue()
TRAIN_MONTHS = tuple(range(1, 10))


@dataclass
class Loop:
    """State after the steel-thread loop ran through sensors and runs (see ``loop``)."""

    root: Path
    home: Path
    dagster_home: Path
    instance: dg.DagsterInstance
    defs: dg.Definitions
    boot_dir: Path
    stream_dir: Path
    runs: dict[str, list[dg.ExecuteInProcessResult]] = field(default_factory=dict)
    # A copy of ``home`` right after the first model was promoted (before the production
    # intake), and the batch partitions then: each health test starts from it.
    trained_home: Path | None = None
    trained_batches: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    """The whole loop, once per session, through sensors and real runs on a persistent
    instance: bootstrap intake -> corrections -> retraining (first model) -> production
    intake with the model -> daily health. Tests assert on what it left behind. The files
    using it form one unit on one worker (``WORLD_FILES`` in tests/conftest.py)."""
    from datetime import UTC, datetime

    from docasset.core.workdir import Workdir
    from docasset.defs.driver import LocalDriver
    from docasset.sim.operators import corrections_from_keys, write_corrections
    from docasset.sim.synthetic.generate import generate, vendor_catalogue

    root = tmp_path_factory.mktemp("loop")
    dagster_home = root / "dagster_home"
    dagster_home.mkdir()
    with dg.instance_for_test(temp_dir=str(dagster_home)) as instance:
        home = root / "work"
        wd = Workdir(home)
        defs = build_definitions(
            str(home),
            Settings(
                inbox={"settle_seconds": 0.0},
                routing=UNCERTIFIED,
                retrain={"min_corrections": 20},
                split={"min_golden": 4},
            ),
        )
        driver = LocalDriver(instance, defs, home)
        state = Loop(root, home, dagster_home, instance, defs, root / "boot", root / "stream")
        world = {"vendors": vendor_catalogue()[:N_TRAIN_VENDORS], "months": TRAIN_MONTHS}
        for d in generate(state.boot_dir, 44, seed=21, prefix="b-", **world):
            shutil.copy(d.image_path, wd.inbox / d.image_path.name)
        state.runs["intake_1"] = driver.tick("inbox_sensor")
        state.runs["intake_again"] = driver.tick("inbox_sensor")
        write_corrections(
            wd.corrections_inbox / "boot.jsonl",
            corrections_from_keys(wd, state.boot_dir / "key", None, "alice"),
        )
        state.runs["corrections"] = driver.tick("corrections_sensor")
        train = {"ops": {"candidate_model": {"config": {"epochs": 15, "patience": 3}}}}
        state.runs["retrain"] = driver.tick("retrain_sensor", train)
        state.runs["retrain_again"] = driver.tick("retrain_sensor", train)
        state.trained_home = root / "trained"
        shutil.copytree(home, state.trained_home)
        state.trained_batches = instance.get_dynamic_partitions("batches")
        for d in generate(state.stream_dir, 8, seed=4, prefix="s-", **world):
            shutil.copy(d.image_path, wd.inbox / d.image_path.name)
        state.runs["intake_2"] = driver.tick("inbox_sensor")
        state.runs["health"] = [driver.run("health_job", datetime.now(UTC).strftime("%Y-%m-%d"))]
        yield state
