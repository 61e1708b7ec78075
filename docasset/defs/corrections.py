"""Stage 4: ``corrections`` - import human-validated values from the corrections inbox."""

from __future__ import annotations

import shutil

import dagster as dg
import polars as pl

from docasset.core.corrections import import_file, latest_per_document, read_store
from docasset.core.intake import known_doc_ids
from docasset.defs.resources import DocassetHome, Settings
from docasset.errors import CorrectionsError


@dg.asset(
    io_manager_key="frames_io",
    group_name="validation",
    kinds={"polars"},
    description="Every stored correction (append-only store). Each run imports the files in "
    "the corrections inbox: valid files are stored whole and archived; invalid files are "
    "rejected whole with line-level reasons and moved to corrections/rejected/.",
)
def corrections(context, home: DocassetHome, settings: Settings) -> pl.DataFrame:
    wd = home.workdir()
    doctype = settings.doctype()
    known = known_doc_ids(wd)
    imported, rejected = [], {}
    for path in sorted(
        p for p in wd.corrections_inbox.iterdir() if p.is_file() and not p.name.startswith(".")
    ):
        try:
            res = import_file(path, wd.corrections_store, doctype, known)
        except CorrectionsError as exc:
            rejected[path.name] = [f"line {n}: {why}" for n, why in exc.problems]
            context.log.error(str(exc))
            shutil.move(path, wd.corrections_rejected / path.name)
            (wd.corrections_rejected / f"{path.name}.reasons.txt").write_text(
                "\n".join(rejected[path.name]) + "\n", "utf-8"
            )
            continue
        imported.append(
            {
                "file": path.name,
                "stored": res.stored,
                "skipped": res.skipped,
                "already_imported": res.already_imported,
            }
        )
        shutil.move(path, wd.corrections_archive / f"{res.file_sha}-{path.name}")
    store = read_store(wd.corrections_store)
    latest = latest_per_document(store)
    context.add_output_metadata(
        {
            "files_imported": len(imported),
            "files_rejected": len(rejected),
            "imports": dg.MetadataValue.json(imported),
            "rejections": dg.MetadataValue.json(rejected),
            "corrections": store.height,
            "documents_corrected": latest.height,
            "conflicts": int(latest["conflict"].sum()) if latest.height else 0,
            "dagster/row_count": store.height,
        }
    )
    return store
