"""The training-time reference production health is measured against.

Saved next to each model version (``versions/vNNNN/reference/``) when it is trained:

- ``features.parquet``: one row per curated document (``split`` train/dev/golden) with the
  per-document feature table of :func:`document_features` (text and layout statistics; the
  OCR and image measures are filled in at health time from the stored scans) and what the
  model predicts on it (per-field confidence, predictions per document, route);
- ``reference.json``: the vocabulary seen in training (vendors, date formats, months, field
  labels) and the held-out (dev + golden) confidence, accuracy and automation figures.

Held-out documents are the reference for prediction signals: the model has seen its training
documents, whose confidences are optimistic.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from spacy.tokens import Doc

from docasset.core.extraction.evidence import doc_words
from docasset.core.extraction.extract import ModelBundle, predict_text
from docasset.core.extraction.fields import DocType, parse_date, values_match
from docasset.core.files import atomic_write, read_json, read_parquet
from docasset.core.intake.scans import PageQuality, effective_dpi
from docasset.core.training.registry import Registry
from docasset.errors import ModelError

REFERENCE_DIR = "reference"
HELD_OUT = ("dev", "golden")
VENDOR_FIELDS = ("company", "vendor")
TEXT_FEATURES = (
    "text_len",
    "n_words",
    "n_lines",
    "chars_per_line",
    "digit_share",
    "upper_share",
)
SCAN_FEATURES = (
    "ocr_conf",
    "dpi",
    "blur",
    "contrast",
    "skew_abs",
    "ink_ratio",
    "text_rows",
    "aspect",
    "n_pages",
)
FEATURE_SCHEMA: dict[str, pl.DataType] = {
    "doc_id": pl.Utf8(),
    **{k: pl.Float64() for k in TEXT_FEATURES + SCAN_FEATURES},
}
_LETTERS = re.compile(r"[A-Za-z]+")
_DIGITS = re.compile(r"\d+")


def squash(value: str) -> str:
    """Case-, whitespace- and punctuation-free form of a text value (vendor matching)."""
    return re.sub(r"[^0-9a-z]", "", value.lower())


def date_shape(value: str) -> str:
    """The format of a printed date: digit runs -> ``9``, letter runs -> ``A``, spaces
    collapsed (``25/12/2018`` -> ``9/9/9``, ``DEC 25, 2018`` -> ``A 9, 9``)."""
    s = _DIGITS.sub("9", _LETTERS.sub("A", value.strip()))
    return re.sub(r"\s+", " ", s)


def text_features(text: str) -> dict[str, float]:
    """Length, words, lines and character mix of one document's OCR text."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    chars = [c for c in text if not c.isspace()]
    n = max(len(chars), 1)
    return {
        "text_len": float(len(text)),
        "n_words": float(len(text.split())),
        "n_lines": float(len(lines)),
        "chars_per_line": float(np.mean([len(ln.strip()) for ln in lines])) if lines else 0.0,
        "digit_share": sum(c.isdigit() for c in chars) / n,
        "upper_share": sum(c.isupper() for c in chars) / n,
    }


def scan_features(pages: list[PageQuality], sizes: list[tuple[int, int]]) -> dict[str, float]:
    """Image quality and layout measures of one document (worst or mean over its pages).

    ``sizes`` are the pages' (width, height) in pixels, in the order of ``pages``.
    """
    if not pages:
        return {}
    dpis = [d for d in (effective_dpi(q.dpi, q) for q in pages) if d is not None]
    return {
        "dpi": float(min(dpis)) if dpis else float("nan"),
        "blur": float(min(q.blur for q in pages)),
        "contrast": float(min(q.contrast for q in pages)),
        "skew_abs": float(max(abs(q.skew_deg) for q in pages)),
        "ink_ratio": float(np.mean([q.ink_ratio for q in pages])),
        "text_rows": float(sum(q.text_rows for q in pages)),
        "aspect": float(np.mean([h / w for w, h in sizes if w])) if sizes else float("nan"),
        "n_pages": float(len(pages)),
    }


