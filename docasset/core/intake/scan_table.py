"""The ``raw_scans`` table: intake outcome per file and quality measures per page."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import pandera.polars as pa
import polars as pl

from docasset.core.intake.ledger import document_index, process_batch
from docasset.core.intake.quality import QualityThresholds, ocr_problems, page_problems
from docasset.core.intake.scans import (
    IntakeLimits,
    PageInfo,
    PageQuality,
    ScanFile,
    born_digital_pages,
    iter_pages,
    page_quality,
)
from docasset.core.isolation import isolating
from docasset.core.reporting.blocks import Table, to_markdown
from docasset.core.workdir import Workdir
from docasset.errors import DocumentError, ScanError

SCAN_COLUMNS: dict[str, Any] = {
    "batch_id": pl.Utf8,
    "entry": pl.Utf8,  # the batch entry (unique in the batch; names are not)
    "source_name": pl.Utf8,  # the name as found, as text (undecodable bytes escaped)
    "source_name_hex": pl.Utf8,  # its raw bytes in hex when it is not UTF-8
    "doc_id": pl.Utf8,
    "status": pl.Utf8,
    "reason": pl.Utf8,
    "detail": pl.Utf8,
    "stored_path": pl.Utf8,
    "format": pl.Utf8,
    "size_bytes": pl.Int64,
    "n_pages": pl.Int32,
    "page": pl.Int32,
    "width": pl.Int32,
    "height": pl.Int32,
    "dpi": pl.Float64,
    "est_dpi": pl.Float64,
    "blur": pl.Float64,
    "contrast": pl.Float64,
    "skew_deg": pl.Float64,
    "ink_ratio": pl.Float64,
    "text_rows": pl.Int32,
    "blank": pl.Boolean,
    # A PDF page printing its text, no scan: not rendered, its quality measures null.
    "born_digital": pl.Boolean,
    "problems": pl.List(pl.Utf8),
    "bad_scan": pl.Boolean,
}
SCANS_SCHEMA = pa.DataFrameSchema(
    {
        "batch_id": pa.Column(pl.Utf8, nullable=False),
        "entry": pa.Column(pl.Utf8, nullable=False),
        "source_name": pa.Column(pl.Utf8, nullable=False),
        "status": pa.Column(pl.Utf8, pa.Check.isin(["ok", "duplicate", "quarantined"])),
        "doc_id": pa.Column(pl.Utf8, nullable=True),
        "page": pa.Column(pl.Int32, pa.Check.ge(0), nullable=True),
        "bad_scan": pa.Column(pl.Boolean, nullable=False),
    },
    strict=False,
)


def accepted_scans(wd: Workdir, raw_scans: pl.DataFrame) -> list[tuple[str, ScanFile]]:
    """``(doc_id, ScanFile)`` of every accepted document of a ``raw_scans`` frame, in order."""
    ok = raw_scans.filter(pl.col("status") == "ok")
    pages: dict[str, list[dict[str, Any]]] = {}
    for r in ok.sort("page").iter_rows(named=True):
        pages.setdefault(r["doc_id"], []).append(
            {"page": r["page"], "width": r["width"], "height": r["height"], "dpi": r["dpi"]}
        )
    docs = ok.unique(subset=["doc_id"], keep="first", maintain_order=True)
    return [
        (r["doc_id"], scan_file(wd, r | {"pages": pages[r["doc_id"]]}))
        for r in docs.iter_rows(named=True)
    ]


def scan_file(wd: Workdir, rec: dict[str, Any]) -> ScanFile:
    """The archived ``ScanFile`` of an ``ok`` ledger record (no re-inspection needed)."""
    pages = tuple(PageInfo(p["page"], p["width"], p["height"], p["dpi"]) for p in rec["pages"])
    return ScanFile(
        wd.root / rec["stored_path"], rec["doc_id"], rec["format"], rec["size_bytes"], pages
    )


_BASE = (
    "batch_id",
    "entry",
    "source_name",
    "source_name_hex",
    "doc_id",
    "status",
    "reason",
    "detail",
    "stored_path",
    "format",
    "size_bytes",
)


def _page_rows(
    wd: Workdir,
    rec: dict[str, Any],
    base: dict[str, Any],
    limits: IntakeLimits,
    t: QualityThresholds,
) -> list[dict[str, Any]]:
    rows = []
    with isolating(f"{rec['batch_id']}/{rec.get('entry')}"):
        scan = scan_file(wd, rec)
        # A born-digital PDF page is no scan: rendering it at 300 DPI to measure blur and
        # skew cost seconds a page and measured nothing (its quality stays null).
        digital = born_digital_pages(scan)
        for info in scan.pages:
            if info.page in digital:
                rows.append(
                    {
                        **base,
                        "page": info.page,
                        "width": info.width,
                        "height": info.height,
                        "dpi": info.dpi,
                        "blank": False,
                        "born_digital": True,
                        "problems": [],
                        "bad_scan": False,
                    }
                )
        rest = replace(scan, pages=tuple(i for i in scan.pages if i.page not in digital))
        for info, img in iter_pages(rest, limits):
            q = page_quality(img, info.dpi)
            problems = page_problems(q, t)
            rows.append(
                {
                    **base,
                    "page": info.page,
                    "width": info.width,
                    "height": info.height,
                    "dpi": q.dpi,
                    "est_dpi": q.est_dpi,
                    "blur": q.blur,
                    "contrast": q.contrast,
                    "skew_deg": q.skew_deg,
                    "ink_ratio": q.ink_ratio,
                    "text_rows": q.text_rows,
                    "blank": q.blank,
                    "born_digital": False,
                    "problems": problems,
                    "bad_scan": bool(problems),
                }
            )
    return sorted(rows, key=lambda r: r["page"])


def scan_rows(
    wd: Workdir, batch_id: str, limits: IntakeLimits, t: QualityThresholds
) -> pl.DataFrame:
    """Process a batch and measure every page of its accepted documents.

    A document whose pages fail to decode here (it passed intake) is reported quarantined
    with the reason, in the frame and the documents index; the others go on."""
    rows: list[dict[str, Any]] = []
    for rec in process_batch(wd, batch_id, limits):
        base = {k: rec.get(k) for k in _BASE}
        base["entry"] = str(rec.get("entry") or rec["source_name"])
        base["n_pages"] = len(rec["pages"])
        if rec["status"] != "ok":
            rows.append({**base, "problems": [], "bad_scan": False})
            continue
        try:
            rows += _page_rows(wd, rec, base, limits, t)
        except (ScanError, DocumentError) as exc:  # passed intake, failed to decode later
            reason, detail = (
                (exc.reason, exc.detail)
                if isinstance(exc, ScanError)
                else ("unexpected_error", exc.cause)
            )
            document_index(wd).set_status(str(rec["doc_id"]), "quarantined", reason)
            rows.append(
                {
                    **base,
                    "status": "quarantined",
                    "reason": reason,
                    "detail": detail,
                    "problems": [],
                    "bad_scan": False,
                }
            )
    df = pl.DataFrame(rows, schema=SCAN_COLUMNS) if rows else pl.DataFrame(schema=SCAN_COLUMNS)
    # A document is a bad scan when any of its pages is: it must not become training data.
    df = df.with_columns(pl.col("bad_scan").any().over("doc_id").fill_null(False).alias("bad_scan"))
    return SCANS_SCHEMA.validate(df)


def summarize_batch(df: pl.DataFrame) -> dict[str, Any]:
    """Counts per status and per reason, and a Markdown table of quarantined files."""
    key = "entry" if "entry" in df.columns else "source_name"  # frames of an older docasset
    files = df.unique(subset=[key], keep="first", maintain_order=True)
    status = Counter(files["status"].to_list())
    ok = files.filter(pl.col("status") == "ok")
    reasons: Counter[str] = Counter(r for r in files["reason"].to_list() if r)
    bad_docs = df.filter((pl.col("status") == "ok") & pl.col("bad_scan"))
    for probs in bad_docs.unique(subset=["doc_id"])["problems"].to_list():
        reasons.update(probs or [])
    q = files.filter(pl.col("status") == "quarantined")
    # File names are anybody's text: shown as code, so markup in them stays text.
    table = Table(
        ["file", "reason", "detail"],
        [[r["source_name"], r["reason"] or "", r["detail"] or ""] for r in q.iter_rows(named=True)],
        code_columns=frozenset({0, 2}),
    )
    return {
        "files": files.height,
        "ok": ok.height,
        "duplicate": status.get("duplicate", 0),
        "quarantined": status.get("quarantined", 0),
        "pages": df.filter(pl.col("status") == "ok").height,
        "bad_scan_docs": bad_docs["doc_id"].n_unique(),
        "reasons": dict(reasons),
        "quarantine_md": to_markdown([table]).strip() if q.height else "(none)",
    }


def document_problems(
    scans: pl.DataFrame, words: pl.DataFrame, t: QualityThresholds
) -> dict[str, list[str]]:
    """Bad-scan reasons per accepted document: its pages' problems plus the OCR evidence
    (no text found, mean word confidence below the threshold). Empty lists are omitted."""
    ok = scans.filter(pl.col("status") == "ok")
    stats = dict(
        (d, (c, n))
        for d, c, n in words.group_by("doc_id").agg(pl.col("conf").mean(), pl.len()).iter_rows()
    )
    out: dict[str, list[str]] = {}
    for (doc_id,), pages in ok.partition_by("doc_id", as_dict=True, maintain_order=True).items():
        reasons = sorted({p for probs in pages["problems"].to_list() for p in probs or []})
        if "blank" not in reasons:
            conf, n = stats.get(doc_id, (None, 0))
            reasons += [r for r in ocr_problems(conf, n, t) if r not in reasons]
        if reasons:
            out[str(doc_id)] = reasons
    return out


def page_qualities(scans: pl.DataFrame) -> dict[str, list[PageQuality | None]]:
    """The measures ``raw_scans`` took, per accepted document and page (for the OCR stage;
    None for a born-digital page it did not render: an engine that OCRs it measures it)."""
    out: dict[str, list[PageQuality | None]] = {}
    ok = scans.filter(pl.col("status") == "ok").sort("doc_id", "page")
    for r in ok.iter_rows(named=True):
        out.setdefault(r["doc_id"], []).append(
            None
            if r.get("born_digital") or r["blur"] is None
            else PageQuality(
                r["dpi"],
                r["est_dpi"],
                r["blur"],
                r["contrast"],
                r["skew_deg"],
                r["ink_ratio"],
                r["text_rows"],
                r["blank"],
            )
        )
    return out
