"""Validation stage: ``review_queue`` (what operators must check, exported for Label Studio),
``corrections`` (human-validated values imported from the corrections inbox; they teach the
correction memory) and ``promotion_status`` (which corrections would train the next model)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import dagster as dg
import polars as pl

from docasset.core.batches import BatchFrames, rows_of
from docasset.core.files import clean_text, confined
from docasset.core.intake.inbox import check_batch_id
from docasset.core.intake.ledger import document_index, known_doc_ids
from docasset.core.ocr.documents import bad_scans, texts_of
from docasset.core.training.curate import promotion_status as compute_promotion_status
from docasset.core.training.curate import sampled_auto_outcomes
from docasset.core.validation.checked import asked_dir, record_asked, record_checks
from docasset.core.validation.corrections import latest_per_document, read_store
from docasset.core.validation.corrections_inbox import import_inbox
from docasset.core.validation.review_export import export_review
from docasset.core.validation.review_queue import review_queue_frame
from docasset.defs.partitions import ALL_BATCHES, batches
from docasset.defs.resources import DocassetHome, MemoryStore
from docasset.defs.settings import Settings


@dg.asset(
    partitions_def=batches,
    io_manager_key="frames_io",
    group_name="validation",
    kinds={"polars"},
    description="The batch's documents routed to review, plus a stable QA sample of touchless "
    "ones (settings.qa.auto_sample_rate; queue_reason 'qa_sample') and accepted fields asked "
    "blind as QA (settings.qa.qa_rate; column qa): predicted values, "
    "confidences, per-field status (field_status: accepted fields are shown locked, only the "
    "to_check ones are asked), blockers and page image, exported as the project's own JSONL "
    "(`review/<batch>/queue.jsonl`); label_studio_tasks turns it into Label Studio tasks.",
)
def review_queue(
    context,
    documents: pl.DataFrame,
    predictions: pl.DataFrame,
    home: DocassetHome,
    settings: Settings,
) -> pl.DataFrame:
    wd = home.workdir()
    qa = settings.qa_config()
    queued = review_queue_frame(predictions, qa.auto_sample_rate, qa.qa_rate)
    # What operators are asked, kept until their answers arrive (calibration evidence).
    record_asked(asked_dir(wd.models), context.partition_key, queued)
    out = review_dir(wd.root, context.partition_key)
    n = export_review(settings.doctype(), queued, documents, wd.root, out)
    context.add_output_metadata(
        {
            "documents": n["documents"],
            "qa_sample": n["qa_sample"],
            "qa_fields": int(queued["qa"].sum()),
            "fields_to_check": int((queued["field_status"] == "to_check").sum()),
            "fields_accepted": int((queued["field_status"] == "accepted").sum()),
            "queue_jsonl": dg.MetadataValue.path(str(out / "queue.jsonl")),
            "dagster/row_count": queued.height,
        }
    )
    return queued


@dg.asset(
    io_manager_key="frames_io",
    group_name="validation",
    kinds={"polars"},
    ins={"documents": dg.AssetIn(**ALL_BATCHES)},
    deps=[
        dg.AssetDep("review_queue", partition_mapping=dg.AllPartitionMapping()),
        # What operators annotated there (label_studio_sensor pulls it into the inbox).
        "label_studio_annotations",
    ],
    description="Every stored correction (append-only store). Each run imports the files in "
    "the corrections inbox (what operators returned for the review queue): valid files are "
    "stored whole and archived; invalid files are rejected whole with line-level reasons and "
    "moved to corrections/rejected/. The correction memory then learns the vendors' values "
    "and total keywords from the corrections it has not seen.",
)
def corrections(
    context,
    documents: BatchFrames,
    home: DocassetHome,
    memory: MemoryStore,
    settings: Settings,
) -> pl.DataFrame:
    wd = home.workdir()
    # One entry at a time under the store lock: a bad file is rejected, the others go on.
    result = import_inbox(wd, settings.doctype(), known_doc_ids(wd), settings.corrections_config())
    for name, reasons in result.rejected.items():
        shown = clean_text(f"{name} rejected, nothing stored: {'; '.join(reasons[:20])}", None)
        context.log.error(shown)  # names and reasons quote outside text: one log line each
    imported, rejected = result.imported, result.rejected
    store = read_store(wd.corrections_store)
    unusable = store.filter(pl.col("problem").is_not_null())
    damaged = unusable.filter(pl.col("correction_id").is_null())["problem"].to_list()
    for problem in damaged:  # each names the segment and the original to re-import
        context.log.error(problem)
    mem = memory.store()
    latest = latest_per_document(store)
    # Texts only for corrections the memory has not read yet (total keywords): the new ones.
    new = latest.filter(~pl.col("correction_id").is_in(list(mem.learned())))
    fresh = set(new.filter(~pl.col("conflict") & pl.col("verdict").is_null())["doc_id"].to_list())
    docs = rows_of(documents, fresh, document_index(wd).batches_of)  # their batches only
    texts = texts_of(docs) if docs is not None else {}
    learned = mem.learn(store, texts)
    # The answers to what operators were asked become calibration evidence (QA and checks).
    checked = record_checks(wd.models, settings.doctype(), store)
    context.add_output_metadata(
        {
            "files_imported": len(imported),
            "files_rejected": len(rejected),
            "imports": dg.MetadataValue.json(imported),
            "rejections": dg.MetadataValue.json(rejected),
            "corrections": store.height,
            # Stored records an older docasset let in that cannot be used: skipped, with why.
            "unusable_records": unusable.height,
            "unusable": dg.MetadataValue.json(
                dict(
                    unusable.filter(pl.col("correction_id").is_not_null())
                    .select("correction_id", "problem")
                    .head(50)
                    .iter_rows()
                )
            ),
            "damaged_segments": len(damaged),
            "damage": dg.MetadataValue.json(damaged[:50]),
            "temp_files_swept": len(result.swept),
            "documents_corrected": latest.height,
            "conflicts": int(latest["conflict"].sum()) if latest.height else 0,
            "memory_entries_added": len(learned),
            "checked_values_recorded": checked,
            "memory_entries": dg.MetadataValue.json(
                [f"{e.vendor}: {e.field} ({e.kind}) = {e.value}" for e in learned[:50]]
            ),
            "dagster/row_count": store.height,
        }
    )
    return store


@dg.asset(
    group_name="validation",
    ins={
        "documents": dg.AssetIn(**ALL_BATCHES),
        "predictions": dg.AssetIn(**ALL_BATCHES),
    },
    description="Each document's latest correction id -> why it is not promoted into the "
    "training set (an exclusion reason code), or null when it is promotable; what the "
    "retraining sensor counts.",
)
def promotion_status(
    context,
    corrections: pl.DataFrame,
    documents: BatchFrames,
    predictions: BatchFrames,
    home: DocassetHome,
    settings: Settings,
) -> dict[str, str | None]:
    # Only the batches of the corrected documents are read (the documents index says which).
    corrected = corrections["doc_id"].unique().to_list()
    batches_of = document_index(home.workdir()).batches_of
    docs = rows_of(documents, corrected, batches_of, ["doc_id", "bad_scan"])
    preds = rows_of(predictions, corrected, batches_of, ["doc_id", "route", "field", "value"])
    bad = bad_scans(docs) if docs is not None else set()
    outcomes = (
        sampled_auto_outcomes(settings.doctype(), preds, corrections) if preds is not None else {}
    )
    status = compute_promotion_status(corrections, bad, outcomes, settings.split_config())
    reasons = Counter(r for r in status.values() if r)
    context.add_output_metadata(
        {
            "promotable": sum(r is None for r in status.values()),
            "excluded": sum(reasons.values()),
            **{f"excluded_{k}": v for k, v in sorted(reasons.items())},
        }
    )
    return status


def review_dir(root: Path, batch: str) -> Path:
    """Where ``review_queue`` exports a batch (a key that is not a batch id is refused)."""
    return confined(root, "review", check_batch_id(batch))
