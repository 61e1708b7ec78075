"""Validation stage: ``review_queue`` (what operators must check, exported for Label Studio)
and ``corrections`` (human-validated values imported from the corrections inbox)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import polars as pl

from docasset.core.extraction.prediction_table import from_frame, to_json
from docasset.core.files import atomic_write
from docasset.core.intake.ledger import known_doc_ids
from docasset.core.ocr.text import document_text
from docasset.core.validation.corrections import import_file, latest_per_document, read_store
from docasset.core.validation.curate import (
    PROMOTION_STATUS,
    promotion_status,
    sampled_auto_outcomes,
    write_promotion_status,
)
from docasset.core.validation.label_studio import labelling_config, review_queue_frame, review_task
from docasset.core.validation.memory import CorrectionMemory
from docasset.core.workdir import Workdir
from docasset.defs.partitions import ALL_BATCHES, batches, concat_batches
from docasset.defs.resources import DocassetHome
from docasset.defs.settings import Settings
from docasset.errors import CorrectionsError


def import_inbox(wd: Workdir, settings: Settings, log) -> tuple[list[dict], dict[str, list]]:
    """Import every file of the corrections inbox: accepted files are archived, rejected ones
    moved to ``rejected/`` with a ``.reasons.txt`` beside. Returns (imports, rejections)."""
    doctype = settings.doctype()
    known = known_doc_ids(wd)
    imported: list[dict] = []
    rejected: dict[str, list] = {}
    for path in sorted(
        p for p in wd.corrections_inbox.iterdir() if p.is_file() and not p.name.startswith(".")
    ):
        try:
            res = import_file(path, wd.corrections_store, doctype, known)
        except CorrectionsError as exc:
            rejected[path.name] = [f"line {n}: {why}" for n, why in exc.problems]
            log.error(str(exc))
            shutil.move(path, wd.corrections_rejected / path.name)
            atomic_write(
                wd.corrections_rejected / f"{path.name}.reasons.txt",
                ("\n".join(rejected[path.name]) + "\n").encode(),
            )
            continue
        imported.append(
            {
                "file": path.name,
                "stored": res.stored,
                "skipped": res.skipped,
                "already_imported": res.already_imported,
            }
        )
        shutil.move(path, wd.corrections_archive / f"{res.file_sha}-{path.name}")
    return imported, rejected


def _texts(words: pl.DataFrame | None, doc_ids: set[str]) -> dict[str, str]:
    if words is None:
        return {}
    return {
        str(d): document_text(w, str(d))
        for (d,), w in words.filter(pl.col("doc_id").is_in(list(doc_ids)))
        .partition_by("doc_id", as_dict=True)
        .items()
    }


@dg.asset(
    io_manager_key="frames_io",
    group_name="validation",
    kinds={"polars"},
    ins={
        "ocr_text": dg.AssetIn(**ALL_BATCHES),
        "predictions": dg.AssetIn(**ALL_BATCHES),
    },
    description="Every stored correction (append-only store). Each run imports the files in "
    "the corrections inbox: valid files are stored whole and archived; invalid files are "
    "rejected whole with line-level reasons and moved to corrections/rejected/. Then the "
    "correction memory learns the vendors' values and total keywords, and each correction's "
    "promotion status (for the retraining sensor) is recorded.",
)
def corrections(
    context,
    ocr_text: dict[str, pl.DataFrame],
    predictions: dict[str, pl.DataFrame],
    home: DocassetHome,
    settings: Settings,
) -> pl.DataFrame:
    wd = home.workdir()
    doctype = settings.doctype()
    imported, rejected = import_inbox(wd, settings, context.log)
    store = read_store(wd.corrections_store)
    latest = latest_per_document(store)
    memory = CorrectionMemory(wd.memory)
    known = {e.source_correction for e in memory.entries()}
    # Texts only for corrections the memory has not learned from yet (total keywords).
    fresh = set(latest.filter(~pl.col("correction_id").is_in(list(known)))["doc_id"].to_list())
    learned = memory.learn(store, _texts(concat_batches(ocr_text), fresh))
    preds = concat_batches(predictions)
    bad = set(preds.filter(pl.col("bad_scan"))["doc_id"].to_list()) if preds is not None else set()
    outcomes = sampled_auto_outcomes(doctype, preds, store) if preds is not None else {}
    status = promotion_status(store, bad, outcomes, settings.split_config())
    write_promotion_status(wd.curated / PROMOTION_STATUS, status)
    context.add_output_metadata(
        {
            "files_imported": len(imported),
            "files_rejected": len(rejected),
            "imports": dg.MetadataValue.json(imported),
            "rejections": dg.MetadataValue.json(rejected),
            "corrections": store.height,
            "documents_corrected": latest.height,
            "conflicts": int(latest["conflict"].sum()) if latest.height else 0,
            "promotable": sum(r is None for r in status.values()),
            "memory_entries_added": len(learned),
            "memory_entries": dg.MetadataValue.json(
                [f"{e.vendor}: {e.field} ({e.kind}) = {e.value}" for e in learned[:50]]
            ),
            "dagster/row_count": store.height,
        }
    )
    return store


@dg.asset(
    partitions_def=batches,
    io_manager_key="frames_io",
    group_name="validation",
    kinds={"polars"},
    description="The batch's documents routed to review, plus a stable QA sample of touchless "
    "ones (settings.qa.auto_sample_rate; queue_reason 'qa_sample'): predicted values, "
    "confidences, per-field status (field_status: accepted fields are shown locked, only the "
    "to_check ones are asked), blockers and page image. Exported for operators as Label "
    "Studio tasks with pre-annotations (review/<batch>/label-studio-tasks.json, plus the "
    "labelling config) and as the project's own JSONL (review/<batch>/queue.jsonl).",
)
def review_queue(
    context,
    raw_scans: pl.DataFrame,
    ocr_text: pl.DataFrame,
    predictions: pl.DataFrame,
    home: DocassetHome,
    settings: Settings,
) -> pl.DataFrame:
    wd = home.workdir()
    doctype = settings.doctype()
    queued = review_queue_frame(predictions, settings.qa_config().auto_sample_rate)
    reasons = dict(queued.select("doc_id", "queue_reason").unique("doc_id").iter_rows())
    groups = {k[0]: v for k, v in ocr_text.partition_by("doc_id", as_dict=True).items()}
    images = dict(
        raw_scans.filter(pl.col("status") == "ok")
        .select("doc_id", "stored_path")
        .unique(subset=["doc_id"])
        .iter_rows()
    )
    tasks, queue = [], []
    for pred in from_frame(queued.drop("queue_reason")):
        text = document_text(groups[pred.doc_id], pred.doc_id) if pred.doc_id in groups else ""
        image = str(wd.root / images.get(pred.doc_id, ""))
        why = reasons[pred.doc_id]
        tasks.append(review_task(doctype, pred, text, image, why))
        queue.append(
            {
                **to_json(doctype, pred, pred.doc_id),
                "doc_id": pred.doc_id,
                "image": image,
                "queue_reason": why,
            }
        )
    out = review_dir(wd.root, context.partition_key)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(
        out / "label-studio-tasks.json", json.dumps(tasks, indent=1, ensure_ascii=False).encode()
    )
    atomic_write(out / "label-studio-config.xml", labelling_config(doctype).encode())
    atomic_write(
        out / "queue.jsonl",
        "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in queue).encode(),
    )
    context.add_output_metadata(
        {
            "documents": len(queue),
            "qa_sample": sum(q["queue_reason"] == "qa_sample" for q in queue),
            "fields_to_check": int((queued["field_status"] == "to_check").sum()),
            "fields_accepted": int((queued["field_status"] == "accepted").sum()),
            "label_studio_tasks": dg.MetadataValue.path(str(out / "label-studio-tasks.json")),
            "queue_jsonl": dg.MetadataValue.path(str(out / "queue.jsonl")),
            "dagster/row_count": queued.height,
        }
    )
    return queued


def review_dir(root: Path, batch: str) -> Path:
    """Where ``review_queue`` exports a batch."""
    return root / "review" / batch
