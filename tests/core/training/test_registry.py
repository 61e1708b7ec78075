from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest
import spacy

from docasset.cli import main as cli_main
from docasset.core.extraction.extract import Calibration, ModelBundle
from docasset.core.extraction.fields import load_doctype
from docasset.core.training.registry import Registry
from docasset.core.workdir import Workdir
from docasset.errors import ModelError, StoreError


def _bundle() -> ModelBundle:
    nlp = spacy.blank("en")
    nlp.add_pipe("ner")
    nlp.initialize()
    return ModelBundle(nlp, load_doctype("receipt"), Calibration(), {"total": 0.9})


def test_register_alias_log_and_rollback(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    v1 = reg.register(_bundle(), {"training_set_version": "a"})
    v2 = reg.register(_bundle(), {"training_set_version": "b"})
    assert [v.version for v in reg.versions()] == ["v0001", "v0002"]
    assert reg.resolve("production") is None and reg.load("production") is None
    reg.set_alias("production", v1.version, "first")
    reg.set_alias("production", v2.version, "better")
    assert reg.load("production").thresholds == {"total": 0.9}
    assert [e["to"] for e in reg.history()] == ["v0001", "v0002"]
    assert reg.rollback("bad release") == "v0001"
    assert reg.aliases()["production"] == "v0001"
    assert reg.get("v0002").info["parent"] is None


def test_unknown_versions_and_aliases_fail_clearly(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    with pytest.raises(ModelError, match="not found"):
        reg.set_alias("production", "v0099", "nope")
    with pytest.raises(ModelError, match="unknown alias"):
        reg.set_alias("staging", "v0001", "nope")
    with pytest.raises(ModelError, match="no earlier"):
        reg.rollback()
    with pytest.raises(ModelError, match="not a docasset model"):
        ModelBundle.load(tmp_path)


def test_version_keeps_lineage_config_and_metrics(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    with pytest.raises(ModelError, match="training_set_version"):
        reg.register(_bundle(), {"n_train": 3})
    v1 = reg.register(_bundle(), {"training_set_version": "a", "config": {"epochs": 5}})
    reg.set_alias("production", v1.version, "first")
    v2 = reg.register(_bundle(), {"training_set_version": "b", "n_train": 40})
    info = v2.info
    assert info["parent"] == "v0001" and info["training_set_version"] == "b"
    assert datetime.fromisoformat(info["created_at"]).tzinfo is not None
    assert info["config"]["thresholds"] == {"total": 0.9}
    assert (v2.path / info["config"]["pipeline_config"]).is_file()  # spaCy's config.cfg
    assert v1.info["config"]["epochs"] == 5 and info["n_train"] == 40
    assert "metrics" not in info
    reg.record_metrics("v0002", {"micro_f1": 0.9, "automation_rate": 0.5})
    assert reg.get("v0002").info["metrics"]["micro_f1"] == 0.9
    assert json.loads((v2.path / "version.json").read_text())["version"] == "v0002"  # untouched
    with pytest.raises(ModelError, match="not found"):
        reg.record_metrics("v0099", {})


def test_moves_are_logged_with_kind_and_rollback_walks_back(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    for s in "abc":
        reg.register(_bundle(), {"training_set_version": s})
    reg.set_alias("production", "v0001", "gate passed")
    reg.set_alias("production", "v0002", "gate passed")
    reg.set_alias("production", "v0003", "hotfix", actor="alice", kind="manual")
    assert reg.rollback("v0003 breaks totals", actor="bob") == "v0002"
    assert reg.rollback("v0002 too") == "v0001"  # walks back, does not toggle to v0003
    with pytest.raises(ModelError, match="no earlier"):
        reg.rollback()
    log = reg.history()
    assert [(e["to"], e["kind"]) for e in log] == [
        ("v0001", "promote"),
        ("v0002", "promote"),
        ("v0003", "manual"),
        ("v0002", "rollback"),
        ("v0001", "rollback"),
    ]
    assert log[2]["actor"] == "alice" and log[3]["reason"] == "v0003 breaks totals"
    assert json.loads((tmp_path / "aliases.json").read_text()) == {"production": "v0001"}
    with pytest.raises(ModelError, match="kind"):
        reg.set_alias("production", "v0002", "x", kind="yolo")


def test_cli_lists_promotes_and_rolls_back(tmp_path: Path, capsys, monkeypatch) -> None:
    reg = Registry(Workdir(tmp_path).models)
    for s in "ab":
        reg.register(_bundle(), {"training_set_version": f"set-{s}"})
    reg.set_alias("production", "v0001", "gate passed")
    reg.record_metrics("v0001", {"micro_f1": 0.875, "automation_rate": 0.4})
    monkeypatch.setenv("USER", "carol")
    assert cli_main(["--home", str(tmp_path), "model", "promote", "v0002", "--reason", "hot"]) == 0
    assert reg.history()[-1] | {"at": None} == {
        "at": None,
        "alias": "production",
        "from": "v0001",
        "to": "v0002",
        "kind": "manual",
        "reason": "manual: hot",
        "actor": "carol",
    }
    capsys.readouterr()
    assert cli_main(["--home", str(tmp_path), "model", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["version", "created", "parent"] and "golden F1" in lines[0]
    assert "set-a" in lines[1] and "0.875" in lines[1] and "0.40" in lines[1]
    assert lines[2].split()[-1] == "production" and "set-b" in lines[2]
    assert cli_main(["--home", str(tmp_path), "model", "rollback", "--reason", "oops"]) == 0
    assert reg.aliases()["production"] == "v0001"


@pytest.mark.parametrize("name", ["../../../../evil", "v0001/../../evil", "/etc", "v1", "V0001"])
def test_promote_refuses_what_is_not_a_version_of_this_registry(
    tmp_path: Path, capsys, name: str
) -> None:
    """Issue 11: ``docasset model promote ../../../../evil`` pointed production outside."""
    reg = Registry(Workdir(tmp_path).models)
    reg.register(_bundle(), {"training_set_version": "a"})
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "version.json").write_text("{}")
    assert cli_main(["--home", str(tmp_path), "model", "promote", name, "--reason", "x"]) == 1
    err = capsys.readouterr().err
    assert "not a model version name" in err or "not found" in err
    assert reg.aliases() == {} and reg.history() == []


def _break(path: Path, how: str) -> None:
    if how == "truncated model.json":
        (path / "model.json").write_text('{"doc_type": "rec')
    elif how == "missing pipeline meta":
        (path / "pipeline" / "meta.json").unlink()
    elif how == "model.json without calibration":
        meta = json.loads((path / "model.json").read_text())
        del meta["calibration"]
        (path / "model.json").write_text(json.dumps(meta))
    elif how == "garbage pipeline config":
        (path / "pipeline" / "config.cfg").write_text("[nlp\nlang = \n")
    elif how == "truncated version.json":
        (path / "version.json").write_text('{"version": "v00')


@pytest.mark.parametrize(
    "how",
    [
        "truncated model.json",
        "missing pipeline meta",
        "model.json without calibration",
        "garbage pipeline config",
        "truncated version.json",
    ],
)
def test_a_corrupted_version_gives_clear_errors_and_cannot_be_promoted(
    tmp_path: Path, capsys, how: str
) -> None:
    reg = Registry(Workdir(tmp_path).models)
    good = reg.register(_bundle(), {"training_set_version": "a"})
    bad = reg.register(_bundle(), {"training_set_version": "b"})
    reg.set_alias("production", good.version, "first")
    _break(bad.path, how)
    home = ["--home", str(tmp_path)]
    assert cli_main([*home, "model", "promote", bad.version, "--reason", "x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("docasset: error: ") and "Traceback" not in err
    assert bad.version in err
    assert reg.aliases()["production"] == good.version
    assert cli_main([*home, "model", "list"]) == 0  # lists it, says it is unusable
    out = capsys.readouterr().out
    assert "UNUSABLE" in out if how == "truncated version.json" else bad.version in out
    with pytest.raises(ModelError):
        reg.validate(bad.version)
    if how != "truncated version.json":  # an alias pointing at it already: loading says why
        (tmp_path / "models" / "aliases.json").write_text(json.dumps({"production": bad.version}))
        with pytest.raises(ModelError, match=bad.version):
            reg.load("production")


def test_a_killed_registry_write_is_swept_when_the_registry_is_next_opened(
    tmp_path: Path,
) -> None:
    """Issue 23 defect 15: a registry write killed mid-way left ``models/.tmp-*`` (MBs) for
    ever. Temp dirs of a dead writer go; those of a live writer stay."""
    import subprocess

    from docasset.core.training.registry import TMP_VERSION

    proc = subprocess.Popen(["true"])
    proc.wait()
    dead = tmp_path / f"{TMP_VERSION}{proc.pid}-abc"
    live = tmp_path / f"{TMP_VERSION}{os.getpid()}-def"
    old = tmp_path / ".tmp-xyz"  # an older docasset's temp dir: swept once an hour old
    for d in (dead, live, old):
        d.mkdir()
        (d / "model.bin").write_bytes(b"\0" * 1000)
    os.utime(old, (0, 0))
    reg = Registry(tmp_path)
    assert sorted(reg.swept) == sorted([dead.name, old.name])
    assert live.is_dir() and not dead.exists() and not old.exists()


def test_a_deleted_aliases_file_is_rebuilt_from_the_alias_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 23 defect 13: every document "no production model yet", no warning.
    reg = Registry(tmp_path)
    for s in "ab":
        reg.set_alias("production", reg.register(_bundle(), {"training_set_version": s}).version, s)
    reg.set_alias("candidate", "v0001", "c")
    (tmp_path / "aliases.json").unlink()
    fresh = Registry(tmp_path)
    with caplog.at_level("WARNING", logger="docasset"):
        assert fresh.resolve("production").version == "v0002"
    assert "aliases.json is missing: rebuilt from aliases.log.jsonl" in caplog.text
    assert json.loads((tmp_path / "aliases.json").read_text()) == {
        "candidate": "v0001",
        "production": "v0002",
    }
    (tmp_path / "aliases.json").write_text("{torn")
    with pytest.raises(StoreError, match=r"aliases.json: damaged .* To recover: delete"):
        fresh.aliases()


def test_a_version_is_loaded_once_per_process_until_its_files_change(tmp_path: Path) -> None:
    """Runs in one worker share the loaded production bundle (spaCy load is the dominant fixed
    cost of a small run); a version whose model files change is loaded afresh."""
    reg = Registry(Workdir(tmp_path).models)
    a = reg.register(_bundle(), {"training_set_version": "a"})
    b = reg.register(_bundle(), {"training_set_version": "b"})
    reg.set_alias("production", a.version, "first")
    first = reg.load("production")
    assert first is not None and first is reg.load(a.version)
    assert first is Registry(Workdir(tmp_path).models).load("production")  # another handle
    other = reg.load(b.version)
    assert other is not None and other is not first and other.version == b.version
    meta = a.path / "model.json"
    data = json.loads(meta.read_text())
    data["thresholds"] = {"total": 0.5}
    meta.write_text(json.dumps(data))
    again = reg.load("production")
    assert again is not None and again is not first and again.thresholds == {"total": 0.5}
