"""Annotations checked when they are pulled from Label Studio, and rejections sent back.

A pulled annotation goes through the corrections import's own validation
(``corrections.parse_bytes``: values suit their field's type, one value per one-value field,
no relabel slip, ...). A rejected one is recorded in the rejection ledger
(``corrections/label-studio-rejections.json``: doc id -> task, annotation, annotator, reasons)
and shown back to the operator inside Label Studio: the task's ``rejection`` text (on a pink
band above the fields) and ``status`` (a data manager column) say why, and the task is marked not
labelled again. The entry stays open until an annotation of that document passes; then the
task's flag is cleared. ``label_studio_rejections`` (a non-blocking check on ``corrections``)
counts the open entries.
"""

from __future__ import annotations

import json
from collections.abc import Container
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from docasset.core.extraction.fields import DocType
from docasset.core.files import atomic_write, locked
from docasset.core.validation.corrections import CorrectionsConfig, parse_bytes
from docasset.errors import CorrectionsError

LEDGER = "label-studio-rejections.json"
REJECTED = "rejected: fix and press Update"
FIXED = "corrected"


@dataclass(frozen=True)
class Rejection:
    """An annotation refused at pull: which task and annotation, by whom, and why."""

    doc_id: str
    task_id: int
    annotation_id: int
    annotator: str
    updated_at: str
    reasons: tuple[str, ...]
    rejected_at: str

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "reasons": list(self.reasons)}


def check_pulled(
    task: dict[str, Any],
    doctype: DocType,
    known_ids: Container[str] | None,
    cfg: CorrectionsConfig | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Why a pulled task's annotations would be refused by the corrections import ([] when
    they would be stored): the import's own validation, on the file the pull writes."""
    raw = json.dumps([task], ensure_ascii=False).encode()
    try:
        parse_bytes(raw, "pulled", doctype, known_ids, now, cfg or CorrectionsConfig())
    except CorrectionsError as exc:
        return [why for _, why in exc.problems]
    return []


def rejection_note(reasons: list[str] | tuple[str, ...]) -> str:
    """The line the operator reads above the fields of a rejected task."""
    shown = "; ".join(r.split(": ", 1)[1] if r.startswith("task ") else r for r in reasons[:6])
    more = f" (+{len(reasons) - 6} more)" if len(reasons) > 6 else ""
    return (
        f"REJECTED by docasset, nothing stored: {shown}{more}. Fix the annotation and press "
        "Update: it is checked again when pulled."
    )


class RejectionLedger:
    """The open rejections of Label Studio annotations (doc id -> :class:`Rejection`), one
    JSON file written atomically under a lock (the daemon's sensor and ``docasset ingest``
    may pull at once)."""

    def __init__(self, corrections_dir: Path) -> None:
        self.path = corrections_dir / LEDGER

    def _read(self) -> dict[str, dict[str, Any]]:
        if not self.path.is_file():
            return {}
        data = json.loads(self.path.read_text("utf-8"))
        return data if isinstance(data, dict) else {}

    def open(self) -> dict[str, Rejection]:
        """Doc id -> its open rejection."""
        return {
            d: Rejection(**{**r, "reasons": tuple(r["reasons"])}) for d, r in self._read().items()
        }

    def update(self, rejected: list[Rejection], fixed: list[str]) -> None:
        """Record new rejections (a document's latest replaces its earlier one) and close the
        documents whose annotation passed."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with locked(self.path.with_name(f".{LEDGER}.lock")):
            data = self._read()
            for doc in fixed:
                data.pop(doc, None)
            for r in rejected:
                data[r.doc_id] = r.as_dict()
            body = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False)
            atomic_write(self.path, body.encode())


def review_pulled(
    tasks: list[dict[str, Any]],
    doctype: DocType,
    known_ids: Container[str] | None,
    cfg: CorrectionsConfig | None = None,
    now: datetime | None = None,
) -> tuple[list[Rejection], list[str]]:
    """(rejections, doc ids whose latest pulled annotation passes) of pulled tasks (each with
    the annotations the pull found, ``completed_by`` resolved)."""
    now = now or datetime.now(UTC)
    rejected, passed = [], []
    for task in tasks:
        doc = str((task.get("data") or {}).get("doc_id"))
        reasons = check_pulled(task, doctype, known_ids, cfg, now)
        if not reasons:
            passed.append(doc)
            continue
        anns = task.get("annotations") or [{}]
        last = max(anns, key=lambda a: str(a.get("updated_at") or ""))
        who = last.get("completed_by")
        rejected.append(
            Rejection(
                doc_id=doc,
                task_id=int(task.get("id") or 0),
                annotation_id=int(last.get("id") or 0),
                annotator=str(who.get("email") if isinstance(who, dict) else who or ""),
                updated_at=str(last.get("updated_at") or ""),
                reasons=tuple(reasons),
                rejected_at=now.isoformat(),
            )
        )
    return rejected, passed


def flagged_data(data: dict[str, Any], rejection: Rejection | None) -> dict[str, Any]:
    """A task's data with the rejection shown (or cleared: ``status`` says ``corrected``).
    A task pushed by an earlier docasset gets the keys the current config reads (Label Studio
    refuses task data without them)."""
    pages = data.get("pages") or []
    base = {"thumbnail": pages[0] if pages else "", "vendor": "", "reason": "", **data}
    if rejection is None:
        return {**base, "rejection": "", "status": FIXED}
    return {**base, "rejection": rejection_note(rejection.reasons), "status": REJECTED}
