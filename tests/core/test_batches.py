"""The lazy batch inputs: only the batches a question needs are read."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from docasset.core.batches import BatchFrames, rows_of, where
from docasset.core.intake.index import DocumentIndex
from docasset.errors import StoreError


def _write(root: Path, batch: str, ids: list[str], day: int = 1) -> Path:
    path = root / f"{batch}.parquet"
    when = datetime(2026, 11, day, 12, tzinfo=UTC)
    pl.DataFrame(
        {"doc_id": ids, "n": list(range(len(ids))), "predicted_at": [when] * len(ids)}
    ).write_parquet(path)
    return path


@pytest.fixture
def frames(tmp_path: Path) -> BatchFrames:
    paths = {f"b{i}": _write(tmp_path, f"b{i}", [f"d{i}a", f"d{i}b"], day=i + 1) for i in range(4)}
    paths["never-written"] = tmp_path / "never-written.parquet"  # a partition with no file
    return BatchFrames(paths, materialized=[f"b{i}" for i in range(4)], asset="documents")


def _index(mapping: dict[str, str]):  # type: ignore[no-untyped-def]
    return lambda ids: {d: mapping[d] for d in ids if d in mapping}


def test_a_mapping_of_the_written_batches_read_on_access(frames: BatchFrames) -> None:
    assert sorted(frames) == ["b0", "b1", "b2", "b3"] and len(frames) == 4
    assert frames["b2"]["doc_id"].to_list() == ["d2a", "d2b"]


def test_rows_of_reads_only_the_batches_the_index_names(
    frames: BatchFrames, tmp_path: Path
) -> None:
    # Unreadable files in the other batches prove they are not opened.
    for b in ("b0", "b2", "b3"):
        (tmp_path / f"{b}.parquet").write_bytes(b"not parquet")
    got = frames.rows_of(["d1b"], _index({"d1b": "b1"}))
    assert got is not None and got["doc_id"].to_list() == ["d1b"]
    assert frames.rows_of([], _index({})) is None


def test_ids_the_index_does_not_know_are_searched_in_every_batch(frames: BatchFrames) -> None:
    got = frames.rows_of(["d3a", "d0b"], _index({"d3a": "b3"}))  # d0b: not indexed
    assert got is not None and sorted(got["doc_id"].to_list()) == ["d0b", "d3a"]
    assert frames.rows_of(["nowhere"], _index({})) is None


def test_where_filters_every_batch(frames: BatchFrames) -> None:
    got = frames.where(pl.col("predicted_at") >= datetime(2026, 11, 3, tzinfo=UTC))
    assert got is not None and sorted(got["doc_id"].to_list()) == ["d2a", "d2b", "d3a", "d3b"]
    assert frames.where(pl.col("n") > 5) is None


def test_plain_dicts_answer_the_same(frames: BatchFrames) -> None:
    plain = {k: frames[k] for k in frames}
    index = _index({"d1b": "b1", "d3a": "b3"})
    a, b = rows_of(plain, ["d1b", "d3a"], index), rows_of(frames, ["d1b", "d3a"], index)
    assert a is not None and b is not None and a.sort("doc_id").equals(b.sort("doc_id"))
    pred = pl.col("n") == 1
    assert where(plain, pred).sort("doc_id").equals(where(frames, pred).sort("doc_id"))  # type: ignore[union-attr]


def test_the_documents_index_answers_in_bulk(tmp_path: Path) -> None:
    ix = DocumentIndex.for_root(tmp_path)
    for i in range(1200):  # more than one query's worth of ids
        ix.claim(f"d{i:04d}", f"b{i % 7}", f"{i}-x.png", "x.png", f"batches/b{i % 7}/{i}-x.png")
    got = ix.batches_of([f"d{i:04d}" for i in range(1200)] + ["unknown"])
    assert len(got) == 1200 and got["d0008"] == "b1" and "unknown" not in got


def test_a_materialized_batch_whose_file_is_gone_is_an_error_naming_it(tmp_path: Path) -> None:
    # Issue 23 defect 9: a deleted documents Parquet silently shrank the training set.
    paths = {f"b{i}": _write(tmp_path, f"b{i}", [f"d{i}"]) for i in range(2)}
    paths["b1"].unlink()
    with pytest.raises(StoreError) as err:
        BatchFrames(paths, materialized=["b0", "b1"], asset="documents")
    assert err.value.path == str(paths["b1"]) and "missing" in err.value.problem
    assert "dg launch --assets" in err.value.recovery
    assert "--assets documents --partition b1" in err.value.recovery
    # Not materialized yet (its run is still going): not an error, just not there.
    assert sorted(BatchFrames(paths, materialized=["b0"])) == ["b0"]


def test_a_damaged_batch_file_is_an_error_naming_the_file_and_the_command(
    frames: BatchFrames, tmp_path: Path
) -> None:
    # Issue 23 defect 10: "parquet: File out of specification" with no file name.
    path = tmp_path / "b1.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 6 // 10])
    for read in (
        lambda: frames["b1"],
        lambda: frames.rows_of(["d1a"], _index({"d1a": "b1"})),
        lambda: frames.where(pl.col("n") >= 0),
    ):
        with pytest.raises(StoreError) as err:
            read()
        assert err.value.path == str(path) and "damaged" in err.value.problem
        assert "--partition b1" in str(err.value)
