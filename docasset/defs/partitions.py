"""Partitions: one dynamic partition per inbox batch; daily windows for production health."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
import polars as pl

from docasset.defs.resources import ALL_PARTITIONS

batches = dg.DynamicPartitionsDefinition(name="batches")
days = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_offset=1)

# An input mapped to every batch partition there is (none yet is fine): a lazy
# {batch: frame} (docasset.core.batches.BatchFrames) that reads only what the asset asks for.
ALL_BATCHES: dict[str, Any] = {
    "partition_mapping": dg.AllPartitionMapping(),
    "metadata": {"allow_missing_partitions": True, ALL_PARTITIONS: True},
}


def concat_batches(parts: Mapping[str, pl.DataFrame]) -> pl.DataFrame | None:
    """All batches' frames as one (None when there is no row yet): reads every batch, so
    only for a deliberate full view (the daily work uses ``BatchFrames.rows_of``/``where``)."""
    frames = [f for f in parts.values() if f.height]
    return pl.concat(frames, how="diagonal_relaxed") if frames else None
