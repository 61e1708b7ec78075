"""Label-free production health of a window of predictions, against the model's reference.

Signals (:func:`assess`): OCR and scan quality (mean word confidence, bad-scan share, DPI
distribution), prediction density and missing required fields, per-field confidence, values
never seen in training (vendors, date formats, months, labels), automation rate and its
trend, feature drift (``docasset.core.monitoring.drift``), estimated accuracy (the mean calibrated
confidence of the extracted values, CBPE-style) beside realized accuracy on the documents
humans checked, and root-cause hints (:func:`root_causes`) following the production
playbook: bad scans, irrelevant documents, vendors/layouts not in training, seasonal shift.
``docasset.core.monitoring.checks`` turns the assessment into the health checks' verdicts,
``docasset.core.monitoring.causes`` names the likely causes and
``docasset.core.monitoring.monitor`` runs one day end to end.

The functions take only the frames they need: the window's predictions and documents and the
reference documents' measures, never the whole history.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process

from docasset.core.extraction.fields import DocType, parse_date, values_match
from docasset.core.extraction.prediction_table import PREDICTION_COLUMNS
from docasset.core.intake.scan_table import page_qualities
from docasset.core.monitoring.assessment import (
    AccuracyGap,
    CheckedSample,
    Comparison,
    FieldGap,
    FieldRouting,
    HealthAssessment,
    Quantiles,
    ReferenceSummary,
    TrendPoint,
    UnseenValues,
    WindowSignals,
)
from docasset.core.monitoring.causes import root_causes
from docasset.core.monitoring.drift import DriftResult
from docasset.core.monitoring.thresholds import (
    EMPTY_PROBLEMS,
    IMAGE_PROBLEMS,
    HealthThresholds,
)
from docasset.core.ocr.text import document_text
from docasset.core.training.health_reference import (
    SCAN_FEATURES,
    TEXT_FEATURES,
    VENDOR_FIELDS,
    Reference,
    date_shape,
    document_features,
    prediction_features,
    scan_features,
    squash,
)

# --- per-document inputs ----------------------------------------------------------------------


def frame_features(
    doc_ids: list[str], words: pl.DataFrame | None, scans: pl.DataFrame | None
) -> pl.DataFrame:
    """The per-document feature table of ``doc_ids`` from the stored word tables (text, OCR
    confidence) and ``raw_scans`` rows (image quality, layout); missing sources give nulls."""
    wanted = set(doc_ids)
    texts: dict[str, str] = dict.fromkeys(doc_ids, "")
    conf: dict[str, float | None] = {}
    if words is not None and words.height:
        w = words.filter(pl.col("doc_id").is_in(list(wanted)))
        for (doc_id,), g in w.partition_by("doc_id", as_dict=True).items():
            texts[str(doc_id)] = document_text(g, str(doc_id))
            conf[str(doc_id)] = float(g["conf"].mean())  # type: ignore[arg-type]
    feats: dict[str, dict[str, float]] = {}
    if scans is not None and scans.height:
        s = scans.filter(pl.col("doc_id").is_in(list(wanted)) & (pl.col("status") == "ok"))
        quals = page_qualities(s)
        sizes: dict[str, list[tuple[int, int]]] = {}
        for r in s.sort("doc_id", "page").iter_rows(named=True):
            sizes.setdefault(r["doc_id"], []).append((r["width"] or 0, r["height"] or 0))
        # A born-digital page has no scan measures (None): the document's scanned pages count.
        feats = {
            d: scan_features([x for x in q if x is not None], sizes.get(d, []))
            for d, q in quals.items()
        }
    return document_features(texts, feats, conf)


def with_measures(reference: pl.DataFrame, measured: pl.DataFrame) -> pl.DataFrame:
    """The reference feature table with its OCR/scan measures filled in from ``measured``
    (they are not known at training time, only from the stored scans and word tables)."""
    cols = [c for c in SCAN_FEATURES if c in measured.columns]
    if not measured.height or not cols:
        return reference
    upd = measured.select("doc_id", *cols)
    return reference.drop(cols, strict=False).join(upd, on="doc_id", how="left")


def model_view(preds: pl.DataFrame) -> pl.DataFrame:
    """The window as the model saw it: values filled from the correction memory are the
    operators' words, not the model's, so their confidence is dropped (null)."""
    return preds.with_columns(
        pl.when(pl.col("source") == "memory")
        .then(None)
        .otherwise(pl.col("confidence"))
        .alias("confidence"),
    )


# --- signals -----------------------------------------------------------------------------------


def novelty(
    preds: pl.DataFrame, ref: Reference, doctype: DocType, similarity: float
) -> pl.DataFrame:
    """Per document: values never seen in training. ``unseen_vendor`` (the vendor field's
    value matches no training vendor above ``similarity``), ``unseen_date_format``,
    ``unseen_month`` and ``unseen_label`` (a predicted field outside the reference schema)."""
    vendors = list(ref.vendors)
    formats, months, schema = set(ref.date_formats), set(ref.months), set(ref.fields)
    date_fields = {s.name for s in doctype.fields if s.type == "date"}
    out: list[dict[str, Any]] = []
    for (doc_id,), rows in preds.partition_by("doc_id", as_dict=True, maintain_order=True).items():
        flags = {
            "doc_id": doc_id,
            "unseen_vendor": False,
            "vendor": None,
            "unseen_date_format": False,
            "date_format": None,
            "unseen_month": False,
            "month": None,
            "unseen_label": False,
        }
        for r in rows.filter(pl.col("value").is_not_null()).iter_rows(named=True):
            f, v = r["field"], str(r["value"])
            if f not in schema:
                flags["unseen_label"] = True
            elif f in VENDOR_FIELDS and vendors:
                flags["vendor"] = v
                best = process.extractOne(squash(v), vendors, scorer=fuzz.ratio)
                flags["unseen_vendor"] = best is None or best[1] < similarity
            elif f in date_fields:
                shape = date_shape(v)
                flags["date_format"] = shape
                flags["unseen_date_format"] = bool(formats) and shape not in formats
                d = parse_date(v)
                if d is not None:
                    flags["month"] = d.month
                    flags["unseen_month"] = bool(months) and d.month not in months
        out.append(flags)
    schema_ = {
        "doc_id": pl.Utf8,
        "unseen_vendor": pl.Boolean,
        "vendor": pl.Utf8,
        "unseen_date_format": pl.Boolean,
        "date_format": pl.Utf8,
        "unseen_month": pl.Boolean,
        "month": pl.Int64,
        "unseen_label": pl.Boolean,
    }
    return pl.DataFrame(out, schema=schema_) if out else pl.DataFrame(schema=schema_)


def estimated_accuracy(preds: pl.DataFrame) -> dict[str, float]:
    """Per field: mean calibrated confidence of the extracted values (null confidences, the
    memory's in :func:`model_view`, are left out): the expected share that is right."""
    got = preds.filter(pl.col("value").is_not_null() & pl.col("confidence").is_not_null())
    return {
        str(f): float(c)
        for f, c in got.group_by("field").agg(pl.col("confidence").mean()).sort("field").rows()
    }


def accuracy_gap(
    doctype: DocType,
    preds: pl.DataFrame,
    truths: Mapping[str, Mapping[str, str | None]],
    prefer_auto: bool = True,
) -> AccuracyGap:
    """Estimated vs realized accuracy on the documents humans checked (``truths``: doc id ->
    corrected field values). The audited auto-routed documents are the unbiased sample when
    there are any; otherwise every corrected document (biased toward review). Both figures
    are over the same documents, so their gap measures calibration, not sample choice.
    ``prefer_auto=False`` always uses every checked document."""
    checked = preds.filter(pl.col("doc_id").is_in(list(truths)))
    auto = checked.filter(pl.col("route") == "auto")
    sample: CheckedSample = (
        "auto-routed, human-checked" if auto.height and prefer_auto else "all corrected"
    )
    rows = auto if sample.startswith("auto") else checked
    per_field: dict[str, FieldGap] = {}
    for spec in doctype.fields:
        got = rows.filter((pl.col("field") == spec.name) & pl.col("value").is_not_null())
        oks = [
            values_match(spec, r["value"], truths[r["doc_id"]].get(spec.name) or None)
            for r in got.iter_rows(named=True)
        ]
        n = len(oks)
        est = float(got["confidence"].mean()) if n else None  # type: ignore[arg-type]
        per_field[spec.name] = FieldGap(n, est, float(np.mean(oks)) if n else None)
    return AccuracyGap(sample, rows["doc_id"].n_unique(), per_field)


FIELD_STATUS = "field_status"  # per document field: "accepted" | "to_check" (issue #13)


def field_routing(
    doctype: DocType,
    preds: pl.DataFrame,
    truths: Mapping[str, Mapping[str, str | None]],
) -> FieldRouting | None:
    """Field-level routing of the window when predictions carry a ``field_status`` column
    (None otherwise): the share of document fields accepted, the share of documents with no
    field to check (touchless), and their realized accuracy on the checked documents."""
    if FIELD_STATUS not in preds.columns:
        return None
    rows = preds.filter(pl.col(FIELD_STATUS).is_not_null())
    if rows.is_empty():
        return None
    accepted = rows.filter(pl.col(FIELD_STATUS) == "accepted")
    docs = rows.group_by("doc_id").agg((pl.col(FIELD_STATUS) == "accepted").all().alias("t"))
    touchless = set(docs.filter(pl.col("t"))["doc_id"].to_list())

    def right(r: Mapping[str, Any]) -> bool:
        spec = doctype.spec(r["field"])
        return values_match(spec, r["value"], truths[r["doc_id"]].get(spec.name) or None)

    checked = accepted.filter(pl.col("doc_id").is_in(list(truths)))
    oks = [right(r) for r in checked.iter_rows(named=True)]
    per_doc: dict[str, bool] = {}
    for r in rows.filter(pl.col("doc_id").is_in(list(touchless & set(truths)))).iter_rows(
        named=True
    ):
        per_doc[r["doc_id"]] = per_doc.get(r["doc_id"], True) and right(r)
    return FieldRouting(
        field_automation=accepted.height / rows.height,
        touchless_rate=len(touchless) / docs.height,
        n_fields=rows.height,
        n_docs=docs.height,
        accepted_accuracy=float(np.mean(oks)) if oks else None,
        n_accepted_checked=len(oks),
        touchless_accuracy=float(np.mean(list(per_doc.values()))) if per_doc else None,
        n_touchless_checked=len(per_doc),
    )


def trend_documents(preds: pl.DataFrame | None, day: date, days: int) -> pl.DataFrame:
    """One row per document a model predicted in the ``days`` up to ``day``: ``doc_id``,
    ``day``, ``route`` (what :func:`automation_trend` needs, and all it needs)."""
    if preds is None or preds.is_empty():
        return pl.DataFrame(schema={"doc_id": pl.Utf8, "day": pl.Date, "route": pl.Utf8})
    start = day - timedelta(days=days - 1)
    return (
        preds.filter(pl.col("model_version").is_not_null())
        .group_by("doc_id")
        .agg(pl.col("route").first(), pl.col("predicted_at").first().dt.date().alias("day"))
        .filter((pl.col("day") >= start) & (pl.col("day") <= day))
        .select("doc_id", "day", "route")
    )


def automation_trend(docs: pl.DataFrame) -> tuple[TrendPoint, ...]:
    """Automation rate per day of :func:`trend_documents` rows."""
    agg = (
        docs.group_by("day")
        .agg((pl.col("route") == "auto").mean().alias("automation_rate"), pl.len().alias("n"))
        .sort("day")
    )
    return tuple(TrendPoint(d, float(a), int(n)) for d, a, n in agg.rows())


def _share(mask: pl.Series | list[bool]) -> float:
    s = pl.Series(mask, dtype=pl.Boolean)
    return float(s.mean()) if len(s) else 0.0  # type: ignore[arg-type]


def _histogram(values: Sequence[float], edges: Sequence[float]) -> tuple[int, ...]:
    return tuple(int(c) for c in np.histogram(np.asarray(values, dtype=float), bins=edges)[0])


# --- the assessment -----------------------------------------------------------------------------


def assess(
    *,
    day: date,
    doctype: DocType,
    window: pl.DataFrame,
    features: pl.DataFrame,
    problems: Mapping[str, Sequence[str]],
    ref: Reference | None,
    ref_features: pl.DataFrame | None,
    truths: Mapping[str, Mapping[str, str | None]],
    drift: DriftResult | None,
    trend: tuple[TrendPoint, ...],
    thresholds: HealthThresholds,
    n_unmodelled: int = 0,
) -> HealthAssessment:
    """Every health signal of one window.

    ``window``: long predictions of the documents a model predicted in the window;
    ``features``: their per-document feature table (:func:`frame_features` joined with
    :func:`~docasset.core.training.health_reference.prediction_features`); ``problems``:
    scan/OCR problem codes per document; ``ref_features``: the reference table with measures
    filled in.
    """
    docs = window.unique(subset=["doc_id"], keep="first", maintain_order=True)
    n = docs.height
    base = HealthAssessment(
        day=day,
        n_unmodelled=n_unmodelled,
        model_versions=tuple(sorted({v for v in docs["model_version"].to_list() if v})),
        n_modelled=n,
        trend=trend,
    )
    if n == 0:
        return replace(base, not_assessed="no documents predicted by a model in this window")
    ids = docs["doc_id"].to_list()
    codes = [set(problems.get(d, [])) for d in ids]
    image_bad = [bool(c & set(IMAGE_PROBLEMS)) for c in codes]
    empty = [bool(c & set(EMPTY_PROBLEMS)) for c in codes]
    f = features.join(pl.DataFrame({"doc_id": ids}), on="doc_id", how="right")
    n_req = max(len(doctype.required), 1)
    missing = dict(
        zip(f["doc_id"].to_list(), f["missing_required"].fill_null(0).to_list(), strict=True)
    )
    # An irrelevant page: nothing on it, or readable yet without most required fields.
    irrelevant = [
        e or (not b and missing.get(d, 0) * 2 >= n_req)
        for d, b, e in zip(ids, image_bad, empty, strict=True)
    ]
    ocr = [v for v in f["ocr_conf"].to_list() if v is not None]
    dpis = [v for v in f["dpi"].to_list() if v is not None]
    model = model_view(window)
    routes = docs["route"].to_list()
    signals = WindowSignals(
        automation_rate=_share([r == "auto" for r in routes]),
        review_share=_share([r == "review" for r in routes]),
        predictions_per_doc=float(window["value"].is_not_null().sum()) / n,
        missing_required_share=_share([missing.get(d, 0) > 0 for d in ids]),
        mean_ocr_confidence=float(np.mean(ocr)) if ocr else None,
        bad_scan_share=_share(image_bad),
        irrelevant_share=_share(irrelevant),
        scan_problems=dict(Counter(p for c in codes for p in c).most_common()),
        dpi=_quantiles(dpis),
        dpi_histogram=_histogram(dpis, DPI_EDGES) if dpis else None,
        memory_share=_share(
            window.filter(pl.col("value").is_not_null())["source"].eq("memory").to_list()
        ),
        estimated_accuracy=estimated_accuracy(window),
        model_estimated_accuracy=estimated_accuracy(model),
        field_confidence_histogram={
            name: _histogram(
                model.filter((pl.col("field") == name) & pl.col("confidence").is_not_null())[
                    "confidence"
                ].to_list(),
                CONF_EDGES,
            )
            for name in doctype.names
        },
        field_routing=field_routing(doctype, window, truths),
    )
    comparison = None
    if ref is not None:
        clean = [not b and not i for b, i in zip(image_bad, irrelevant, strict=True)]
        comparison = compare(doctype, window, signals, ref, ref_features, ids, clean, thresholds)
    return replace(
        base,
        not_assessed=None if ref else f"model {_versions(base)} has no health reference",
        signals=signals,
        comparison=comparison,
        accuracy_gap=accuracy_gap(doctype, window, truths),
        drift=drift,
        hints=root_causes(signals, comparison, drift, thresholds),
    )


def compare(
    doctype: DocType,
    window: pl.DataFrame,
    signals: WindowSignals,
    ref: Reference,
    ref_features: pl.DataFrame | None,
    ids: list[str],
    clean: list[bool],
    thresholds: HealthThresholds,
) -> Comparison:
    """The window against the reference: values never seen in training (among the ``clean``
    documents: a bad scan's garbled "vendor" is not new), automation and confidence drops."""
    nov = novelty(window, ref, doctype, thresholds.vendor_similarity)
    nov = nov.join(pl.DataFrame({"doc_id": ids, "clean": clean}), on="doc_id")
    usable = nov.filter(pl.col("clean"))
    kinds = ("unseen_vendor", "unseen_date_format", "unseen_month", "unseen_label")
    share = {k: float(usable[k].mean()) if usable.height else 0.0 for k in kinds}  # type: ignore[arg-type]
    any_new = usable.select(pl.any_horizontal(*kinds)).to_series()

    def examples(flag: str, col: str) -> list[Any]:
        return sorted({v for v in usable.filter(pl.col(flag))[col].to_list() if v})

    unseen = UnseenValues(
        vendor=share["unseen_vendor"],
        date_format=share["unseen_date_format"],
        month=share["unseen_month"],
        label=share["unseen_label"],
        share=float(any_new.mean()) if usable.height else 0.0,  # type: ignore[arg-type]
        vendors=tuple(examples("unseen_vendor", "vendor")[:10]),
        months=tuple(examples("unseen_month", "month")),
        date_formats=tuple(examples("unseen_date_format", "date_format")),
    )
    rdpi = rocr = None
    if ref_features is not None:
        rdpi = [v for v in ref_features["dpi"].to_list() if v is not None]
        rocr = [v for v in ref_features["ocr_conf"].to_list() if v is not None]
    summary = ReferenceSummary(
        model_version=ref.model_version,
        n_docs=dict(ref.n_docs),
        automation_rate=ref.automation_rate,
        predictions_per_doc=ref.predictions_per_doc,
        missing_required_share=ref.missing_required_share,
        confidence=dict(ref.confidence),
        accuracy=dict(ref.accuracy),
        months=tuple(ref.months),
        n_vendors=len(ref.vendors),
        date_formats=tuple(ref.date_formats),
        dpi=_quantiles(rdpi or []),
        dpi_histogram=_histogram(rdpi, DPI_EDGES) if rdpi else None,
        mean_ocr_confidence=float(np.mean(rocr)) if rocr else None,
    )
    drops = {
        k: ref.confidence[k] - v
        for k, v in signals.model_estimated_accuracy.items()
        if k in ref.confidence and k in doctype.required
    }
    return Comparison(summary, unseen, ref.automation_rate - signals.automation_rate, drops)


def _versions(a: HealthAssessment) -> str:
    return ", ".join(a.model_versions) or "-"


DPI_EDGES = [0, 100, 150, 200, 250, 300, 400, 600, 10_000]
CONF_EDGES = [i / 10 for i in range(11)]


def _quantiles(values: Sequence[float]) -> Quantiles | None:
    if not values:
        return None
    q = np.percentile(np.asarray(values, dtype=float), [5, 50, 95])
    return Quantiles(float(q[0]), float(q[1]), float(q[2]))


def day_predictions(preds: pl.DataFrame | None, day: date) -> pl.DataFrame:
    """Every prediction made on ``day`` (UTC), with or without a model."""
    if preds is None or preds.is_empty():
        return pl.DataFrame(schema=PREDICTION_COLUMNS)
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return preds.filter(
        (pl.col("predicted_at") >= start) & (pl.col("predicted_at") < start + timedelta(days=1))
    )


def window_frames(preds: pl.DataFrame | None, day: date) -> tuple[pl.DataFrame, int]:
    """The predictions of ``day`` made by a model, and how many documents of the day had no
    model (routed to review by construction; they say nothing about a model's health)."""
    w = day_predictions(preds, day)
    unmodelled = w.filter(pl.col("model_version").is_null())["doc_id"].n_unique()
    return w.filter(pl.col("model_version").is_not_null()), unmodelled


def window_features(doctype: DocType, window: pl.DataFrame, measured: pl.DataFrame) -> pl.DataFrame:
    """Measured features of the window's documents joined with their prediction features
    (confidences of memory-filled values dropped: :func:`model_view`)."""
    pf = prediction_features(doctype.names, doctype.required, model_view(window))
    return measured.join(pf, on="doc_id", how="inner")


def feature_columns(doctype: DocType) -> list[str]:
    """The columns drift is measured on."""
    return [*TEXT_FEATURES, *SCAN_FEATURES, *(f"conf_{n}" for n in doctype.names), "n_predicted"]
