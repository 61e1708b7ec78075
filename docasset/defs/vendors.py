"""``vendor_registry``: the vendors (master data) learned from corrections and imported by
managers; ``predictions`` reads it through the ``vendor_registry_store`` resource."""

from __future__ import annotations

import dagster as dg
import polars as pl

from docasset.core.batches import BatchFrames, rows_of
from docasset.core.intake.ledger import document_index
from docasset.core.ocr.documents import texts_of
from docasset.core.validation.corrections import latest_per_document
from docasset.defs.partitions import ALL_BATCHES
from docasset.defs.resources import DocassetHome, VendorRegistryStore
from docasset.defs.settings import Settings

REGISTRY_COLUMNS = {
    "vendor_id": pl.Utf8,
    "name": pl.Utf8,
    "key": pl.Utf8,
    "confirmations": pl.Int64,
    "branches": pl.Int64,
    "sources": pl.Utf8,
}


@dg.asset(
    io_manager_key="frames_io",
    group_name="validation",
    kinds={"polars"},
    ins={"documents": dg.AssetIn(**ALL_BATCHES)},
    description="The vendor registry: per vendor and stable key (registration, tax id, phone, "
    "domain) its canonical name, confirmations and branches, learned from the corrections it "
    "has not read (keys read from the corrected documents' OCR text) plus managers' imports "
    "(`docasset vendors import`), and the spellings of customer fields (an advertiser) their "
    "corrections typed, learned as aliases of the customer's name. Conflicts (two vendors "
    "claiming one key) are reported in the metadata, never merged. predictions reads it "
    "through the vendor_registry_store resource.",
)
def vendor_registry(
    context,
    corrections: pl.DataFrame,
    documents: BatchFrames,
    home: DocassetHome,
    vendor_registry_store: VendorRegistryStore,
    settings: Settings,
) -> pl.DataFrame:
    store = vendor_registry_store.store()
    wd = home.workdir()
    done = store.learned()
    latest = latest_per_document(corrections)
    new = latest.filter(~pl.col("correction_id").is_in(list(done)))["doc_id"].to_list()
    docs = rows_of(documents, set(new), document_index(wd).batches_of, ["doc_id", "text"])
    doctype = settings.doctype()
    learned = store.learn(corrections, texts_of(docs) if docs is not None else {}, doctype)
    reg = store.registry()
    rows = [
        {
            "vendor_id": v.id,
            "name": v.name,
            "key": k,
            "confirmations": len(cids),
            "branches": len(v.branches),
            "sources": "+".join(sorted(v.sources)),
        }
        for v in reg.vendors.values()
        for k, cids in sorted(v.keys.items())
    ]
    context.add_output_metadata(
        {
            "vendors": len(reg.vendors),
            "keys": len(reg.index),
            "corrections_learned": len(learned),
            # Spellings of customer fields (advertisers) learned as aliases of their names.
            "customer_aliases": sum(len(t) for _, t in store.customer_aliases(doctype).aliases),
            "conflicts": len(reg.conflicts),
            "conflict_list": dg.MetadataValue.json(
                [f"{c.kind} {c.key}: {c.detail}" for c in reg.conflicts[:50]]
            ),
            "dagster/row_count": len(rows),
        }
    )
    return pl.DataFrame(rows, schema=REGISTRY_COLUMNS)


UNUSABLE = ("shared_key", "import_disagrees")  # conflicts whose key no longer matches alone


@dg.asset_check(
    asset=vendor_registry,
    blocking=False,
    description="Warns when two vendors claim one key (shared_key, import_disagrees): documents "
    "printing it are routed to review as vendor_ambiguous until a manager settles it (`docasset "
    "vendors list --conflicts`, then `docasset vendors import` of the right vendor). Vendors "
    "whose corrections typed different names (names_differ) are counted, not warned about.",
)
def vendor_conflicts(vendor_registry_store: VendorRegistryStore) -> dg.AssetCheckResult:
    conflicts = vendor_registry_store.store().registry().conflicts
    unusable = [c for c in conflicts if c.kind in UNUSABLE]
    return dg.AssetCheckResult(
        passed=not unusable,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "key_conflicts": len(unusable),
            "names_differ": sum(c.kind == "names_differ" for c in conflicts),
            "conflicts": dg.MetadataValue.json(
                [f"{c.kind} {c.key}: {c.detail}" for c in unusable[:50]]
            ),
        },
    )
