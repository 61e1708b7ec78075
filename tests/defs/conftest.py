"""Dagster-level fixtures: a working directory, a persistent test instance, the definitions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest

from docasset.definitions import build_definitions
from docasset.defs.resources import Settings


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def make_defs() -> Callable[..., dg.Definitions]:
    """Definitions for a working directory, with settings overrides (no inbox settle time)."""

    def make(home: Path, **settings: object) -> dg.Definitions:
        return build_definitions(str(home), Settings(inbox_settle_seconds=0.0, **settings))  # type: ignore[arg-type]

    return make
