"""Values pickled under the flat module paths of earlier releases still load."""

from __future__ import annotations

import pickle
import subprocess
import sys

import polars as pl

from docasset.core.training.curate import RECORD_SCHEMA, CuratedSet


def test_a_curated_set_pickled_under_the_old_path_loads_as_the_new_class(tmp_path) -> None:
    cur = CuratedSet("receipt", b"", b"", b"", pl.DataFrame(schema=RECORD_SCHEMA), ["d1"], "v1")
    # Pickle it as an earlier release did: the class named by its old module path.
    CuratedSet.__module__ = "docasset.core.curate"
    try:
        data = pickle.dumps(cur)
    finally:
        CuratedSet.__module__ = "docasset.core.training.curate"
    assert b"docasset.core.curate" in data and b"training" not in data
    (tmp_path / "value.pkl").write_bytes(data)
    code = (
        "import pickle, sys; v = pickle.load(open(sys.argv[1], 'rb')); "
        "from docasset.core.training.curate import CuratedSet; "
        "assert type(v) is CuratedSet and v.golden_ids == ['d1'], v"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "value.pkl")], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]


def test_a_curated_set_pickled_before_it_moved_to_training_loads(tmp_path) -> None:
    cur = CuratedSet("receipt", b"", b"", b"", pl.DataFrame(schema=RECORD_SCHEMA), ["d2"], "v2")
    CuratedSet.__module__ = "docasset.core.validation.curate"  # where it lived before
    try:
        data = pickle.dumps(cur)
    finally:
        CuratedSet.__module__ = "docasset.core.training.curate"
    assert b"docasset.core.validation.curate" in data
    (tmp_path / "value.pkl").write_bytes(data)
    code = (
        "import pickle, sys; v = pickle.load(open(sys.argv[1], 'rb')); "
        "from docasset.core.training.curate import CuratedSet; "
        "assert type(v) is CuratedSet and v.golden_ids == ['d2'], v"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "value.pkl")], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]


def test_old_paths_are_only_aliases_of_the_new_modules() -> None:
    code = (
        "import docasset.core.curate as a, docasset.core.training.curate as b; "
        "import docasset.core.validation.curate as c; "
        "import docasset.core.monitoring.reference as d; "
        "import docasset.core.training.health_reference as e; "
        "import docasset.core.validation.label_studio as f; "
        "import docasset.core.validation.review_queue as g; "
        "assert a is b is c, (a, b, c); assert d is e, (d, e); assert f is g, (f, g)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]


def test_an_unknown_old_name_is_still_an_import_error() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import docasset.core.no_such_module"],
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0 and "ModuleNotFoundError" in out.stderr
