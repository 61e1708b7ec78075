"""Simulated operators: corrections written from known ground truth (demo, tests, simulation).

Real operators produce the same JSONL (see ``docasset.core.corrections``); this module only
stands in for the person, never for the pipeline.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from docasset.core.files import atomic_write
from docasset.core.intake import Workdir, read_ledger
from docasset.core.labelled import read_key


def source_to_doc_ids(wd: Workdir) -> dict[str, str]:
    """Inbox file stem -> document id, for every accepted document."""
    return {
        Path(str(r["source_name"])).stem: str(r["doc_id"])
        for r in read_ledger(wd)
        if r["status"] == "ok"
    }


def corrections_from_keys(
    wd: Workdir,
    key_dir: Path,
    doc_ids: set[str] | None = None,
    annotator: str = "sim-operator",
    now: datetime | None = None,
) -> list[dict[str, object]]:
    """One correction per accepted document whose ``key/<stem>.json`` exists (optionally only
    for ``doc_ids``); documents with an empty key are marked ``irrelevant``."""
    stamp = (now or datetime.now(UTC)).isoformat()
    out = []
    for stem, doc_id in sorted(source_to_doc_ids(wd).items()):
        key = key_dir / f"{stem}.json"
        if (doc_ids is not None and doc_id not in doc_ids) or not key.is_file():
            continue
        fields = read_key(key)
        out.append(
            {
                "doc_id": doc_id,
                "fields": fields,
                "annotator": annotator,
                "timestamp": stamp,
                "verdict": None if fields else "irrelevant",
            }
        )
    return out


def write_corrections(path: Path, records: list[dict[str, object]]) -> Path:
    """Write a corrections JSONL file atomically (so the inbox never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode())
    return path
