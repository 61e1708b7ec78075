"""One config: every core tunable is reachable from ``Settings``, with its one default."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

import dagster as dg
import pytest

import docasset.core
from docasset.core.tunable import is_config, tunables
from docasset.defs.settings import SECTIONS, Settings, section_types


def _core_configs() -> set[type]:
    found: set[type] = set()
    for mod in pkgutil.walk_packages(docasset.core.__path__, "docasset.core."):
        if mod.name.endswith("_legacy"):
            continue
        m = importlib.import_module(mod.name)
        for _, obj in inspect.getmembers(m, inspect.isclass):
            if obj.__module__ == m.__name__ and is_config(obj):
                found.add(obj)
    return found


def test_every_core_config_dataclass_is_a_settings_section() -> None:
    configs = _core_configs()
    assert len(configs) >= 12  # the stages' configs were found at all
    assert configs == set(section_types().values()) == set(SECTIONS.values())


def test_each_section_carries_every_field_with_the_core_default_and_a_description() -> None:
    s = Settings()
    for name, core in SECTIONS.items():
        sec = getattr(s, name)
        for field, _, default, doc in tunables(core):
            spec = type(sec).model_fields[field]
            assert getattr(sec, field) == default, (name, field)
            assert spec.description == doc
        assert sec.core() == core()


def test_overrides_reach_the_core_dataclass() -> None:
    s = Settings(inbox={"settle_seconds": 0.5}, quality={"min_dpi": 99.0})
    assert s.inbox_config().settle_seconds == 0.5
    assert s.quality_thresholds().min_dpi == 99.0
    assert (
        s.quality_thresholds().min_blur
        == dataclasses.fields(type(s.quality_thresholds()))[1].default
    )


def test_a_misspelled_setting_is_refused() -> None:
    with pytest.raises(Exception, match="settle_secs"):
        Settings(inbox={"settle_secs": 1.0})


def test_run_config_overrides_a_nested_setting() -> None:
    @dg.asset
    def probe(settings: Settings) -> float:
        return settings.quality_thresholds().min_dpi

    res = dg.materialize(
        [probe],
        resources={"settings": Settings()},
        run_config={"resources": {"settings": {"config": {"quality": {"min_dpi": 123.0}}}}},
    )
    assert res.output_for_node("probe") == 123.0


def test_a_field_without_a_description_is_refused() -> None:
    @dataclasses.dataclass(frozen=True)
    class Bare:
        x: int = 1

    with pytest.raises(TypeError, match=r"Bare\.x"):
        tunables(Bare)
