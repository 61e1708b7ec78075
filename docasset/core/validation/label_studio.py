"""Label Studio interchange: review tasks with pre-annotations out, exported annotations in.

Export (``review_tasks``): one task per review document, ``data`` holding the OCR text, the
page image path and the docasset ``doc_id``; ``predictions`` holding the model's spans with
``model_version`` and ``score`` (the calibrated confidence). Labelling config: a ``Labels``
control named ``label`` over ``text`` with the document type's labels, and a ``Choices``
control named ``verdict`` with ``irrelevant`` / ``bad_scan``.

Import (``corrections_from_export``): Label Studio's JSON export (a list of tasks, each with
``annotations``) becomes docasset corrections, one per (task, annotation).
"""

from __future__ import annotations

import hashlib
from typing import Any

import pandera.polars as pa
import polars as pl

from docasset.core.extraction.fields import DocType, collapse
from docasset.core.extraction.prediction_table import PREDICTIONS_SCHEMA
from docasset.core.extraction.routing import DocPrediction

QUEUE_REASONS = ("review", "qa_sample")
# The review queue: prediction rows of the queued documents, with why each is queued.
REVIEW_QUEUE_SCHEMA = PREDICTIONS_SCHEMA.add_columns(
    {"queue_reason": pa.Column(pl.Utf8, pa.Check.isin(list(QUEUE_REASONS)), nullable=False)}
)


def in_qa_sample(doc_id: str, rate: float) -> bool:
    """Whether an automated document is in the stable QA sample (salted id hash < rate; the
    salt keeps the sample independent of the train/dev/golden split)."""
    h = int(hashlib.sha256(f"qa-sample:{doc_id}".encode()).hexdigest()[:8], 16) / 2**32
    return h < rate


def review_queue_frame(predictions: pl.DataFrame, sample_rate: float) -> pl.DataFrame:
    """The documents routed to review plus the QA sample of automated ones (validated)."""
    sampled = [
        d
        for d in predictions.filter(pl.col("route") == "auto")["doc_id"].unique().to_list()
        if in_qa_sample(d, sample_rate)
    ]
    queued = predictions.filter(
        (pl.col("route") == "review") | pl.col("doc_id").is_in(sampled)
    ).with_columns(
        pl.when(pl.col("route") == "review")
        .then(pl.lit("review"))
        .otherwise(pl.lit("qa_sample"))
        .alias("queue_reason")
    )
    return REVIEW_QUEUE_SCHEMA.validate(queued)


def labelling_config(doctype: DocType) -> str:
    """The Label Studio labelling config XML for a document type."""
    labels = "\n".join(f'    <Label value="{f.label}"/>' for f in doctype.fields)
    return (
        '<View>\n  <Image name="page" value="$image"/>\n'
        f'  <Labels name="label" toName="text">\n{labels}\n  </Labels>\n'
        '  <Text name="text" value="$text"/>\n'
        '  <Choices name="verdict" toName="text" choice="single">\n'
        '    <Choice value="irrelevant"/>\n    <Choice value="bad_scan"/>\n  </Choices>\n</View>\n'
    )


def review_task(
    doctype: DocType, pred: DocPrediction, text: str, image: str, queue_reason: str = "review"
) -> dict[str, Any]:
    """One Label Studio task with the model's pre-annotations."""
    result = []
    for spec in doctype.fields:
        f = pred.fields[spec.name]
        if f.value is None or f.end <= f.start:
            continue
        result.append(
            {
                "from_name": "label",
                "to_name": "text",
                "type": "labels",
                "score": f.confidence,
                "value": {
                    "start": f.start,
                    "end": f.end,
                    "text": text[f.start : f.end],
                    "labels": [spec.label],
                },
            }
        )
    confs = [pred.fields[s.name].confidence for s in doctype.fields if pred.fields[s.name].value]
    return {
        "data": {
            "doc_id": pred.doc_id,
            "text": text,
            "image": image,
            "blockers": pred.blocker_texts,
            "field_status": pred.statuses(),
            "queue_reason": queue_reason,
        },
        "predictions": [
            {
                "model_version": pred.model_version or "none",
                "score": min(confs) if confs else 0.0,
                "result": result,
            }
        ],
    }


def _annotator(ann: dict[str, Any]) -> str:
    who = ann.get("completed_by")
    if isinstance(who, dict):
        return str(who.get("email") or who.get("id") or "")
    return "" if who is None else f"label-studio-user-{who}"


def corrections_from_export(
    tasks: object, doctype: DocType
) -> list[tuple[str, dict | None, list[str]]]:
    """(where, correction object or None, problems) per annotation of a Label Studio export."""
    if not isinstance(tasks, list):
        return [("file", None, ["a Label Studio export is a JSON list of tasks"])]
    labels = doctype.labels
    out: list[tuple[str, dict | None, list[str]]] = []
    for i, task in enumerate(tasks, start=1):
        where = f"task {i}"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            out.append((where, None, ["not a task object with 'data'"]))
            continue
        doc_id = task["data"].get("doc_id")
        text = task["data"].get("text")
        anns = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
        # A task nobody annotated (exports include them) is simply not a correction.
        for j, ann in enumerate(anns, start=1):
            problems: list[str] = []
            fields: dict[str, str | None] = {s.name: None for s in doctype.fields}
            spans: dict[str, list[int]] = {}
            verdict = None
            for r in ann.get("result") or []:
                value = r.get("value") or {}
                if r.get("type") == "choices":
                    verdict = (value.get("choices") or [None])[0]
                    continue
                for label in value.get("labels") or []:
                    if label not in labels:
                        problems.append(f"label {label!r} is not in the {doctype.name} schema")
                        continue
                    surface = value.get("text")
                    if surface is None and isinstance(text, str) and "start" in value:
                        surface = text[value["start"] : value["end"]]
                    name = labels[label]
                    if fields[name] is not None:  # a field marked twice: join in text order
                        surface = f"{fields[name]} {surface}"
                    fields[name] = collapse(surface or "")
                    spans[name] = [value.get("start", -1), value.get("end", -1)]
            obj = {
                "doc_id": doc_id,
                "fields": fields,
                "annotator": _annotator(ann),
                "timestamp": ann.get("updated_at") or ann.get("created_at"),
                "verdict": verdict,
                "spans": spans,
            }
            out.append((f"{where} annotation {j}", obj, problems))
    return out
