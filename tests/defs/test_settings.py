"""One config: every core tunable is reachable from ``Settings``, with its one default."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re

import dagster as dg
import pytest

import docasset.core
from docasset.core.tunable import bounds, check, is_config, problem, tunables
from docasset.defs.resources import DocassetHome
from docasset.defs.settings import SECTIONS, Settings, section_types
from docasset.errors import ConfigError


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


@pytest.mark.parametrize(
    ("overrides", "named"),
    [  # issue 23 defect 17: all accepted, batch_max_files 0 left files in the inbox forever
        ({"quality": {"max_bad_scan_share": -1.0}}, "quality.max_bad_scan_share must be >= 0"),
        ({"routing": {"field_target": 7.5}}, "routing.field_target must be > 0 and <= 1"),
        ({"retrain": {"min_corrections": -3}}, "retrain.min_corrections must be >= 1"),
        ({"inbox": {"settle_seconds": -10.0}}, "inbox.settle_seconds must be >= 0"),
        ({"inbox": {"batch_max_files": 0}}, "inbox.batch_max_files must be >= 1"),
        ({"training": {"dropout": float("nan")}}, "training.dropout must be a finite number"),
        ({"health": {"drift_warn": 0.95}}, "health.drift_warn must be <= health.drift_error"),
        ({"training": {"batch_start": 64.0}}, "training.batch_start must be <= training.batch_end"),
    ],
)
def test_nonsense_settings_are_refused_at_load_naming_the_setting(
    overrides: dict, named: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        Settings(**overrides)


def test_every_numeric_setting_declares_its_range_and_its_default_is_in_it() -> None:
    for name, core in SECTIONS.items():
        check(core(), name)  # the defaults are valid
        for field, kind, _default, _ in tunables(core):
            if kind in (int, float):
                assert bounds(core, field), f"{name}.{field} declares no range"


def test_range_checks_are_pure_core_functions() -> None:
    assert problem(0.5, float, {"ge": 0, "le": 1}) is None
    assert problem(True, int, {"ge": 0}) == "must be a whole number, got True"
    assert problem("x", float, {}) == "must be a number, got 'x'"
    assert problem(2, int, {"gt": 2}) == "must be > 2, got 2"


def test_a_bad_value_in_run_config_fails_the_run_naming_the_setting(tmp_path, make_defs) -> None:
    from docasset.core.workdir import Workdir

    defs = make_defs(Workdir(tmp_path / "work").root)  # the home exists: only settings fail
    job = defs.resolve_job_def("corrections_job")
    with pytest.raises(dg.DagsterResourceFunctionError) as err:
        job.execute_in_process(
            run_config={
                "resources": {"settings": {"config": {"quality": {"max_bad_scan_share": 2.0}}}}
            },
            instance=dg.DagsterInstance.ephemeral(),
        )
    cause = err.value.__cause__
    assert isinstance(cause, ConfigError) and "quality.max_bad_scan_share" in str(cause)


def test_an_empty_docasset_home_is_an_error_for_the_cli_and_the_definitions(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: the definitions used the process's cwd, the CLI ./.docasset/work.
    from docasset.cli import main
    from docasset.core.workdir import default_home
    from docasset.definitions import build_definitions

    monkeypatch.chdir(tmp_path)
    assert default_home({}) == tmp_path / ".docasset" / "work"
    with pytest.raises(ConfigError, match="working directory is empty"):
        default_home({"DOCASSET_HOME": "  "})
    monkeypatch.setenv("DOCASSET_HOME", "")
    assert main(["memory", "list"]) == 1  # docasset: error: ... (no files made here)
    defs = build_definitions(None)  # the deployed definitions: home from dg.EnvVar
    with (
        pytest.raises(ConfigError, match="working directory is empty"),
        dg.build_resources({"home": defs.resources["home"]}) as resolved,
    ):
        resolved.home.workdir()  # what every asset and sensor asks first
    with pytest.raises(ConfigError, match="working directory is empty"):
        DocassetHome(root="").workdir()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