def document_features(
    texts: Mapping[str, str],
    scans: Mapping[str, dict[str, float]] | None = None,
    ocr_conf: Mapping[str, float | None] | None = None,
) -> pl.DataFrame:
    """The per-document feature table (:data:`FEATURE_SCHEMA`); unknown measures are null."""
    rows = []
    for doc_id, text in texts.items():
        row: dict[str, Any] = {"doc_id": doc_id, **text_features(text)}
        row.update((scans or {}).get(doc_id, {}))
        row["ocr_conf"] = (ocr_conf or {}).get(doc_id)
        rows.append(row)
    df = pl.DataFrame(rows, schema=FEATURE_SCHEMA) if rows else pl.DataFrame(schema=FEATURE_SCHEMA)
    return df.with_columns(pl.col(pl.Float64).fill_nan(None))


def prediction_features(
    fields: list[str], required: list[str], preds: pl.DataFrame
) -> pl.DataFrame:
    """Per document of a long predictions frame: ``conf_<field>`` (0 when missing), ``n_predicted``
    (fields with a value), ``missing_required`` and ``route``."""
    if preds.is_empty():
        return pl.DataFrame(
            schema={
                "doc_id": pl.Utf8,
                **{f"conf_{f}": pl.Float64 for f in fields},
                "n_predicted": pl.Float64,
                "missing_required": pl.Float64,
                "route": pl.Utf8,
            }
        )
    has = pl.col("value").is_not_null()
    conf = preds.with_columns(pl.when(has).then(pl.col("confidence")).otherwise(0.0).alias("c"))
    wide = conf.pivot(on="field", index="doc_id", values="c").rename(
        {f: f"conf_{f}" for f in fields if f in conf["field"].unique().to_list()}
    )
    for f in fields:
        if f"conf_{f}" not in wide.columns:
            wide = wide.with_columns(pl.lit(0.0).alias(f"conf_{f}"))
    per_doc = preds.group_by("doc_id", maintain_order=True).agg(
        has.sum().cast(pl.Float64).alias("n_predicted"),
        (pl.col("field").is_in(required) & ~has).sum().cast(pl.Float64).alias("missing_required"),
        pl.col("route").first(),
    )
    return per_doc.join(wide.select("doc_id", *[f"conf_{f}" for f in fields]), on="doc_id")


