"""Stage 3: ``predictions`` - fields from the production model plus rules, routed auto/review."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import polars as pl

from docasset.core.extraction.extract import EXTRACTION_FAILED, ModelBundle, predict_documents
from docasset.core.extraction.prediction_table import blocker_counts, predictions_frame
from docasset.core.extraction.prediction_table import documents as document_routes
from docasset.core.extraction.routing import Blocker
from docasset.core.ocr.documents import ocr_errors, texts_of, word_confs_of
from docasset.core.ocr.engine import OCR_META, engine_mismatch
from docasset.core.validation.memory import vendor_history
from docasset.defs.ocr_engines import OcrEngine
from docasset.defs.partitions import batches
from docasset.defs.resources import MemoryStore, ModelRegistry
from docasset.defs.settings import Settings
from docasset.errors import ModelError


@dg.asset(
    partitions_def=batches,
    io_manager_key="frames_io",
    group_name="extraction",
    kinds={"spacy", "polars"},
    description="Per document and field: value, normalized value, calibrated confidence, "
    "source, field_status (accepted | to_check) and the correction-memory entry that filled or "
    "confirmed it; per document the route (auto = touchless, review) with its blockers (text "
    "and structured). Uses the model the registry's `production` alias points to at run time.",
)
def predictions(
    context,
    documents: pl.DataFrame,
    registry: ModelRegistry,
    memory: MemoryStore,
    settings: Settings,
    ocr_engine: OcrEngine,
) -> pl.DataFrame:
    doctype = settings.doctype()
    bundle = registry.store().load("production")
    if bundle is not None and bundle.doctype.name != doctype.name:
        raise ModelError(
            f"production model is for {bundle.doctype.name!r}, settings say {doctype.name!r}"
        )
    texts = texts_of(documents)
    extra = {
        r["doc_id"]: [Blocker("bad_scan", None, ", ".join(r["problems"]))]
        for r in documents.filter(pl.col("bad_scan")).iter_rows(named=True)
    }
    # A document OCR failed on is predicted from no text; review must say why.
    ocr_failed = ocr_errors(documents)
    for d, why in ocr_failed.items():
        extra.setdefault(d, []).insert(0, Blocker("ocr_failed", None, why))
    entries = memory.store().entries()
    history = {d: h for d, t in texts.items() if (h := vendor_history(t, entries)) is not None}
    preds = predict_documents(
        bundle,
        doctype,
        texts,
        extra,
        history,
        settings.routing_config(),
        word_confs_of(documents),
    )
    info = {
        r["doc_id"]: {"ocr_conf": r["ocr_conf"], "bad_scan": r["bad_scan"]}
        for r in documents.iter_rows(named=True)
    }
    df = predictions_frame(doctype, preds, context.partition_key, datetime.now(UTC), info)
    docs = document_routes(df)
    n_fields = int(df.height)
    accepted = int((df["field_status"] == "accepted").sum())
    n_auto = int((docs["route"] == "auto").sum())
    failed = {p.doc_id: b.text for p in preds for b in p.blockers if b.kind == EXTRACTION_FAILED}
    context.add_output_metadata(
        {
            "model_version": bundle.version if bundle else "(none)",
            "documents": docs.height,
            "auto": n_auto,
            "review": docs.height - n_auto,
            "touchless_rate": n_auto / docs.height if docs.height else 0.0,
            "automation_rate": n_auto / docs.height if docs.height else 0.0,
            "fields_accepted": accepted,
            "fields_to_check": n_fields - accepted,
            "field_automation": accepted / n_fields if n_fields else 0.0,
            "vendors_recognised": len(history),
            "memory_fields": int(df["memory_entry"].is_not_null().sum()),
            **{f"blocked_{k}": n for k, n in blocker_counts(df).items()},
            "ocr_failures": len(ocr_failed),
            "extraction_failures": len(failed),
            "failures": dg.MetadataValue.json(dict(sorted(failed.items())[:50])),
            **_ocr_warning(context, bundle, ocr_engine, settings),
            "dagster/row_count": df.height,
        }
    )
    return df


def _ocr_warning(
    context: dg.AssetExecutionContext,
    bundle: ModelBundle | None,
    ocr_engine: OcrEngine,
    settings: Settings,
) -> dict[str, str]:
    """``ocr_engine_warning`` metadata (and a logged warning) when the production model was
    trained on another OCR engine's text than the one that read this batch."""
    if bundle is None:
        return {}
    why = engine_mismatch(bundle.meta.get(OCR_META), ocr_engine.identity(settings))
    if why is None:
        return {}
    context.log.warning(f"production model {bundle.version}: {why}")
    return {"ocr_engine_warning": why}
