"""Every batch's stored frame of one asset, read only on demand.

A stage that needs "the history" rarely needs all of it: the corrections refer to a few
documents, a health day to the documents predicted that day. :class:`BatchFrames` is what an
input mapped to every batch partition receives (``docasset.defs.partitions.ALL_BATCHES``): a
``Mapping`` of batch id to frame whose values are read from their Parquet files when asked for,
plus two reads whose cost follows the question, not the number of batches:

- :meth:`BatchFrames.rows_of` reads only the batches that hold the wanted documents, found in
  the documents index (``docasset.core.intake.index``: doc id -> batch);
- :meth:`BatchFrames.where` scans every batch's file with a row filter pushed down to the
  Parquet reader (footers and statistics only for the batches whose rows do not match).

Iterating the mapping (``concat_batches``) still reads everything, for the rare full view.

A batch whose frame was materialized but whose file is gone or damaged is never read as "no
rows": it is a :class:`~docasset.errors.StoreError` naming the file and the command that
re-materializes the partition (``docs/damaged-state.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path

import polars as pl

from docasset.core.files import scan_parquet
from docasset.errors import StoreError

# doc ids -> the batch of each the index knows (a bulk lookup: one query, not one per id)
BatchesOf = Callable[[list[str]], Mapping[str, str]]


def rematerialize(asset: str, key: str | None = None) -> str:
    """The exact command that writes a stored frame again (a partition's, when ``key``)."""
    part = f" --partition {key}" if key else ""
    return (
        f"re-materialize {asset}{f' partition {key}' if key else ''} (Dagster UI, or "
        f"dg launch --assets {asset}{part} from the project directory)"
    )


class BatchFrames(Mapping[str, pl.DataFrame]):
    """Batch id -> that batch's frame, read from ``paths`` on access.

    ``materialized``: the batches whose frame was written (the instance's record; None: every
    key of ``paths``). A materialized batch without its file is a :class:`StoreError` at once
    (the consumer would otherwise see fewer documents and carry on); a batch never
    materialized (its run has not finished) is simply not in the mapping yet. ``asset`` names
    the stored frames in the errors' recovery command."""

    def __init__(
        self,
        paths: Mapping[str, Path],
        materialized: Collection[str] | None = None,
        asset: str = "the asset",
    ) -> None:
        self._asset = asset
        expected = set(paths) if materialized is None else set(materialized)
        gone = sorted(k for k, p in paths.items() if k in expected and not Path(p).is_file())
        if gone:
            raise StoreError(
                str(paths[gone[0]]),
                f"missing, with {len(gone)} stored partition(s) of {asset} recorded as "
                f"materialized ({', '.join(gone[:5])}{' ...' if len(gone) > 5 else ''})",
                "; ".join(rematerialize(asset, k) for k in gone[:5]),
            )
        self._paths = {k: Path(p) for k, p in paths.items() if Path(p).is_file()}

    def __getitem__(self, batch: str) -> pl.DataFrame:
        return scan_parquet(self._paths[batch], rematerialize(self._asset, batch))

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def rows_of(
        self, doc_ids: Iterable[str], batches_of: BatchesOf, columns: list[str] | None = None
    ) -> pl.DataFrame | None:
        """The rows of ``doc_ids`` (None when no batch holds any), only ``columns`` when given:
        only the batches the index names are read; ids the index does not know make every
        batch be scanned for them (a working directory older than the index), so nothing is
        silently missed."""
        wanted = sorted(set(doc_ids))
        if not wanted:
            return None
        found = batches_of(wanted)
        known = all(found.get(d) in self._paths for d in wanted)
        keys = sorted({found[d] for d in wanted}) if known else list(self._paths)
        return self._scan(keys, pl.col("doc_id").is_in(wanted), columns)

    def where(self, predicate: pl.Expr) -> pl.DataFrame | None:
        """The rows of every batch matching ``predicate`` (None when none does)."""
        return self._scan(list(self._paths), predicate)

    def _scan(
        self, keys: list[str], predicate: pl.Expr, columns: list[str] | None = None
    ) -> pl.DataFrame | None:
        def scan(k: str) -> pl.DataFrame:
            return scan_parquet(self._paths[k], rematerialize(self._asset, k), predicate, columns)

        frames = [scan(k) for k in keys]
        frames = [f for f in frames if f.height]
        return pl.concat(frames, how="diagonal_relaxed") if frames else None


def rows_of(
    parts: Mapping[str, pl.DataFrame],
    doc_ids: Iterable[str],
    batches_of: BatchesOf,
    columns: list[str] | None = None,
) -> pl.DataFrame | None:
    """:meth:`BatchFrames.rows_of` for any mapping (a plain dict is filtered in memory)."""
    if isinstance(parts, BatchFrames):
        return parts.rows_of(doc_ids, batches_of, columns)
    wanted = list(set(doc_ids))
    frames = [
        f.filter(pl.col("doc_id").is_in(wanted)).select(columns or f.columns)
        for f in parts.values()
        if f.height
    ]
    frames = [f for f in frames if f.height]
    return pl.concat(frames, how="diagonal_relaxed") if frames else None


def where(parts: Mapping[str, pl.DataFrame], predicate: pl.Expr) -> pl.DataFrame | None:
    """:meth:`BatchFrames.where` for any mapping."""
    if isinstance(parts, BatchFrames):
        return parts.where(predicate)
    frames = [f.filter(predicate) for f in parts.values() if f.height]
    frames = [f for f in frames if f.height]
    return pl.concat(frames, how="diagonal_relaxed") if frames else None
