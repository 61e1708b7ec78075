"""Stage 1: ``raw_scans`` (inbox batch -> recorded, archived or quarantined files with quality
measures) and its blocking ``scan_quality`` gate."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

from docasset.core.intake.scan_table import scan_rows, summarize_batch
from docasset.core.recovery import hold, released
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
    description="Fails when the share of bad scans among the batch's accepted documents is "
    "above settings.quality.max_bad_scan_share (entries intake refused - links, special "
    "files, corrupt or disguised files - are not scans: reported, not counted). A blocked "
    "batch is held (its documents archived, not OCRed) until `docasset release <batch>`.",
)
def scan_quality(
    context,
    raw_scans: pl.DataFrame,
    home: DocassetHome,
    settings: Settings,
) -> dg.AssetCheckResult:
    s = summarize_batch(raw_scans)
    share = s["bad_scan_docs"] / s["ok"] if s["ok"] else 0.0
    threshold = settings.quality_thresholds().max_bad_scan_share
    meta: dict[str, Any] = {
        "bad_share": float(share),
        "threshold": threshold,
        "files": s["files"],
        "scans": s["ok"],
        "bad_files": s["bad_scan_docs"],
        "refused": s["quarantined"],
        **{f"reason_{k}": v for k, v in s["reasons"].items()},
    }
    if share <= threshold:
        return dg.AssetCheckResult(passed=True, metadata=meta)
    wd, batch = home.workdir(), context.partition_key
    rel = released(wd, batch)
    if rel is not None and rel.get("gate_released"):  # an operator let this batch through
        meta["released_by"] = str(rel.get("released_by"))
        meta["release_reason"] = str(rel.get("reason"))
        return dg.AssetCheckResult(passed=True, metadata=meta)
    hold(
        wd, batch, context.run.run_id, {"bad_share": share, "threshold": threshold, **s["reasons"]}
    )
    return dg.AssetCheckResult(
        passed=False,
        metadata=meta,
        description=f"{s['bad_scan_docs']} of {s['ok']} scans are bad (share {share:.2f} > "
        f"{threshold}): batch held; release it with `docasset release {batch} --reason ...`",
    )
