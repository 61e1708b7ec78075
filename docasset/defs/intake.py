"""Stage 1: ``raw_scans`` (inbox batch -> recorded, archived or quarantined files with quality
measures) and its blocking ``scan_quality`` gate."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

from docasset.core.intake.scan_table import scan_rows, summarize_batch
from docasset.defs.partitions import batches
from docasset.defs.resources import DocassetHome
from docasset.defs.settings import Settings


@dg.asset(
    partitions_def=batches,
    io_manager_key="frames_io",
    group_name="intake",
    kinds={"polars"},
    description="One row per page of every file in an inbox batch (status ok, duplicate or "
    "quarantined, with reason), with DPI, blur, contrast, skew and blank-page measures.",
)
def raw_scans(context, home: DocassetHome, settings: Settings) -> pl.DataFrame:
    wd = home.workdir()
    df = scan_rows(
        wd, context.partition_key, settings.intake_limits(), settings.quality_thresholds()
    )
    s = summarize_batch(df)
    context.add_output_metadata(
        {
            "files": s["files"],
            "documents_ok": s["ok"],
            "duplicates": s["duplicate"],
            "quarantined": s["quarantined"],
            # Files intake or page decoding raised on (an outcome each, not the step's).
            "unexpected_errors": s["reasons"].get("unexpected_error", 0),
            "pages": s["pages"],
            "bad_scans": s["bad_scan_docs"],
            "quarantine": dg.MetadataValue.md(s["quarantine_md"]),
            "dagster/row_count": df.height,
        }
    )
    return df


@dg.asset_check(
    asset=raw_scans,
    blocking=True,
    partitions_def=batches,
    description="Fails when the share of unusable files (quarantined or bad scans) "
    "in the batch is above settings.quality.max_bad_scan_share.",
)
def scan_quality(raw_scans: pl.DataFrame, settings: Settings) -> dg.AssetCheckResult:
    s = summarize_batch(raw_scans)
    files = max(s["files"] - s["duplicate"], 1)
    bad = s["quarantined"] + s["bad_scan_docs"]
    share = bad / files
    meta: dict[str, Any] = {
        "bad_share": float(share),
        "threshold": settings.quality_thresholds().max_bad_scan_share,
        "files": s["files"],
        "bad_files": bad,
        **{f"reason_{k}": v for k, v in s["reasons"].items()},
    }
    return dg.AssetCheckResult(
        passed=share <= settings.quality_thresholds().max_bad_scan_share, metadata=meta
    )