@dataclass
class Reference:
    """A model version's reference: feature table, vocabulary, held-out prediction figures."""

    model_version: str | None
    doc_type: str
    fields: list[str]
    required: list[str]
    features: pl.DataFrame
    vendors: list[str] = field(default_factory=list)
    date_formats: list[str] = field(default_factory=list)
    months: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    n_docs: dict[str, int] = field(default_factory=dict)
    # held-out (dev + golden): field -> mean confidence of predicted values / their accuracy
    confidence: dict[str, float] = field(default_factory=dict)
    accuracy: dict[str, float] = field(default_factory=dict)
    automation_rate: float = 0.0
    predictions_per_doc: float = 0.0
    missing_required_share: float = 0.0

    def held_out(self) -> pl.DataFrame:
        """The held-out rows of the feature table (the prediction-signal reference)."""
        return self.features.filter(pl.col("split").is_in(HELD_OUT))

    def meta(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("features")
        return d


def _vocabulary(doctype: DocType, docs: list[Doc]) -> dict[str, list]:
    vendors: set[str] = set()
    shapes: set[str] = set()
    months: set[int] = set()
    for d in docs:
        truth: dict[str, str] = d.user_data.get("fields", {})
        for spec in doctype.fields:
            v = (truth.get(spec.name) or "").strip()
            if not v:
                continue
            if spec.name in VENDOR_FIELDS:
                vendors.add(squash(v))
            if spec.type == "date":
                shapes.add(date_shape(v))
                if (parsed := parse_date(v)) is not None:
                    months.add(parsed.month)
    return {
        "vendors": sorted(vendors - {""}),
        "date_formats": sorted(shapes),
        "months": sorted(months),
    }


def build_reference(bundle: ModelBundle, splits: Mapping[str, list[Doc]]) -> Reference:
    """Predict every curated document (``split`` -> training ``Doc``s with truth in
    ``user_data``) with ``bundle`` and collect the reference figures."""
    doctype = bundle.doctype
    texts: dict[str, str] = {}
    split_of: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    outcomes: dict[str, list[tuple[float, bool]]] = {n: [] for n in doctype.names}
    routes: list[str] = []
    for split, docs in splits.items():
        for d in docs:
            doc_id = str(d.user_data["doc_id"])
            texts[doc_id], split_of[doc_id] = d.text, split
            # With the OCR word confidences, as production routes (the misread floor).
            pred = predict_text(bundle, doc_id, d.text, None, doc_words(d))
            for spec in doctype.fields:
                f = pred.fields[spec.name]
                rows.append(
                    {
                        "doc_id": doc_id,
                        "field": spec.name,
                        "value": f.value,
                        "confidence": float(f.confidence),
                        "route": pred.route,
                    }
                )
                if split in HELD_OUT and f.value is not None:
                    truth = d.user_data["fields"].get(spec.name) or None
                    outcomes[spec.name].append((f.confidence, values_match(spec, f.value, truth)))
            if split in HELD_OUT:
                routes.append(pred.route)
    preds = pl.DataFrame(
        rows,
        schema={
            "doc_id": pl.Utf8,
            "field": pl.Utf8,
            "value": pl.Utf8,
            "confidence": pl.Float64,
            "route": pl.Utf8,
        },
    )
    feats = document_features(texts).join(
        prediction_features(doctype.names, doctype.required, preds), on="doc_id", how="left"
    )
    feats = feats.with_columns(
        pl.col("doc_id").replace_strict(split_of, return_dtype=pl.Utf8).alias("split")
    )
    held = feats.filter(pl.col("split").is_in(HELD_OUT))
    all_docs = [d for docs in splits.values() for d in docs]
    n_held = max(held.height, 1)
    return Reference(
        model_version=bundle.version,
        doc_type=doctype.name,
        fields=doctype.names,
        required=doctype.required,
        features=feats,
        labels=sorted(doctype.labels),
        n_docs={s: len(docs) for s, docs in splits.items()},
        confidence={k: float(np.mean([c for c, _ in v])) for k, v in outcomes.items() if v},
        accuracy={k: float(np.mean([ok for _, ok in v])) for k, v in outcomes.items() if v},
        automation_rate=float(np.mean([r == "auto" for r in routes])) if routes else 0.0,
        predictions_per_doc=float(held["n_predicted"].sum()) / n_held if held.height else 0.0,
        missing_required_share=(_share(held["missing_required"] > 0) if held.height else 0.0),
        **_vocabulary(doctype, all_docs),
    )


def _share(mask: pl.Series) -> float:
    return float(mask.cast(pl.Float64).mean() or 0.0)  # type: ignore[arg-type]


def save_reference(version_dir: Path, ref: Reference) -> Path:
    """Write ``reference/`` into a model version directory (atomic files); returns it."""
    out = version_dir / REFERENCE_DIR
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".features.parquet.tmp"
    ref.features.write_parquet(tmp)
    tmp.replace(out / "features.parquet")
    atomic_write(out / "reference.json", json.dumps(ref.meta(), indent=1, sort_keys=True).encode())
    return out


def load_reference(version_dir: Path) -> Reference:
    """Read a model version's reference; ``ModelError`` when the version has none."""
    d = version_dir / REFERENCE_DIR
    if not (d / "reference.json").is_file() or not (d / "features.parquet").is_file():
        raise ModelError(f"{version_dir}: no health reference (model trained before references)")
    # Written with the version at training time: a damaged one comes back by training again.
    recovery = (
        f"restore {d} from a backup, or retrain (a new version gets a new reference); "
        "until then health checks of this version cannot compare against it"
    )
    meta = read_json(d / "reference.json", recovery)
    return Reference(features=read_parquet(d / "features.parquet", recovery), **meta)


def has_reference(version_dir: Path) -> bool:
    """Whether a model version directory holds a health reference."""
    return (version_dir / REFERENCE_DIR / "reference.json").is_file()


def window_reference(registry: Registry, model_versions: list[str]) -> Reference | None:
    """The reference of the version that predicted most of a window's rows (None: no model
    predicted it, or the version was trained before references were saved; the assessment
    says so). ``ModelError`` when the version is not in the registry."""
    if not model_versions:
        return None
    version = Counter(model_versions).most_common(1)[0][0]
    mv = registry.get(version)
    return load_reference(mv.path) if has_reference(mv.path) else None
