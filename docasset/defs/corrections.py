"""Validation stage: ``review_queue`` (what operators must check, exported for Label Studio)
and ``corrections`` (human-validated values imported from the corrections inbox)."""

from __future__ import annotations

import json
import shutil

import dagster as dg
import polars as pl

from docasset.core.corrections import import_file, latest_per_document, read_store
from docasset.core.files import atomic_write
from docasset.core.intake import known_doc_ids
from docasset.core.label_studio import labelling_config, review_task
from docasset.core.memory import CorrectionMemory
from docasset.core.ocr import document_text
from docasset.core.prediction_table import from_frame, to_json
from docasset.defs.partitions import batches
from docasset.defs.resources import DocassetHome, Settings
from docasset.errors import CorrectionsError


@dg.asset(
    io_manager_key="frames_io",
    group_name="validation",
    kinds={"polars"},
    description="Every stored correction (append-only store). Each run imports the files in "
    "the corrections inbox: valid files are stored whole and archived; invalid files are "
    "rejected whole with line-level reasons and moved to corrections/rejected/.",
)
def corrections(context, home: DocassetHome, settings: Settings) -> pl.DataFrame:
    wd = home.workdir()
    doctype = settings.doctype()
    known = known_doc_ids(wd)
    imported, rejected = [], {}
    for path in sorted(
        p for p in wd.corrections_inbox.iterdir() if p.is_file() and not p.name.startswith(".")
    ):
        try:
            res = import_file(path, wd.corrections_store, doctype, known)
        except CorrectionsError as exc:
            rejected[path.name] = [f"line {n}: {why}" for n, why in exc.problems]
            context.log.error(str(exc))
            shutil.move(path, wd.corrections_rejected / path.name)
            (wd.corrections_rejected / f"{path.name}.reasons.txt").write_text(
                "\n".join(rejected[path.name]) + "\n", "utf-8"
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
    store = read_store(wd.corrections_store)
    latest = latest_per_document(store)
    learned = CorrectionMemory(wd.memory).learn(store)
    context.add_output_metadata(
        {
            "files_imported": len(imported),
            "files_rejected": len(rejected),
            "imports": dg.MetadataValue.json(imported),
            "rejections": dg.MetadataValue.json(rejected),
            "corrections": store.height,
            "documents_corrected": latest.height,
            "conflicts": int(latest["conflict"].sum()) if latest.height else 0,
            "memory_entries_added": len(learned),
            "dagster/row_count": store.height,
        }
    )
    return store


@dg.asset(
    partitions_def=batches,
    io_manager_key="frames_io",
    group_name="validation",
    kinds={"polars"},
    description="The batch's documents routed to review: predicted values, confidences, "
    "blockers and page image. Exported for operators as Label Studio tasks with "
    "pre-annotations (review/<batch>/label-studio-tasks.json, plus the labelling config) and "
    "as the project's own JSONL (review/<batch>/queue.jsonl).",
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
    review = predictions.filter(pl.col("route") == "review")
    groups = {k[0]: v for k, v in ocr_text.partition_by("doc_id", as_dict=True).items()}
    images = dict(
        raw_scans.filter(pl.col("status") == "ok")
        .select("doc_id", "stored_path")
        .unique(subset=["doc_id"])
        .iter_rows()
    )
    tasks, queue = [], []
    for pred in from_frame(review):
        text = document_text(groups[pred.doc_id], pred.doc_id) if pred.doc_id in groups else ""
        image = str(wd.root / images.get(pred.doc_id, ""))
        tasks.append(review_task(doctype, pred, text, image))
        queue.append({**to_json(doctype, pred, pred.doc_id), "doc_id": pred.doc_id, "image": image})
    out = wd.root / "review" / context.partition_key
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
            "label_studio_tasks": dg.MetadataValue.path(str(out / "label-studio-tasks.json")),
            "queue_jsonl": dg.MetadataValue.path(str(out / "queue.jsonl")),
            "dagster/row_count": review.height,
        }
    )
    return review
