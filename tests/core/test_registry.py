from __future__ import annotations

from pathlib import Path

import pytest
import spacy

from docasset.core.extract import Calibration, ModelBundle
from docasset.core.fields import load_doctype
from docasset.core.registry import Registry
from docasset.errors import ModelError


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
