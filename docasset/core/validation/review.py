"""The review queue's offline export: Label Studio tasks (with pre-annotations and the
labelling config) and the project's own JSONL, one entry per queued document."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from docasset.core.extraction.fields import DocType
from docasset.core.extraction.prediction_table import from_frame, to_json
from docasset.core.files import atomic_write
from docasset.core.validation.label_studio import labelling_config, review_task


def export_review(
    doctype: DocType, queued: pl.DataFrame, documents: pl.DataFrame, root: Path, out: Path
) -> dict[str, int]:
    """Write ``label-studio-tasks.json``, ``label-studio-config.xml`` and ``queue.jsonl`` for
    the queued predictions (``review_queue_frame``) into ``out``; ``documents`` gives each
    document's text and archived image (under ``root``). Returns counts."""
    reasons = dict(queued.select("doc_id", "queue_reason").unique("doc_id").iter_rows())
    docs = {
        r["doc_id"]: r
        for r in documents.select("doc_id", "text", "stored_path").iter_rows(named=True)
    }
    tasks, queue = [], []
    for pred in from_frame(queued.drop("queue_reason")):
        doc = docs.get(pred.doc_id, {"text": "", "stored_path": ""})
        image = str(root / doc["stored_path"])
        why = reasons[pred.doc_id]
        tasks.append(review_task(doctype, pred, doc["text"], image, why))
        queue.append(
            {
                **to_json(doctype, pred, pred.doc_id),
                "doc_id": pred.doc_id,
                "image": image,
                "queue_reason": why,
            }
        )
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(
        out / "label-studio-tasks.json", json.dumps(tasks, indent=1, ensure_ascii=False).encode()
    )
    atomic_write(out / "label-studio-config.xml", labelling_config(doctype).encode())
    atomic_write(
        out / "queue.jsonl",
        "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in queue).encode(),
    )
    return {
        "documents": len(queue),
        "qa_sample": sum(q["queue_reason"] == "qa_sample" for q in queue),
    }
