"""Partitions: one dynamic partition per inbox batch; daily windows for production health."""

from __future__ import annotations

import dagster as dg

batches = dg.DynamicPartitionsDefinition(name="batches")
days = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_offset=1)
