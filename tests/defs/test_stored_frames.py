"""Stored frames read through the IO manager: a batch partition that was materialized and is
now missing or damaged fails its consumer naming the file and the command that writes it
again, never an empty frame (issue 23 defects 9 and 10)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from docasset.core.batches import BatchFrames
from docasset.defs.partitions import ALL_BATCHES, batches, concat_batches
from docasset.defs.resources import FramesIOManager

KEYS = ["b20261124T100000-aaaaaa", "b20261124T110000-bbbbbb"]


@dg.asset(partitions_def=batches, io_manager_key="frames_io")
def docs(context) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    return pl.DataFrame({"doc_id": [f"{context.partition_key}-{i}" for i in range(8)]})


@dg.asset(ins={"docs": dg.AssetIn(**ALL_BATCHES)})
def training_set(docs: BatchFrames) -> int:
    full = concat_batches(docs)
    return 0 if full is None else full.height


def _world(tmp_path: Path, instance: dg.DagsterInstance) -> tuple[dict, Path]:
    resources = {"frames_io": FramesIOManager(base_dir=str(tmp_path / "storage"))}
    instance.add_dynamic_partitions("batches", [*KEYS, "b20261124T120000-cccccc"])  # 3rd: no run
    for k in KEYS:
        assert dg.materialize(
            [docs], partition_key=k, instance=instance, resources=resources
        ).success
    return resources, tmp_path / "storage" / "docs"


def _consume(resources: dict, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [docs, training_set],
        selection=[training_set],
        instance=instance,
        resources=resources,
        raise_on_error=False,
    )


def _error(res: dg.ExecuteInProcessResult) -> dg.SerializableErrorInfo:
    [failure] = [e for e in res.all_events if e.is_step_failure]
    error = failure.step_failure_data.error
    while error.cause is not None and error.cls_name != "StoreError":
        error = error.cause
    return error


def test_all_batches_read_and_a_batch_never_run_is_not_an_error(tmp_path: Path, instance) -> None:
    resources, _ = _world(tmp_path, instance)
    res = _consume(resources, instance)
    assert res.success and res.output_for_node("training_set") == 16


@pytest.mark.parametrize("damage", ["deleted", "truncated"])
def test_a_missing_or_damaged_partition_fails_naming_it_and_the_command(
    tmp_path: Path, instance, damage: str
) -> None:
    resources, store = _world(tmp_path, instance)
    path = store / f"{KEYS[1]}.parquet"
    if damage == "deleted":  # before: 8 documents silently fewer, success
        path.unlink()
    else:  # before: "parquet: File out of specification", no file name
        path.write_bytes(path.read_bytes()[: path.stat().st_size * 6 // 10])
    res = _consume(resources, instance)
    assert not res.success
    error = _error(res)
    assert error.cls_name == "StoreError" and str(path) in error.message
    assert ("missing" if damage == "deleted" else "damaged") in error.message
    assert f"--assets docs --partition {KEYS[1]}" in error.message
