"""Label Studio annotations in: one docasset correction per annotation of a JSON export.

A box's typed text is the field's value (boxes of one field are joined in reading order), a
field ticked "not on this document" is ``null``, a field neither boxed nor ticked is left out
(untouched: not known), an accepted box left as pre-filled is left out too (not asked; a box
drawn with the field's own label replaces it); a
verdict (``irrelevant``, ``bad_scan``) stores no field values, as the JSONL format does.
Slips the labelling UI lets through are refused with what to do: two boxes for a one-value
field (an amount, a date, an identifier), and a pre-annotated box relabelled (clicking a label
while a box is selected relabels it) that leaves its former field with no box and no "not on
this document" tick. Exports of the earlier text-span config (``Labels`` over the OCR text)
still import. JSON-MIN
and CSV exports are refused with a message saying to export JSON: they lose which value belongs
to which box.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from docasset.core.extraction.fields import DocType, collapse
from docasset.core.files import clean_text, stored_name
from docasset.core.validation.ls_config import (
    ABSENT,
    ACCEPTED,
    ACCEPTED_FIELD,
    ACCEPTED_SUFFIX,
    FIELD,
    STATUS,
    VALUE,
    VERDICT,
)

USE_JSON = (
    "export the project from Label Studio as JSON (Export -> JSON); JSON-MIN and CSV "
    "exports lose which value belongs to which box"
)

DOC_ID_MAX = 200  # a docasset doc id is a 16-hex hash; anything this long is not one


def pulled_file(project: int, task: object) -> tuple[str, str | None]:
    """The corrections-inbox file name of one pulled Label Studio task, and what is wrong with
    its ``data.doc_id`` (None: nothing). The name is always safe to create (bounded, no
    separators, a hash of the task keeps different tasks apart), whatever the task holds, so
    one odd task never stops a pull; the import then refuses an unknown doc id with its
    reason, like any corrections file."""
    digest = hashlib.sha256(json.dumps(task, sort_keys=True, default=str).encode()).hexdigest()[:12]
    data = task.get("data") if isinstance(task, dict) else None
    doc_id = data.get("doc_id") if isinstance(data, dict) else None
    problem = None
    if not isinstance(doc_id, str) or not doc_id:
        problem = "no doc_id in the task's data"
    elif len(doc_id) > DOC_ID_MAX or stored_name(doc_id) != doc_id:
        problem = f"doc_id {clean_text(repr(doc_id), 80)} is not a docasset document id"
    part = stored_name(str(doc_id), 64) if isinstance(doc_id, str) and doc_id else "no-doc-id"
    return f"label-studio-p{int(project)}-{part}-{digest}.json", problem


Problems = list[str]
TEXT_RESULT_TYPES = ("labels", "choices")  # what the earlier text-span config produces
Parsed = list[tuple[str, dict[str, Any] | None, Problems]]


def annotator(ann: dict[str, Any]) -> str:
    """Who made an annotation: the Label Studio user's email when the export carries it (the
    pull resolves user ids to emails), else ``label-studio-user-<id>`` (file exports hold ids
    only)."""
    who = ann.get("completed_by")
    if isinstance(who, dict):
        email = who.get("email")
        return email if isinstance(email, str) and email else _user(who.get("id"))
    return _user(who)


def _user(who: object) -> str:
    """``label-studio-user-<id>`` for a user id (an int or a string), else "" (no annotator)."""
    ok = isinstance(who, str) or (isinstance(who, int) and not isinstance(who, bool))
    return f"label-studio-user-{who}" if ok and str(who) else ""


def _offset(value: dict[str, Any], key: str) -> int | None:
    v = value.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _number(v: object) -> float | None:
    ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    return float(v) if ok else None  # type: ignore[arg-type]


def _strings(v: object) -> list[str] | None:
    """``v`` when it is a list of strings, else None."""
    return v if isinstance(v, list) and all(isinstance(x, str) for x in v) else None


@dataclass
class _Region:
    label: str | None = None
    texts: list[str] = field(default_factory=list)
    status: set[str] = field(default_factory=set)
    order: tuple[float, float, float] = (0.0, 0.0, 0.0)  # page, top, left: reading order


def _choices(value: dict[str, Any]) -> list[str]:
    return _strings(value.get("choices") or []) or []


def predicted_labels(task: dict[str, Any]) -> dict[str, str]:
    """Region id -> field label of the boxes docasset pre-annotated on a task (its
    predictions, as the pull and JSON exports carry them; {} when absent)."""
    out: dict[str, str] = {}
    preds = task.get("predictions")
    for pred in preds if isinstance(preds, list) else []:
        result = pred.get("result") if isinstance(pred, dict) else None
        for r in result if isinstance(result, list) else []:
            if not isinstance(r, dict) or r.get("type") != "rectanglelabels":
                continue
            names = _strings((r.get("value") or {}).get("rectanglelabels") or [])
            if names and len(names) == 1:
                out[str(r.get("id"))] = names[0].removesuffix(ACCEPTED_SUFFIX)
    return out


def _slips(
    regions: dict[str, _Region], doctype: DocType, predicted: dict[str, str], absent: list[str]
) -> Problems:
    """What the labelling UI lets an operator do by accident: two boxes for a one-value field
    (their texts would be joined into one value), or a pre-annotated box relabelled that
    leaves its former field with nothing (no box, no "not on this document" tick)."""
    problems: Problems = []
    by_label: dict[str, list[str]] = {}
    for reg in regions.values():
        if reg.label is not None and reg.label in doctype.labels and ACCEPTED not in reg.status:
            by_label.setdefault(reg.label, []).append(collapse(" ".join(reg.texts)))
    for label, texts in by_label.items():
        spec = doctype.spec(doctype.labels[label])
        if spec.type != "text" and len(texts) > 1:
            shown = ", ".join(repr(t) for t in texts)
            problems.append(
                f"{label} has {len(texts)} boxes ({shown}): it is one value; delete the extra "
                "box or give it its own label"
            )
    for rid, reg in regions.items():
        was = predicted.get(rid)
        if was is None or reg.label is None or reg.label == was or was not in doctype.labels:
            continue
        accepted_box = any(
            r.label == was and ACCEPTED in r.status for r in regions.values() if r is not reg
        )
        if was not in by_label and was not in absent and not accepted_box:
            text = collapse(" ".join(reg.texts))
            problems.append(
                f"the {was} box ({text!r}) was relabelled {reg.label} and {was} has no box "
                f"left (a label clicked while a box is selected relabels it): set the label "
                f"back to {was}, or box the {was} or tick it under 'not on this document'"
            )
    return problems


def _page_annotation(
    result: list[dict[str, Any]],
    doctype: DocType,
    accepted: dict[str, str],
    predicted: dict[str, str] | None = None,
) -> tuple[dict[str, str | None], str | None, Problems]:
    """Fields, verdict and problems of one annotation made with the page-image config
    (``predicted``: region id -> label of the pre-annotated boxes, for the relabel check)."""
    problems: Problems = []
    regions: dict[str, _Region] = {}
    absent: list[str] = []
    verdict = None
    for k, r in enumerate(result, start=1):
        if not isinstance(r, dict) or not isinstance(r.get("value") or {}, dict):
            problems.append(f"result {k} is not an object with an object 'value'")
            continue
        value, kind, control = r.get("value") or {}, r.get("type"), r.get("from_name")
        if kind == "choices" and _strings(value.get("choices") or []) is None:
            problems.append(f"result {k}: 'choices' must be a list of strings")
            continue
        reg = regions.setdefault(str(r.get("id")), _Region())
        if kind == "choices" and control == STATUS:
            reg.status |= set(_choices(value))
        elif kind == "choices" and control == ABSENT:
            absent += _choices(value)
        elif kind == "choices" and control == VERDICT:
            verdict = next(iter(_choices(value)), None)
        elif kind == "rectanglelabels" and control in (FIELD, ACCEPTED_FIELD):
            names = _strings(value.get("rectanglelabels") or [])
            if control == ACCEPTED_FIELD and names is not None:  # shown, not asked
                names = [n.removesuffix(ACCEPTED_SUFFIX) for n in names]
                reg.status.add(ACCEPTED)
            where = [_number(r.get("item_index") or 0), _number(value.get("y", 0))]
            where.append(_number(value.get("x", 0)))
            if names is None or None in where:
                problems.append(f"result {k}: a box needs label names and numeric x, y, page")
                continue
            if len(names) != 1:
                problems.append(f"a box has {len(names)} field labels, not one")
            reg.label = names[0] if names else None
            reg.order = (where[0], where[1], where[2])  # type: ignore[assignment]
        elif kind == "textarea" and control == VALUE:
            texts = _strings(value.get("text") or [])
            if texts is None:
                problems.append(f"result {k}: a box's 'text' must be a list of strings")
                continue
            reg.texts += texts
        else:
            problems.append(f"result {kind!r} from {control!r} is not in docasset's config")
    if verdict is not None:  # the page teaches nothing: no field values, as in the JSONL format
        return {}, verdict, problems
    problems += _slips(regions, doctype, predicted or {}, absent)
    labels = doctype.labels
    boxes: dict[str, list[tuple[tuple[float, float, float], str, set[str]]]] = {}
    for reg in regions.values():
        if reg.label is None and not reg.texts:
            continue  # a region holding only choices (or nothing): no value
        if reg.label is None:
            problems.append(f"a box holding {collapse(' '.join(reg.texts))!r} has no field label")
        elif reg.label not in labels:
            problems.append(f"label {reg.label!r} is not in the {doctype.name} schema")
        elif not collapse(" ".join(reg.texts)):
            problems.append(
                f"the {reg.label} box has no value: type the value as printed into the box's "
                "text area, or delete the box"
            )
        else:
            entry = (reg.order, collapse(" ".join(reg.texts)), reg.status)
            boxes.setdefault(labels[reg.label], []).append(entry)
    fields: dict[str, str | None] = {}
    for name, entries in boxes.items():
        entries.sort(key=lambda e: e[0])
        asked = [e for e in entries if ACCEPTED not in e[2]]
        if asked:  # a box drawn for a field the model accepted replaces the accepted one
            entries = asked
        joined = collapse(" ".join(text for _, text, _ in entries))
        ticked = any(ACCEPTED in st for _, _, st in entries)
        if ticked and joined == collapse(accepted.get(name) or ""):
            continue  # shown pre-filled, not asked, left as it was: nobody checked it
        fields[name] = joined
    for label in absent:
        if label not in labels:
            problems.append(f"label {label!r} (not on this document) is not in the schema")
        elif labels[label] in fields:
            problems.append(f"{label} has a value and is marked not on this document")
        else:
            fields[labels[label]] = None
    return fields, None, problems


def _read_span(
    k: int, r: object, doctype: DocType, text: str | None
) -> tuple[list[tuple[str, int, int, str]], str | None, Problems]:
    """One result of the text-span config -> (marks (field, start, end, surface), verdict,
    problems). Only ``labels`` and ``choices`` results exist there; offsets are integers with
    ``0 <= start < end`` within the task text."""
    if not isinstance(r, dict):
        return [], None, [f"result {k} is not an object"]
    kind, value = r.get("type"), r.get("value")
    if kind not in TEXT_RESULT_TYPES:
        return [], None, [f"result {k}: unsupported result type {kind!r} (use {TEXT_RESULT_TYPES})"]
    if not isinstance(value, dict):
        return [], None, [f"result {k}: 'value' must be an object"]
    if kind == "choices":
        choices = _strings(value.get("choices"))
        if choices is None or len(choices) != 1:
            return (
                [],
                None,
                [f"result {k}: a verdict is one choice, got {value.get('choices')!r}"[:200]],
            )
        return [], choices[0], []
    names = _strings(value.get("labels"))
    if not names:
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
        if label not in doctype.labels:
            problems.append(f"label {label!r} is not in the {doctype.name} schema")
        else:
            marks.append((doctype.labels[label], start, end, surface))
    return marks, None, problems


def _text_annotation(
    result: list[Any], doctype: DocType, text: object
) -> tuple[dict[str, str | None], dict[str, list[int]], str | None, Problems]:
    """Fields, spans, verdict and problems of an annotation made with the earlier text-span
    config (every field not marked is ``null``). A field marked twice is joined in text order
    and gets no span (its parts have no single one; the aligner places the value)."""
    problems: Problems = []
    marks: dict[str, list[tuple[int, int, str]]] = {}
    verdicts: list[str] = []
    task_text = text if isinstance(text, str) else None
    if text is not None and task_text is None:
        problems.append("'data.text' must be a string")
    for k, r in enumerate(result, start=1):
        found, verdict, errs = _read_span(k, r, doctype, task_text)
        problems += errs
        verdicts += [verdict] if verdict is not None else []
        for name, start, end, surface in found:
            marks.setdefault(name, []).append((start, end, surface))
    if len(set(verdicts)) > 1:
        problems.append(f"two verdicts {sorted(set(verdicts))}")
    fields: dict[str, str | None] = {s.name: None for s in doctype.fields}
    spans: dict[str, list[int]] = {}
    for name, ms in marks.items():
        ms.sort()
        fields[name] = collapse(" ".join(m[2] for m in ms))
        if len(ms) == 1:
            spans[name] = [ms[0][0], ms[0][1]]
    return fields, spans, verdicts[0] if verdicts else None, problems


def _json_min_item(item: dict[str, Any]) -> bool:
    return bool({"annotator", "annotation_id"} & set(item)) or FIELD in item or VALUE in item


def corrections_from_export(tasks: object, doctype: DocType) -> Parsed:
    """(where, correction object or None, problems) per annotation of a Label Studio JSON
    export (a list of tasks, each with ``data`` and ``annotations``)."""
    if not isinstance(tasks, list):
        return [("file", None, [f"a Label Studio export is a JSON list of tasks: {USE_JSON}"])]
    out: Parsed = []
    for i, task in enumerate(tasks, start=1):
        where = f"task {i}"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            why = (
                "a JSON-MIN export"
                if isinstance(task, dict) and _json_min_item(task)
                else "not a task object with 'data'"
            )
            out.append((where, None, [f"{why}: {USE_JSON}"]))
            continue
        data = task["data"]
        if data.get("text") is not None and not isinstance(data["text"], str):
            out.append((where, None, ["'data.text' must be a string"]))
            continue
        accepted = data.get("docasset") or {}
        accepted = accepted.get("accepted") if isinstance(accepted, dict) else None
        accepted = accepted if isinstance(accepted, dict) else {}
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
            if ann.get("was_cancelled") not in (None, True, False):
                out.append((loc, None, ["'was_cancelled' must be true or false"]))
                continue
            if ann.get("was_cancelled"):
                continue
            result = ann.get("result")
            result = [] if result is None else result
            if not isinstance(result, list):
                out.append((loc, None, ["'result' must be a list"]))
                continue
            spans: dict[str, list[int]] = {}
            if "pages" in data or "text" not in data:
                fields, verdict, problems = _page_annotation(
                    result, doctype, accepted, predicted_labels(task)
                )
            else:
                fields, spans, verdict, problems = _text_annotation(result, doctype, data["text"])
            if not fields and verdict is None and not problems:
                nothing = (
                    "the annotation has no box, no field marked 'not on this document' and no "
                    "verdict: nothing to store"
                )
                out.append((loc, None, [nothing]))
                continue
            obj = {
                "doc_id": data.get("doc_id"),
                "fields": fields,
                "annotator": annotator(ann),
                "timestamp": ann.get("updated_at") or ann.get("created_at"),
                "verdict": verdict,
                "spans": spans,
            }
            out.append((loc, obj, problems))
    return out


def non_json_export(text: str) -> str | None:
    """Why a corrections file that is not JSON looks like a Label Studio CSV export (and what
    to do instead), or None."""
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if first.lstrip().startswith(("{", "[")) or "," not in first:
        return None
    columns = {c.strip().strip('"') for c in first.split(",")}
    if columns & {"annotation_id", "annotator", "doc_id", "id", "created_at"}:
        return f"this is a CSV export, not JSON: {USE_JSON}"
    return None
