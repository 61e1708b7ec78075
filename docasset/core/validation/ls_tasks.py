"""Label Studio review tasks out (page images, pre-annotated boxes holding values) and
annotations in (one docasset correction per annotation).

A task (``review_task``): ``data.pages`` are the page images as Label Studio loads them
(``/data/local-files/?d=<path under its document root>``); ``data.doc_id`` keys the task to
the document; ``data.review_note`` says why it is queued and what is not asked;
``data.docasset`` carries the batch, queue reason, blockers, model version and the values
field-level routing accepted. The one prediction (``model_version``; ``score`` = lowest field
confidence) has, per predicted field, a box from the OCR word boxes of the value's span (a
``rectanglelabels`` result with the field's label) and the value docasset shows (a
``textarea`` result with the same region id), each scored with the calibrated confidence;
accepted fields add the per-region choice ``accepted`` (see ``ls_config``).

An annotation (``corrections_from_export``) becomes a correction: a box's typed text is the
field's value (boxes of one field are joined in reading order), a field ticked "not on this
document" is ``null``, a field neither boxed nor ticked is left out (untouched: not known),
an accepted box left as pre-filled is left out too (not asked); a verdict (``irrelevant``,
``bad_scan``) stores no field values, as the JSONL format does. Exports of the earlier
text-span config (``Labels`` over the OCR text) still import. JSON-MIN and CSV exports are
refused with a message saying to export JSON: they lose which value belongs to which box.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl

from docasset.core.extraction.extract import DocPrediction
from docasset.core.extraction.fields import DocType, collapse
from docasset.core.extraction.prediction_table import from_frame
from docasset.core.files import atomic_write
from docasset.core.intake.scan_table import scan_file
from docasset.core.intake.scans import IntakeLimits, ScanFile, iter_pages
from docasset.core.ocr.text import word_offsets
from docasset.core.ocr.words import empty_words
from docasset.core.validation.ls_config import (
    ABSENT,
    ACCEPTED,
    FIELD,
    IMAGE,
    STATUS,
    VALUE,
    VERDICT,
    LabelStudioConfig,
)
from docasset.core.workdir import Workdir
from docasset.errors import LabelStudioError, ScanError

BROWSER_FORMATS = ("jpeg", "png")  # shown as archived; other formats get a PNG per page
LOCAL_FILES = "/data/local-files/?d="
USE_JSON = (
    "export the project from Label Studio as JSON (Export -> JSON); JSON-MIN and CSV "
    "exports lose which value belongs to which box"
)
FIELD_STATUSES = ("accepted", "to_check")

Problems = list[str]
Parsed = list[tuple[str, dict[str, Any] | None, Problems]]


@dataclass(frozen=True)
class TaskPage:
    """One page as Label Studio shows it: the image URL and its size in pixels."""

    url: str
    width: int
    height: int


def local_files_url(path: Path, document_root: Path) -> str:
    """The URL Label Studio serves ``path`` at through local-files storage."""
    try:
        rel = path.resolve().relative_to(document_root.resolve())
    except ValueError as exc:
        raise LabelStudioError(
            f"{path} is outside Label Studio's document root {document_root}: start Label "
            "Studio with LOCAL_FILES_DOCUMENT_ROOT set to docasset's home (or a parent) and "
            "set resources.label_studio.config.document_root to the same directory"
        ) from exc
    return LOCAL_FILES + quote(rel.as_posix(), safe="/")


def served_dirs(wd: Workdir) -> list[Path]:
    """What Label Studio's local-files storages serve: the archived scans and the rendered
    pages of review tasks (nothing else of docasset's home)."""
    review = wd.root / "review"
    review.mkdir(parents=True, exist_ok=True)
    return [wd.archive, review]


def page_files(scan: ScanFile, render_dir: Path, limits: IntakeLimits) -> list[Path]:
    """The image files of a scan's pages: the archived file when a browser shows it as is (a
    one-page JPEG or PNG), else one grayscale PNG per page, rendered once into ``render_dir``
    (the coordinates OCR word boxes are in)."""
    if scan.format in BROWSER_FORMATS and len(scan.pages) == 1:
        return [scan.path]
    targets = [render_dir / f"{scan.doc_id}-p{p.page}.png" for p in scan.pages]
    if not all(t.is_file() for t in targets):
        render_dir.mkdir(parents=True, exist_ok=True)
        for info, img in iter_pages(scan, limits):
            buf = io.BytesIO()
            img.save(buf, "PNG")
            atomic_write(render_dir / f"{scan.doc_id}-p{info.page}.png", buf.getvalue())
    return targets


def value_box(words: pl.DataFrame, start: int, end: int) -> tuple[int, int, int, int, int] | None:
    """``(page, left, top, right, bottom)`` in page pixels of the OCR words covering the text
    span ``[start, end)`` (``words``: ``word_offsets`` of one document); a span running over
    a page break keeps its first page. None when no word covers it."""
    hit = words.filter((pl.col("start") < end) & (pl.col("end") > start)).sort("start")
    if hit.is_empty():
        return None
    on = hit.filter(pl.col("page") == hit["page"][0])
    return (
        int(hit["page"][0]),
        int(on["left"].min()),  # type: ignore[arg-type]
        int(on["top"].min()),  # type: ignore[arg-type]
        int((on["left"] + on["width"]).max()),  # type: ignore[arg-type]
        int((on["top"] + on["height"]).max()),  # type: ignore[arg-type]
    )


def _region(
    rid: str, page: int, size: TaskPage, box: tuple[int, int, int, int], score: float
) -> tuple[dict[str, Any], dict[str, float]]:
    left, top, right, bottom = box
    geometry = {
        "x": round(100 * left / size.width, 4),
        "y": round(100 * top / size.height, 4),
        "width": round(100 * (right - left) / size.width, 4),
        "height": round(100 * (bottom - top) / size.height, 4),
        "rotation": 0,
    }
    base = {
        "id": rid,
        "to_name": IMAGE,
        "original_width": size.width,
        "original_height": size.height,
        "image_rotation": 0,
        "item_index": page,
        "score": score,
    }
    return base, geometry


def review_note(
    pred: DocPrediction, queue_reason: str, accepted: list[str], unplaced: list[str]
) -> str:
    """Why the document is queued and what the operator is not asked, in one line."""
    if queue_reason == "qa_sample":
        parts = ["QA sample of an automated document: check every field."]
    else:
        parts = [f"To check: {'; '.join(pred.blockers) or 'review'}."]
    if accepted:
        parts.append(f"Accepted by the model, not asked: {', '.join(accepted)}.")
    if unplaced:
        parts.append(f"Predicted but not found on the page: {'; '.join(unplaced)}.")
    parts.append(f"Model {pred.model_version or 'none'}.")
    return " ".join(parts)


def review_task(
    doctype: DocType,
    pred: DocPrediction,
    pages: list[TaskPage],
    words: pl.DataFrame,
    batch: str,
    queue_reason: str = "review",
    field_status: dict[str, str] | None = None,
    cfg: LabelStudioConfig | None = None,
) -> dict[str, Any]:
    """One Label Studio task with the model's pre-annotations (see the module docstring).

    ``words``: the document's ``word_offsets``; ``field_status``: field -> ``accepted`` |
    ``to_check`` from field-level routing (absent: every field is to check)."""
    status = field_status or {}
    pad = (cfg or LabelStudioConfig()).box_padding
    result: list[dict[str, Any]] = []
    accepted: dict[str, str] = {}
    unplaced: list[str] = []
    scores = []
    for spec in doctype.fields:
        f = pred.fields[spec.name]
        if f.value is None:
            continue
        found = value_box(words, f.start, f.end) if f.end > f.start else None
        if found is None or not 0 <= found[0] < len(pages):
            unplaced.append(f"{spec.label} = {f.value}")
            continue
        page, *box = found
        size = pages[page]
        padded = (
            max(0, box[0] - pad),
            max(0, box[1] - pad),
            min(size.width, box[2] + pad),
            min(size.height, box[3] + pad),
        )
        base, geometry = _region(spec.name, page, size, padded, f.confidence)
        result.append(
            {
                **base,
                "from_name": FIELD,
                "type": "rectanglelabels",
                "value": {**geometry, "rectanglelabels": [spec.label]},
            }
        )
        result.append(
            {
                **base,
                "from_name": VALUE,
                "type": "textarea",
                "value": {**geometry, "text": [f.value]},
            }
        )
        if status.get(spec.name) == "accepted":
            accepted[spec.name] = f.value
            result.append(
                {
                    **base,
                    "from_name": STATUS,
                    "type": "choices",
                    "value": {**geometry, "choices": [ACCEPTED]},
                }
            )
        scores.append(f.confidence)
    labels = [doctype.spec(n).label for n in accepted]
    task: dict[str, Any] = {
        "data": {
            "pages": [p.url for p in pages],
            "doc_id": pred.doc_id,
            "review_note": review_note(pred, queue_reason, labels, unplaced),
            "docasset": {
                "batch": batch,
                "queue_reason": queue_reason,
                "blockers": list(pred.blockers),
                "model_version": pred.model_version,
                "accepted": accepted,
            },
        },
        "predictions": [],
    }
    if result:
        task["predictions"] = [
            {
                "model_version": pred.model_version or "none",
                "score": min(scores),
                "result": result,
            }
        ]
    return task


# --- annotations in ------------------------------------------------------------------------


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


def batch_tasks(
    wd: Workdir,
    document_root: Path,
    doctype: DocType,
    queued: pl.DataFrame,
    raw_scans: pl.DataFrame,
    words: pl.DataFrame,
    batch: str,
    limits: IntakeLimits,
    cfg: LabelStudioConfig,
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The Label Studio tasks of a batch's review queue (``queued``: the ``review_queue``
    frame, with a ``field_status`` column when field-level routing provides one), and the
    documents left out with the reason (a page that can no longer be read)."""
    reasons = dict(queued.select("doc_id", "queue_reason").unique("doc_id").iter_rows())
    status: dict[str, dict[str, str]] = {}
    if "field_status" in queued.columns:
        for d, f, s in queued.select("doc_id", "field", "field_status").iter_rows():
            status.setdefault(str(d), {})[str(f)] = str(s or "to_check")
    pages = {
        str(k[0]): v.sort("page")
        for k, v in raw_scans.filter(pl.col("status") == "ok")
        .partition_by("doc_id", as_dict=True)
        .items()
    }
    offsets = {
        str(k[0]): v
        for k, v in word_offsets(words.filter(pl.col("doc_id").is_in(list(reasons))))
        .partition_by("doc_id", as_dict=True)
        .items()
    }
    render_dir = wd.root / "review" / batch / "pages"
    tasks, skipped = [], {}
    for pred in from_frame(queued):
        rows = pages.get(pred.doc_id)
        if rows is None:
            skipped[pred.doc_id] = "no accepted page in raw_scans"
            continue
        first = rows.row(0, named=True)
        info = [
            {"page": r["page"], "width": r["width"], "height": r["height"], "dpi": r["dpi"]}
            for r in rows.iter_rows(named=True)
        ]
        scan = scan_file(wd, {**first, "pages": info})
        try:
            files = page_files(scan, render_dir, limits)
        except ScanError as exc:
            skipped[pred.doc_id] = str(exc)
            continue
        shown = [
            TaskPage(local_files_url(f, document_root), int(p["width"]), int(p["height"]))
            for f, p in zip(files, info, strict=True)
        ]
        doc_words = offsets.get(pred.doc_id, word_offsets(empty_words()))
        tasks.append(
            review_task(
                doctype,
                pred,
                shown,
                doc_words,
                batch,
                reasons[pred.doc_id],
                status.get(pred.doc_id),
                cfg,
            )
        )
    return tasks, skipped
