"""The review queue's offline export in the project's own format: ``queue.jsonl``, one entry
per queued document (the Label Studio tasks of the queue are built by ``ls_tasks``)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from docasset.core.crash import crashpoint
from docasset.core.extraction.fields import DocType
from docasset.core.extraction.prediction_table import from_frame, to_json
from docasset.core.files import atomic_write


def export_review(
    doctype: DocType, queued: pl.DataFrame, documents: pl.DataFrame, root: Path, out: Path
) -> dict[str, int]:
    """Write ``queue.jsonl`` for the queued predictions (``review_queue_frame``) into ``out``;
    ``documents`` gives each document's archived image (under ``root``). Returns counts."""
    reasons = dict(queued.select("doc_id", "queue_reason").unique("doc_id").iter_rows())
    images = dict(documents.select("doc_id", "stored_path").iter_rows())
    queue = [
        {
            **to_json(doctype, pred, pred.doc_id),
            "doc_id": pred.doc_id,
            "image": str(root / images.get(pred.doc_id, "")),
            "queue_reason": reasons[pred.doc_id],
        }
        for pred in from_frame(queued.drop("queue_reason"))
    ]
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(
        out / "queue.jsonl",
        "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in queue).encode(),
    )
    crashpoint("review_export")
    return {
        "documents": len(queue),
        "qa_sample": sum(q["queue_reason"] == "qa_sample" for q in queue),
    }
