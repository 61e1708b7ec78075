"""Stage 3: ``predictions`` - fields from the production model plus rules, routed auto/review."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import replace
from datetime import UTC, datetime

import dagster as dg
import polars as pl

from docasset.core.crash import crashpoint
from docasset.core.extraction.batch import batch_summary, customers_recognised, predict_batch
from docasset.core.extraction.extract import ModelBundle
from docasset.core.extraction.vendor_keys import document_keys
from docasset.core.extraction.vendors import VendorMatch, match_vendor
from docasset.core.ocr.documents import texts_of
from docasset.core.ocr.engine import OCR_META, engine_mismatch
from docasset.core.validation.memory import vendor_history, vendor_key
from docasset.defs.ocr_engines import OcrEngine
from docasset.defs.partitions import batches
from docasset.defs.resources import MemoryStore, ModelRegistry, VendorRegistryStore
from docasset.defs.settings import Settings
from docasset.errors import ModelError


@dg.asset(
    partitions_def=batches,
    io_manager_key="frames_io",
    group_name="extraction",
    kinds={"spacy", "polars"},
    # The production model it reads (the registry alias production_model moves).
    deps=["serving_model"],
    description="Per document and field: value, normalized value, calibrated confidence, "
    "source, field_status (accepted | to_check) and the correction-memory entry that filled or "
    "confirmed it; per document the route (auto = touchless, review) with its blockers (text "
    "and structured) and the vendor registry's match (vendor_id, vendor_key: the key that "
    "matched), header_vendor (the type's header identifier: an ad order's station) and per "
    "customer field (an advertiser) its canonical spelling (customer_canonical). Uses the model "
    "the registry's `production` alias points to at run time.",
)
def predictions(
    context,
    documents: pl.DataFrame,
    registry: ModelRegistry,
    memory: MemoryStore,
    settings: Settings,
    ocr_engine: OcrEngine,
    vendor_registry_store: VendorRegistryStore,
) -> pl.DataFrame:
    doctype = settings.doctype()
    bundle = registry.store().load("production")
    if bundle is not None and bundle.doctype.name != doctype.name:
        raise ModelError(
            f"production model is for {bundle.doctype.name!r}, settings say {doctype.name!r}"
        )
    entries = memory.store().entries()
    store = vendor_registry_store.store()
    reg = store.registry()
    # Customers (advertisers) by the spellings corrections taught: a repeat one is known.
    known = store.customer_aliases(bundle.doctype if bundle else doctype)
    texts = texts_of(documents)
    # The type's header identifier (an ad order's station) alone when it has one, else every
    # key and the name in the header.
    by_name = doctype.vendor is None
    vendors = {
        d: m
        for d, t in texts.items()
        if (m := match_vendor(t, reg, document_keys(doctype, t), by_name)) is not None
    }
    history = {
        d: h
        for d, t in texts.items()
        if (h := vendor_history(t, entries, _memory_vendor(vendors.get(d)))) is not None
    }
    with bundle.lock if bundle else nullcontext():  # shared by the worker's runs
        batch = predict_batch(
            bundle,
            # its customers' canonical spellings (customer_canonical) under the learned aliases
            replace(doctype, aliases=known.aliases),
            documents,
            history,
            settings.routing_config(),
            context.partition_key,
            datetime.now(UTC),
            vendors,
        )
    summary = batch_summary(batch, len(history))
    summary["failures"] = dg.MetadataValue.json(summary["failures"])
    context.add_output_metadata(
        {
            "model_version": bundle.version if bundle else "(none)",
            **summary,
            "customers_recognised": customers_recognised(known, batch.predictions),
            **_ocr_warning(context, bundle, ocr_engine, settings),
            "dagster/row_count": batch.frame.height,
        }
    )
    crashpoint("predictions_before_write")
    return batch.frame


def _memory_vendor(match: VendorMatch | None) -> str | None:
    """The correction memory's vendor of a document the registry matched by its keys."""
    return vendor_key(match.name) if match is not None and match.name else None


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
