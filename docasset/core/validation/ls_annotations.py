"""Label Studio annotations in: one docasset correction per annotation of a JSON export.

A box's typed text is the field's value (boxes of one field are joined in reading order), a
field ticked "not on this document" is ``null``, a field neither boxed nor ticked is left out
(untouched: not known), an accepted box left as pre-filled is left out too (not asked); a
verdict (``irrelevant``, ``bad_scan``) stores no field values, as the JSONL format does.
Exports of the earlier text-span config (``Labels`` over the OCR text) still import. JSON-MIN
and CSV exports are refused with a message saying to export JSON: they lose which value belongs
to which box.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from docasset.core.extraction.fields import DocType, collapse
from docasset.core.validation.ls_config import (
    ABSENT,
    ACCEPTED,
    FIELD,
    STATUS,
    VALUE,
    VERDICT,
)

USE_JSON = (
    "export the project from Label Studio as JSON (Export -> JSON); JSON-MIN and CSV "
    "exports lose which value belongs to which box"
)

Problems = list[str]
Parsed = list[tuple[str, dict[str, Any] | None, Problems]]


def annotator(ann: dict[str, Any]) -> str:
    """Who made an annotation: the Label Studio user's email when the export carries it (the
    pull resolves user ids to emails), else ``label-studio-user-<id>`` (file exports hold ids
    only)."""
    who = ann.get("completed_by")
    if isinstance(who, dict):
        return str(who.get("email") or f"label-studio-user-{who.get('id')}")
    return "" if who is None else f"label-studio-user-{who}"


@dataclass
class _Region:
    label: str | None = None
    texts: list[str] = field(default_factory=list)
    status: set[str] = field(default_factory=set)
    order: tuple[float, float, float] = (0.0, 0.0, 0.0)  # page, top, left: reading order


def _choices(value: dict[str, Any]) -> list[str]:
    return [str(c) for c in value.get("choices") or []]


def _page_annotation(
    result: list[dict[str, Any]], doctype: DocType, accepted: dict[str, str]
) -> tuple[dict[str, str | None], str | None, Problems]:
    """Fields, verdict and problems of one annotation made with the page-image config."""
    problems: Problems = []
    regions: dict[str, _Region] = {}
    absent: list[str] = []
    verdict = None
    for r in result:
        value, kind, control = r.get("value") or {}, r.get("type"), r.get("from_name")
        reg = regions.setdefault(str(r.get("id")), _Region())
        if kind == "choices" and control == STATUS:
            reg.status |= set(_choices(value))
        elif kind == "choices" and control == ABSENT:
            absent += _choices(value)
        elif kind == "choices" and control == VERDICT:
            verdict = next(iter(_choices(value)), None)
        elif kind == "rectanglelabels" and control == FIELD:
            labels = value.get("rectanglelabels") or []
            if len(labels) != 1:
                problems.append(f"a box has {len(labels)} field labels, not one")
            reg.label = labels[0] if labels else None
            page = float(r.get("item_index") or 0)
            reg.order = (page, float(value.get("y", 0)), float(value.get("x", 0)))
        elif kind == "textarea" and control == VALUE:
            reg.texts += [str(t) for t in value.get("text") or []]
        else:
            problems.append(f"result {kind!r} from {control!r} is not in docasset's config")
    if verdict is not None:  # the page teaches nothing: no field values, as in the JSONL format
        return {}, verdict, problems
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


def _text_annotation(
    result: list[dict[str, Any]], doctype: DocType, text: object
) -> tuple[dict[str, str | None], dict[str, list[int]], str | None, Problems]:
    """Fields, spans, verdict and problems of an annotation made with the earlier text-span
    config (every field not marked is ``null``)."""
    problems: Problems = []
    fields: dict[str, str | None] = {s.name: None for s in doctype.fields}
    spans: dict[str, list[int]] = {}
    verdict = None
    for r in result:
        value = r.get("value") or {}
        if r.get("type") == "choices":
            verdict = next(iter(_choices(value)), None)
            continue
        for label in value.get("labels") or []:
            if label not in doctype.labels:
                problems.append(f"label {label!r} is not in the {doctype.name} schema")
                continue
            surface = value.get("text")
            if surface is None and isinstance(text, str) and "start" in value:
                surface = text[value["start"] : value["end"]]
            name = doctype.labels[label]
            if fields[name] is not None:  # a field marked twice: join in text order
                surface = f"{fields[name]} {surface}"
            fields[name] = collapse(surface or "")
            spans[name] = [value.get("start", -1), value.get("end", -1)]
    return fields, spans, verdict, problems


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
        accepted = (data.get("docasset") or {}).get("accepted") or {}
        anns = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
        # A task nobody annotated (exports include them) is simply not a correction.
        for j, ann in enumerate(anns, start=1):
            result = ann.get("result") or []
            spans: dict[str, list[int]] = {}
            if "pages" in data or "text" not in data:
                fields, verdict, problems = _page_annotation(result, doctype, accepted)
            else:
                fields, spans, verdict, problems = _text_annotation(result, doctype, data["text"])
            if not fields and verdict is None and not problems:
                nothing = (
                    "the annotation has no box, no field marked 'not on this document' and no "
                    "verdict: nothing to store"
                )
                out.append((f"{where} annotation {j}", None, [nothing]))
                continue
            obj = {
                "doc_id": data.get("doc_id"),
                "fields": fields,
                "annotator": annotator(ann),
                "timestamp": ann.get("updated_at") or ann.get("created_at"),
                "verdict": verdict,
                "spans": spans,
            }
            out.append((f"{where} annotation {j}", obj, problems))
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
