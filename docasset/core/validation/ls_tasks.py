"""Label Studio review tasks out: page images and pre-annotated boxes holding values (the
annotations come back through ``ls_annotations``).

A task (``review_task``): ``data.pages`` are the page images as Label Studio loads them
(``/data/local-files/?d=<path under its document root>``); ``data.doc_id`` keys the task to the
document; ``data.review_note`` says why it is queued and what is not asked; the data manager's
columns ``thumbnail`` (the first page), ``vendor`` (the header identifier, else the predicted
company or first text field), ``status`` (to check, QA sample, or a rejection: ``ls_review``)
and ``reason`` (the blockers) describe it at a glance; ``data.rejection`` is empty until an
annotation is refused; ``data.docasset`` carries the batch, queue reason, blockers, model
version, the vendor registry's match (``vendor_id``, ``vendor_key``: the printed key that
matched), the type's header identifier (``header_vendor``: an ad order's station, also the
``vendor`` column when read), the customers' canonical spellings (``customer_canonical``: field
-> name) and the values field-level routing accepted. The one prediction (``model_version``;
``score`` = lowest field confidence) has, per predicted field, a box from the OCR word boxes of
the value's span (a ``rectanglelabels`` result with the field's label) and the value docasset
shows (a ``textarea`` result with the same region id), each scored with that field's calibrated
confidence; an accepted field's box has the grey ``<LABEL> (accepted)`` label of the
``accepted_field`` control and both its results are read-only (see ``ls_config``).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl

from docasset.core.extraction.fields import DocType
from docasset.core.extraction.prediction_table import from_frame
from docasset.core.extraction.routing import Blocker, DocPrediction
from docasset.core.files import atomic_write
from docasset.core.intake.scan_table import scan_file
from docasset.core.intake.scans import IntakeLimits, ScanFile, iter_pages
from docasset.core.ocr.text import word_offsets
from docasset.core.ocr.words import empty_words
from docasset.core.validation.ls_config import (
    ACCEPTED_FIELD,
    FIELD,
    IMAGE,
    VALUE,
    LabelStudioConfig,
    accepted_label,
    labelling_config,
)
from docasset.core.workdir import Workdir
from docasset.errors import LabelStudioError, ScanError

# Task data the data manager's "docasset" tab hides (shown inside the task, or raw).
HIDDEN_DATA = ("pages", "docasset", "review_note", "rejection")
VIEW_TITLE = "docasset"
BROWSER_FORMATS = ("jpeg", "png")  # shown as archived; other formats get a PNG per page
LOCAL_FILES = "/data/local-files/?d="


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


def blocker_hint(b: Blocker) -> str:
    """A blocker as the operator reads it: an image-quality warning says to annotate a
    readable page as usual (the ``bad_scan`` verdict drops a page from training)."""
    if b.kind == "bad_scan":
        return (
            f"image quality warning ({b.detail or 'scan check'}): if you can read it, annotate "
            "as usual; 'bad_scan' is only for a page nobody can read"
        )
    return b.text


def review_note(
    pred: DocPrediction, queue_reason: str, accepted: list[str], unplaced: list[str]
) -> str:
    """Why the document is queued and what the operator is not asked, in one line."""
    if queue_reason == "qa_sample":
        # Blind QA: the operator checks the fields shown like any others (no "QA" label that
        # would change how carefully they look).
        parts = ["To check: the fields shown."]
    else:
        hints = [blocker_hint(b) for b in pred.blockers]
        parts = [f"To check: {'; '.join(hints) or 'review'}."]
    if accepted:
        parts.append(f"Accepted by the model, not asked: {', '.join(accepted)}.")
    if unplaced:
        parts.append(f"Predicted but not found on the page: {'; '.join(unplaced)}.")
    if pred.vendor_id:
        parts.append(f"Vendor {pred.vendor_id} (by {pred.vendor_key}).")
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
        base, geometry = _region(spec.name, page, size, padded, round(f.confidence, 4))
        is_accepted = status.get(spec.name) == "accepted"
        if is_accepted:  # shown in grey and read-only: not asked, not changed by a click
            accepted[spec.name] = f.value
            base["readonly"] = True
        result.append(
            {
                **base,
                "from_name": ACCEPTED_FIELD if is_accepted else FIELD,
                "type": "rectanglelabels",
                "value": {
                    **geometry,
                    "rectanglelabels": [accepted_label(spec.label) if is_accepted else spec.label],
                },
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
        scores.append(f.confidence)
    labels = [doctype.spec(n).label for n in accepted]
    texts = [s.name for s in doctype.fields if s.type == "text"]
    vendor = pred.header_vendor or next(
        (pred.fields[n].value for n in texts if pred.fields[n].value), None
    )
    task: dict[str, Any] = {
        "data": {
            "pages": [p.url for p in pages],
            "thumbnail": pages[0].url if pages else "",
            "doc_id": pred.doc_id,
            "vendor": vendor or "",
            "status": "QA sample" if queue_reason == "qa_sample" else "to check",
            "reason": "; ".join(pred.blocker_texts) or queue_reason,
            "rejection": "",
            "review_note": review_note(pred, queue_reason, labels, unplaced),
            "docasset": {
                "batch": batch,
                "queue_reason": queue_reason,
                "blockers": pred.blocker_texts,
                "blocker_details": [b.as_dict() for b in pred.blockers],
                "model_version": pred.model_version,
                "accepted": accepted,
                "vendor_id": pred.vendor_id,
                "vendor_key": pred.vendor_key,
                "header_vendor": pred.header_vendor,
                "customer_canonical": pred.customers,
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


def write_task_files(out: Path, tasks: list[dict[str, Any]], doctype: DocType) -> Path:
    """The tasks and the labelling config for an offline import into Label Studio
    (``label-studio-tasks.json`` + ``label-studio-config.xml`` in ``out``); the tasks file."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "label-studio-tasks.json"
    atomic_write(path, json.dumps(tasks, indent=1, ensure_ascii=False).encode())
    atomic_write(out / "label-studio-config.xml", labelling_config(doctype).encode())
    return path
