"""The corrections inbox and where imported or rejected files go.

Every entry of ``corrections/inbox/`` is imported on its own, under the store lock: an
accepted file is moved to ``corrections/archive/<sha>-<name>``, a rejected one (bad content,
not a regular file, unreadable) to ``corrections/rejected/<name>`` with ``<name>.reasons.txt``
beside, and the run goes on with the next file. ``docasset corrections import FILE`` files
copies the same way and leaves the user's file where it is. Stored names are bounded
(``docasset.core.files.stored_name``); a rejected file never overwrites an earlier rejected
file of the same name with other bytes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from docasset.core.crash import crashpoint
from docasset.core.extraction.fields import DocType
from docasset.core.files import atomic_write, display_name, name_hex, stored_name, sweep_tmp
from docasset.core.validation.corrections import (
    CorrectionsConfig,
    ImportResult,
    import_locked,
    store_lock,
)
from docasset.core.workdir import Workdir
from docasset.errors import CorrectionsError


@dataclass
class InboxImport:
    """What one pass over the corrections inbox did, by file name (as text)."""

    imported: list[dict[str, object]] = field(default_factory=list)
    rejected: dict[str, list[str]] = field(default_factory=dict)
    swept: list[str] = field(default_factory=list)


def _sha_of(path: Path) -> str | None:
    try:
        if not path.is_file() or path.is_symlink():
            return None
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()[:16]
    except OSError:
        return None


def _free_name(directory: Path, name: str, sha: str | None) -> str:
    """``name`` in ``directory`` unless a file with other bytes holds it (then a sha-prefixed
    variant), so nothing filed there is ever overwritten by something else."""
    if not os.path.lexists(directory / name) or (sha and _sha_of(directory / name) == sha):
        return name
    tag = sha or hashlib.sha256(os.urandom(16)).hexdigest()[:16]
    return stored_name(f"{tag[:8]}-{name}")


def reject(wd: Workdir, src: Path, problems: list[tuple[int, str]], move: bool) -> Path:
    """File a rejected corrections file under ``rejected/`` with its reasons; returns where.

    ``move``: the inbox entry itself goes (whatever it is, never followed); else a copy."""
    sha = _sha_of(src)
    dst = wd.corrections_rejected / _free_name(wd.corrections_rejected, stored_name(src.name), sha)
    if move:
        os.replace(src, dst)
    elif src.is_file():
        shutil.copy2(src, dst)
    head = [f"file: {display_name(src.name)}"]
    if raw := name_hex(src.name):
        head.append(f"file name bytes (hex): {raw}")
    lines = head + [f"line {n}: {why}" for n, why in problems]
    atomic_write(dst.with_name(dst.name + ".reasons.txt"), ("\n".join(lines) + "\n").encode())
    return dst


def archive(wd: Workdir, src: Path, res: ImportResult, move: bool) -> Path:
    """File an imported corrections file under ``archive/<sha>-<name>``; returns where."""
    dst = wd.corrections_archive / f"{res.file_sha}-{stored_name(src.name)}"
    if move:
        os.replace(src, dst)
    elif not dst.exists():
        shutil.copy2(src, dst)
    return dst


def import_inbox(
    wd: Workdir,
    doctype: DocType,
    known_ids: Container[str] | None,
    cfg: CorrectionsConfig | None = None,
    now: datetime | None = None,
) -> InboxImport:
    """Import every entry of the corrections inbox, one at a time under the store lock.

    Total for the inbox's content: a bad entry is rejected and the pass goes on; an entry
    another process took meanwhile is skipped. Only the store's own failures (disk) raise."""
    cfg = cfg or CorrectionsConfig()
    out = InboxImport(swept=sweep_tmp(wd.corrections_inbox, cfg.stale_tmp_seconds))
    inbox = os.fsencode(wd.corrections_inbox)
    for raw in sorted(os.listdir(inbox)):
        if raw.startswith(b"."):
            continue  # temp files of a writer, by convention
        path = Path(os.fsdecode(os.path.join(inbox, raw)))
        name = display_name(raw)
        with store_lock(wd.corrections_store):
            if not os.path.lexists(path):
                continue  # imported by a concurrent run
            try:
                res = import_locked(
                    path, wd.corrections_store, doctype, known_ids, now, cfg, follow_symlinks=False
                )
            except CorrectionsError as exc:
                out.rejected[name] = [f"line {n}: {why}" for n, why in exc.problems]
                reject(wd, path, exc.problems, move=True)
                continue
            crashpoint("corrections_import")
            archive(wd, path, res, move=True)
        out.imported.append(
            {
                "file": name,
                "stored": res.stored,
                "skipped": res.skipped,
                "already_imported": res.already_imported,
            }
        )
    return out
