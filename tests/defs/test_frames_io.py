"""The frames IO manager (dagster-polars' Parquet IO manager under the home's storage/)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl

from docasset.core.batches import BatchFrames
from docasset.defs.partitions import ALL_BATCHES
from docasset.defs.resources import OPTIONAL, FramesIOManager

parts = dg.StaticPartitionsDefinition(["b1", "b2"])


@dg.asset(partitions_def=parts, io_manager_key="frames_io")
def frame(context) -> pl.DataFrame:
    return pl.DataFrame({"batch": [context.partition_key], "n": [len(context.partition_key)]})


@dg.asset(ins={"frame": dg.AssetIn(**ALL_BATCHES)}, io_manager_key="frames_io")
def every_batch(frame: BatchFrames) -> pl.DataFrame:
    assert isinstance(frame, BatchFrames)  # lazy: each batch read when asked for
    return pl.concat([frame[b] for b in sorted(frame)])


@dg.asset(io_manager_key="frames_io")
def never_materialized() -> pl.DataFrame:
    return pl.DataFrame({"x": [1]})


@dg.asset(ins={"never_materialized": dg.AssetIn(metadata={OPTIONAL: True})})
def reads_optional(never_materialized: pl.DataFrame | None) -> bool:
    return never_materialized is None


def test_frames_round_trip_under_the_home_and_batches_load_lazily(tmp_path: Path) -> None:
    io = FramesIOManager(home=str(tmp_path))
    resources = {"frames_io": io, "io_manager": dg.FilesystemIOManager(base_dir=str(tmp_path))}
    assets = [frame, every_batch, never_materialized, reads_optional]
    with dg.instance_for_test() as instance:
        for b in ("b1", "b2"):
            res = dg.materialize(
                assets, selection=["frame"], partition_key=b, resources=resources, instance=instance
            )
            assert res.success
        [mat] = res.asset_materializations_for_node("frame")
        assert mat.metadata["dagster/row_count"].value == 1
        stored = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.parquet"))
        assert stored == ["storage/frame/b1.parquet", "storage/frame/b2.parquet"]
        assert not list(tmp_path.rglob("*.tmp"))  # written under a temporary name, renamed
        res = dg.materialize(
            assets,
            selection=["every_batch", "reads_optional"],
            resources=resources,
            instance=instance,
        )
        assert res.success
        assert res.output_for_node("every_batch")["batch"].to_list() == ["b1", "b2"]
        assert res.output_for_node("reads_optional") is True  # absent, not an empty frame


def test_frames_go_through_fsspec_paths_too() -> None:
    # dagster-polars writes through the path's filesystem: an in-memory fsspec store here.
    # (The working directory's other files and the lazy batch reads are local-only.)
    io = FramesIOManager(base_dir="memory://docasset-test/storage")
    with dg.instance_for_test() as instance:
        res = dg.materialize(
            [frame], partition_key="b1", resources={"frames_io": io}, instance=instance
        )
        assert res.success
        loaded = dg.materialize(
            [frame, never_materialized],
            selection=["never_materialized"],
            resources={"frames_io": io},
            instance=instance,
        )
        assert loaded.success
    import fsspec

    fs = fsspec.filesystem("memory")
    assert fs.exists("/docasset-test/storage/frame/b1.parquet")
    back = pl.read_parquet(fs.open("/docasset-test/storage/frame/b1.parquet").read())
    assert back.to_dicts() == [{"batch": "b1", "n": 2}]
