"""Promotion of corrected documents into the curated training set, and the frozen golden set.

Every corrected document is either promoted (split ``train``/``dev``/``golden`` by a stable
hash of its id) or excluded with a reason code. The golden evaluation set is frozen the first
time enough golden-bucket documents exist (``golden.json``); it is never trained on, and
golden-bucket documents arriving later are held back (``golden_reserve``), never trained on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import spacy

from docasset.core.corrections import latest_per_document
from docasset.core.fields import DocType, values_match
from docasset.core.files import atomic_write
from docasset.core.train import docs_to_bytes, make_training_doc

RECORD_SCHEMA = {
    "doc_id": pl.Utf8,
    "split": pl.Utf8,  # train | dev | golden | golden_reserve | excluded
    "reason": pl.Utf8,  # why excluded (null when promoted)
    "n_fields": pl.Int32,
    "n_aligned": pl.Int32,
    "alignment": pl.Utf8,  # JSON list of {field, method, score, start, end}
    "issues": pl.Utf8,  # JSON list of annotation-consistency issues
}


@dataclass(frozen=True)
class SplitConfig:
    """How documents are split; the fractions are of the stable id hash space."""

    golden_fraction: float = 0.2
    dev_fraction: float = 0.2
    min_golden: int = 5


@dataclass
class CuratedSet:
    """The curated training set: serialized ``DocBin``s per split plus one record per document."""

    doc_type: str
    train: bytes
    dev: bytes
    golden: bytes
    records: pl.DataFrame
    golden_ids: list[str]
    version: str = ""
    counts: dict[str, int] = field(default_factory=dict)


def bucket(doc_id: str) -> float:
    """A stable number in [0, 1) for a document id (the split never changes)."""
    return int(hashlib.sha256(doc_id.encode()).hexdigest()[:8], 16) / 2**32


def split_of(doc_id: str, cfg: SplitConfig) -> str:
    h = bucket(doc_id)
    if h < cfg.golden_fraction:
        return "golden"
    return "dev" if h < cfg.golden_fraction + cfg.dev_fraction else "train"


def load_golden(path: Path) -> list[str] | None:
    """The frozen golden ids, or None if not frozen yet."""
    return json.loads(path.read_text("utf-8"))["doc_ids"] if path.is_file() else None


def freeze_golden(path: Path, doc_ids: list[str]) -> None:
    """Freeze the golden set (written once; never rewritten)."""
    if path.exists():
        return
    atomic_write(path, json.dumps({"doc_ids": sorted(doc_ids)}, indent=1).encode())


def curate(
    doctype: DocType,
    corrections: pl.DataFrame,
    texts: dict[str, str],
    bad_scans: set[str],
    auto_correct: set[str],
    golden_path: Path,
    cfg: SplitConfig,
) -> CuratedSet:
    """Build the curated set from the corrections store.

    ``texts``: OCR text per document id; ``bad_scans``: ids flagged by scan quality;
    ``auto_correct``: ids the production model automated and got fully right (they teach
    nothing, so they are not promoted into training; they may still be golden).
    """
    nlp = spacy.blank("en")
    latest = latest_per_document(corrections)
    frozen = load_golden(golden_path)
    rows: list[dict[str, object]] = []
    docs: dict[str, list] = {"train": [], "dev": [], "golden": []}
    for row in latest.iter_rows(named=True):
        doc_id = row["doc_id"]
        values = {k: v for k, v in json.loads(row["fields_json"]).items() if v}
        split = split_of(doc_id, cfg)
        if split == "golden" and frozen is not None and doc_id not in frozen:
            split = "golden_reserve"
        reason = None
        if row["verdict"]:
            reason = row["verdict"]
        elif row["conflict"]:
            reason = "annotator_conflict"
        elif doc_id in bad_scans:
            reason = "bad_scan"
        elif doc_id not in texts:
            reason = "no_ocr_text"
        elif not values:
            reason = "no_field_values"
        elif doc_id in auto_correct and split in ("train", "dev"):
            reason = "already_right"
        alignment: list[dict[str, object]] = []
        issues: list[str] = []
        n_aligned = 0
        if reason is None:
            doc, aligns = make_training_doc(nlp, doctype, doc_id, texts[doc_id], values)
            alignment = [
                {
                    "field": a.field,
                    "method": a.method,
                    "score": round(a.score, 1),
                    "start": a.start,
                    "end": a.end,
                }
                for a in aligns
            ]
            n_aligned = sum(a.aligned for a in aligns)
            issues = [
                f"{a.field}: value not found in OCR text" for a in aligns if a.method == "none"
            ]
            issues += [
                f"{a.field}: overlaps another field" for a in aligns if a.method == "overlap"
            ]
            if n_aligned == 0:
                reason = "unalignable"
            elif split in docs:
                docs[split].append(doc)
        rows.append(
            {
                "doc_id": doc_id,
                "split": "excluded" if reason else split,
                "reason": reason,
                "n_fields": len(values),
                "n_aligned": n_aligned,
                "alignment": json.dumps(alignment),
                "issues": json.dumps(issues),
            }
        )
    if frozen is None and len(docs["golden"]) >= cfg.min_golden:
        frozen = [d.user_data["doc_id"] for d in docs["golden"]]
        freeze_golden(golden_path, frozen)
    records = (
        pl.DataFrame(rows, schema=RECORD_SCHEMA) if rows else pl.DataFrame(schema=RECORD_SCHEMA)
    )
    version = hashlib.sha256(
        b"".join(
            sorted(
                hashlib.sha256(d.text.encode() + str(d.ents).encode()).digest()
                for d in docs["train"] + docs["dev"]
            )
        )
    ).hexdigest()[:12]
    counts = {k: len(v) for k, v in docs.items()}
    counts["excluded"] = int(records.filter(pl.col("split") == "excluded").height)
    return CuratedSet(
        doctype.name,
        docs_to_bytes(docs["train"]),
        docs_to_bytes(docs["dev"]),
        docs_to_bytes(docs["golden"]),
        records,
        sorted(frozen or []),
        version,
        counts,
    )


def auto_correct_ids(doctype: DocType, preds: pl.DataFrame, corrections: pl.DataFrame) -> set[str]:
    """Documents routed ``auto`` whose every predicted field matches the latest correction."""
    latest = {
        r["doc_id"]: json.loads(r["fields_json"])
        for r in latest_per_document(corrections).iter_rows(named=True)
    }
    out: set[str] = set()
    auto = preds.filter((pl.col("route") == "auto") & pl.col("doc_id").is_in(list(latest)))
    for (doc_id,), rows in auto.partition_by("doc_id", as_dict=True).items():
        truth = latest[doc_id]
        if all(
            values_match(doctype.spec(r["field"]), r["value"], truth.get(r["field"]) or None)
            for r in rows.iter_rows(named=True)
        ):
            out.add(str(doc_id))
    return out
