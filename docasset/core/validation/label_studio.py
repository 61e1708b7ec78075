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

from docasset.core.extraction.extract import DocPrediction
from docasset.core.extraction.fields import DocType, collapse
from docasset.core.extraction.prediction_table import PREDICTIONS_SCHEMA

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
            "blockers": pred.blockers,
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
        who = who.get("email") or who.get("id")
        return who if isinstance(who, str) else "" if who is None else _user(who)
    return _user(who)


def _user(who: object) -> str:
    ok = isinstance(who, str) or (isinstance(who, int) and not isinstance(who, bool))
    return f"label-studio-user-{who}" if ok and str(who) else ""


def _offset(value: dict[str, Any], key: str) -> int | None:
    v = value.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


RESULT_TYPES = ("labels", "choices")


def _read_result(
    k: int, r: object, labels: dict[str, str], text: str | None, doctype: DocType
) -> tuple[list[tuple[str, int, int, str]], str | None, list[str]]:
    """One result -> (marks (field, start, end, surface), verdict, problems)."""
    if not isinstance(r, dict):
        return [], None, [f"result {k} is not an object"]
    kind = r.get("type")
    value = r.get("value")
    if kind not in RESULT_TYPES:
        return [], None, [f"result {k}: unsupported result type {kind!r} (use {RESULT_TYPES})"]
    if not isinstance(value, dict):
        return [], None, [f"result {k}: 'value' must be an object"]
    if kind == "choices":
        choices = value.get("choices")
        if not (isinstance(choices, list) and len(choices) == 1 and isinstance(choices[0], str)):
            return [], None, [f"result {k}: a verdict is one choice, got {choices!r}"[:200]]
        return [], choices[0], []
    names = value.get("labels")
    if not isinstance(names, list) or not names or not all(isinstance(x, str) for x in names):
        return [], None, [f"result {k}: 'labels' must be a list of label names"]
    start, end = _offset(value, "start"), _offset(value, "end")
    if start is None or end is None or not 0 <= start < end:
        return [], None, [f"result {k}: 'start' and 'end' must be integers, 0 <= start < end"]
    if text is not None and end > len(text):
        return [], None, [f"result {k}: span [{start}, {end}] is outside the task text"]
    surface = value.get("text")
    if surface is None and text is not None:
        surface = text[start:end]
    if not isinstance(surface, str):
        return [], None, [f"result {k}: the labelled text must be a string"]
    marks, problems = [], []
    for label in names:
        if label not in labels:
            problems.append(f"label {label!r} is not in the {doctype.name} schema")
        else:
            marks.append((labels[label], start, end, surface))
    return marks, None, problems


def _annotation(
    ann: dict[str, Any], doc_id: object, text: str | None, doctype: DocType
) -> tuple[dict[str, Any], list[str]]:
    results = ann.get("result")
    results = [] if results is None else results
    if not isinstance(results, list):
        return {}, ["'result' must be a list"]
    problems: list[str] = []
    marks: dict[str, list[tuple[int, int, str]]] = {}
    verdicts: list[str] = []
    for k, r in enumerate(results, start=1):
        found, verdict, errs = _read_result(k, r, doctype.labels, text, doctype)
        problems += errs
        verdicts += [verdict] if verdict is not None else []
        for name, start, end, surface in found:
            marks.setdefault(name, []).append((start, end, surface))
    if len(set(verdicts)) > 1:
        problems.append(f"two verdicts {sorted(set(verdicts))}")
    fields: dict[str, str | None] = {s.name: None for s in doctype.fields}
    spans: dict[str, list[int]] = {}
    for name, ms in marks.items():
        ms.sort()  # a field marked twice: its parts joined in text order
        fields[name] = collapse(" ".join(m[2] for m in ms))
        if len(ms) == 1:  # several parts have no single span; the aligner places them
            spans[name] = [ms[0][0], ms[0][1]]
    ts = ann.get("updated_at") or ann.get("created_at")
    obj = {
        "doc_id": doc_id,
        "fields": fields,
        "annotator": _annotator(ann),
        "timestamp": ts,
        "verdict": verdicts[0] if verdicts else None,
        "spans": spans,
    }
    return obj, problems


def corrections_from_export(
    tasks: object, doctype: DocType
) -> list[tuple[str, dict | None, list[str]]]:
    """(where, correction object or None, problems) per annotation of a Label Studio export.

    Total: any JSON value gives an answer, never an exception. Results of a type other than
    ``labels``/``choices``, offsets that are not integers with ``0 <= start < end`` (within the
    task text), non-string labels or text, and shapes other than Label Studio's are problems
    that reject the file."""
    if not isinstance(tasks, list):
        return [("file", None, ["a Label Studio export is a JSON list of tasks"])]
    out: list[tuple[str, dict | None, list[str]]] = []
    for i, task in enumerate(tasks, start=1):
        where = f"task {i}"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            out.append((where, None, ["not a task object with 'data'"]))
            continue
        doc_id = task["data"].get("doc_id")
        text = task["data"].get("text")
        if text is not None and not isinstance(text, str):
            out.append((where, None, ["'data.text' must be a string"]))
            continue
        anns = task.get("annotations")
        anns = [] if anns is None else anns
        if not isinstance(anns, list):
            out.append((where, None, ["'annotations' must be a list"]))
            continue
        # A task nobody annotated (exports include them) is simply not a correction.
        for j, ann in enumerate(anns, start=1):
            loc = f"{where} annotation {j}"
            if not isinstance(ann, dict):
                out.append((loc, None, ["an annotation must be an object"]))
                continue
            cancelled = ann.get("was_cancelled")
            if cancelled not in (None, True, False):
                out.append((loc, None, ["'was_cancelled' must be true or false"]))
                continue
            if cancelled:
                continue
            obj, problems = _annotation(ann, doc_id, text, doctype)
            out.append((loc, obj or None, problems))
    return out
