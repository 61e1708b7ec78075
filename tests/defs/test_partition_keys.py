"""Batch partition keys are names docasset made: a key typed into the UI never reaches the disk
outside ``DOCASSET_HOME`` (issue 23 defect 5)."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from docasset.core.workdir import Workdir
from docasset.defs.intake import raw_scans
from docasset.defs.partitions import batches
from docasset.defs.resources import FramesIOManager
from docasset.defs.validation import review_dir
from docasset.errors import UnsafePathError


@pytest.mark.parametrize("key", ["../../evil2", "ABSOLUTE"])
def test_a_hostile_batch_key_reads_writes_and_moves_nothing_outside_the_home(
    tmp_path: Path, instance, make_defs, key: str
) -> None:
    if key == "ABSOLUTE":  # an absolute path (kept inside the test's directory)
        key = str(tmp_path / "evil-abs")
    wd = Workdir(tmp_path / "a" / "work")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me where I am")
    # What the attacker prepared: a manifest at the key's path naming a file outside the home.
    manifest = (wd.batches / f"{key}.json") if not key.startswith("/") else Path(f"{key}.json")
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(
        json.dumps(
            {
                "batch_id": key,
                "entries": [
                    {"entry": "x", "source_name": "x", "kind": "file", "path": str(victim)},
                ],
            }
        )
    )
    instance.add_dynamic_partitions("batches", [key])
    before = sorted(p for p in tmp_path.rglob("*") if wd.root not in p.parents)
    res = dg.materialize(
        [raw_scans],
        partition_key=key,
        instance=instance,
        resources=make_defs(wd.root).resources,
        raise_on_error=False,
    )
    assert not res.success
    [failure] = [e for e in res.all_events if e.is_step_failure]
    error = failure.step_failure_data.error
    while error.cause is not None and error.cls_name != "UnsafePathError":
        error = error.cause
    assert error.cls_name == "UnsafePathError" and "not a docasset batch id" in error.message
    assert victim.read_text() == "keep me where I am"  # not moved into the quarantine
    assert sorted(p for p in tmp_path.rglob("*") if wd.root not in p.parents) == before
    with pytest.raises(UnsafePathError):
        review_dir(wd.root, key)


@dg.asset(partitions_def=batches, io_manager_key="frames_io")
def frame(context) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    return pl.DataFrame({"doc_id": [context.partition_key]})


def test_the_frame_store_writes_nothing_outside_its_directory(tmp_path: Path, instance) -> None:
    storage = tmp_path / "home" / "storage"
    instance.add_dynamic_partitions("batches", ["../../../evil3"])
    res = dg.materialize(
        [frame],
        partition_key="../../../evil3",
        instance=instance,
        resources={"frames_io": FramesIOManager(base_dir=str(storage))},
        raise_on_error=False,
    )
    assert not res.success
    assert not list(tmp_path.rglob("evil3*"))  # before: tmp_path/evil3.parquet
