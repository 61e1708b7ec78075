"""Promotion of corrected documents into the curated training set, and the frozen golden set.

Production practice: promote what the model did not already get right.

- promoted: documents routed to ``review`` (not fully automated; basis ``review``), automated
  documents an operator found wrong on sampling (basis ``auto_false_positive``), and corrected
  documents never predicted (basis ``unpredicted``);
- excluded, with a reason code (``EXCLUSION_REASONS``): operator verdicts (``irrelevant``,
  ``bad_scan``), scans ``scan_quality`` flagged (``bad_scan``), annotator conflicts awaiting QA,
  corrections without values, automated documents found fully right on sampling
  (``model_correct``: they teach nothing), documents without OCR text or whose values cannot be
  placed in it.

Promoted documents are split ``train``/``dev``/``golden`` by a stable hash of their id. The
golden evaluation set is frozen the first time enough golden-bucket documents exist
(``golden.json``); it is never trained on, and golden-bucket documents arriving later are held
back (``golden_reserve``), never trained on. Every curated set writes a manifest
(``sets/<version>.json``: the correction ids it trained on), so the retraining sensor can count
what is new since the production model's training set.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import spacy
from spacy.tokens import Doc
from spacy.util import filter_spans

from docasset.core.extraction.evidence import WordSpans
from docasset.core.extraction.fields import DocType, FieldSpec, collapse, normalize, values_match
from docasset.core.extraction.rules import find_dates, find_totals
from docasset.core.files import atomic_write, read_json
from docasset.core.training.align import Alignment, near_miss
from docasset.core.training.train import docs_to_bytes, make_training_doc
from docasset.core.tunable import tunable
from docasset.core.validation.corrections import (
    CorrectionRecord,
    latest_per_document,
    unusable_documents,
)
from docasset.errors import StoreError

EXCLUSION_REASONS = {
    "irrelevant": "an operator marked the page irrelevant",
    "bad_scan": "scan_quality flagged the scan, or an operator marked it a bad scan",
    "annotator_conflict": "annotators disagree on the document; kept for QA, never resolved here",
    "no_field_values": "the correction has no field values",
    "model_correct": "automated and found fully right on sampling: teaches nothing",
    "no_ocr_text": "no OCR text for the document",
    "unalignable": "no corrected value could be placed in the OCR text",
    "unusable_record": "every stored correction of the document is unusable (see its issue)",
}
PROMOTION_BASES = ("review", "auto_false_positive", "unpredicted")
TRAINED_SPLITS = ("train", "dev")

RECORD_SCHEMA = {
    "doc_id": pl.Utf8,
    "correction_id": pl.Utf8,
    "split": pl.Utf8,  # train | dev | golden | golden_reserve | excluded
    "reason": pl.Utf8,  # why excluded (null when promoted), one of EXCLUSION_REASONS
    "basis": pl.Utf8,  # why promoted, one of PROMOTION_BASES (null when excluded)
    "n_fields": pl.Int32,
    "n_aligned": pl.Int32,
    "alignment": pl.Utf8,  # JSON list of {field, method, score, start, end}
    "issues": pl.Utf8,  # JSON list of annotation-consistency issues
}


@dataclass(frozen=True)
class SplitConfig:
    """How documents are split; the fractions are of the stable id hash space."""

    golden_fraction: float = tunable(
        0.2,
        "Share of corrected documents (by id hash) held out as golden.",
        ge=0,
        lt=1,
    )
    dev_fraction: float = tunable(0.2, "Share used for calibration and thresholds.", ge=0, lt=1)
    min_golden: int = tunable(5, "The golden set freezes once it has this many documents.", ge=1)


@dataclass
class CuratedSet:
    """The curated training set: serialized ``DocBin``s per split plus one record per document.

    ``qa``: document id -> reasons it is on the QA list (OCR misreadings of a value found by
    curation; annotator conflicts and out-of-fold disagreements with the model are added by
    the asset; see ``docasset.core.training.annotation_qa``)."""

    doc_type: str
    train: bytes
    dev: bytes
    golden: bytes
    records: pl.DataFrame
    golden_ids: list[str]
    version: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    qa: dict[str, list[str]] = field(default_factory=dict)


def bucket(doc_id: str) -> float:
    """A stable number in [0, 1) for a document id (the split never changes)."""
    return int(hashlib.sha256(doc_id.encode()).hexdigest()[:8], 16) / 2**32


def split_of(doc_id: str, cfg: SplitConfig) -> str:
    """``golden``, ``dev`` or ``train``, from the id alone."""
    h = bucket(doc_id)
    if h < cfg.golden_fraction:
        return "golden"
    return "dev" if h < cfg.golden_fraction + cfg.dev_fraction else "train"


GOLDEN_RECOVERY = (
    "restore {path} from a backup; deleting it freezes a new golden set from the current "
    "corrections (model evaluations before and after are then not comparable)"
)


def load_golden(path: Path) -> list[str] | None:
    """The frozen golden ids, or None if not frozen yet."""
    if not path.is_file():
        return None
    data = read_json(path, GOLDEN_RECOVERY.format(path=path))
    if not isinstance(data, dict) or not isinstance(data.get("doc_ids"), list):
        raise StoreError(
            str(path), "not a golden set (no doc_ids list)", GOLDEN_RECOVERY.format(path=path)
        )
    return [str(d) for d in data["doc_ids"]]


def freeze_golden(path: Path, doc_ids: list[str]) -> None:
    """Freeze the golden set (written once; never rewritten)."""
    if path.exists():
        return
    atomic_write(path, json.dumps({"doc_ids": sorted(doc_ids)}, indent=1).encode())


def sampled_auto_outcomes(
    doctype: DocType, preds: pl.DataFrame, corrections: pl.DataFrame
) -> dict[str, str]:
    """For automated documents that were corrected (sampled for QA): ``model_correct`` when
    every predicted field matches the latest correction, else ``auto_false_positive``."""
    latest = {
        r["doc_id"]: CorrectionRecord.from_row(r).fields
        for r in latest_per_document(corrections).iter_rows(named=True)
        if not r["verdict"]
    }
    out: dict[str, str] = {}
    auto = preds.filter((pl.col("route") == "auto") & pl.col("doc_id").is_in(list(latest)))
    for (doc_id,), rows in auto.partition_by("doc_id", as_dict=True).items():
        truth = latest[doc_id]
        right = all(
            values_match(doctype.spec(r["field"]), r["value"], truth.get(r["field"]) or None)
            for r in rows.iter_rows(named=True)
            if r["field"] in doctype.names
        )
        out[str(doc_id)] = "model_correct" if right else "auto_false_positive"
    return out


def auto_correct_ids(doctype: DocType, preds: pl.DataFrame, corrections: pl.DataFrame) -> set[str]:
    """Documents routed ``auto`` whose every predicted field matches the latest correction."""
    outcomes = sampled_auto_outcomes(doctype, preds, corrections)
    return {d for d, o in outcomes.items() if o == "model_correct"}


def exclusion_reason(
    row: dict[str, object], bad_scans: set[str], auto_outcomes: dict[str, str], split: str
) -> str | None:
    """Why a latest-correction row is not promoted, from what is known without its text."""
    doc_id = str(row["doc_id"])
    if row["verdict"]:
        return str(row["verdict"])
    if row["conflict"]:
        return "annotator_conflict"
    if doc_id in bad_scans:
        return "bad_scan"
    if not CorrectionRecord.from_row(row).values:
        return "no_field_values"
    # Golden documents stay whatever they are: the evaluation set must include easy ones.
    if auto_outcomes.get(doc_id) == "model_correct" and split in TRAINED_SPLITS:
        return "model_correct"
    return None


def _basis(doc_id: str, routes: dict[str, str], auto_outcomes: dict[str, str]) -> str:
    if auto_outcomes.get(doc_id) == "auto_false_positive":
        return "auto_false_positive"
    return "review" if doc_id in routes else "unpredicted"


def _apply_spans(
    doc: Doc,
    doctype: DocType,
    text: str,
    values: dict[str, str],
    spans: dict[str, list[int]],
    alignment: list[dict[str, object]],
) -> list[str]:
    """Use the annotator's spans (where they hold the value) instead of the aligner's guess;
    returns the issues found (span outside the text, text differing, off token boundaries)."""
    issues: list[str] = []
    ents = list(doc.ents)
    for name, (start, end) in sorted(spans.items()):
        if name not in values:
            continue
        if not (0 <= start < end <= len(text)):
            issues.append(f"{name}: span [{start}, {end}] is outside the text")
            continue
        surface = collapse(text[start:end])
        if not values_match(doctype.spec(name), surface, values[name]):
            issues.append(f"{name}: span text {surface!r} differs from the value {values[name]!r}")
            continue
        label = doctype.spec(name).label
        span = doc.char_span(start, end, label=label)
        if span is None:
            issues.append(f"{name}: span [{start}, {end}] is not on token boundaries")
            span = doc.char_span(start, end, label=label, alignment_mode="expand")
        if span is None:
            continue
        others = [e for e in ents if e.label_ != label]
        if any(e.start < span.end and span.start < e.end for e in others):
            issues.append(f"{name}: span [{start}, {end}] overlaps another field")
        ents = filter_spans([span, *others])
        alignment[:] = [a for a in alignment if a["field"] != name]
        alignment.append(
            {"field": name, "method": "span", "score": 100.0, "start": start, "end": end}
        )
    doc.ents = ents
    return issues


def absent_value_issues(
    doctype: DocType, text: str, aligns: list[Alignment], notes: list[str]
) -> list[str]:
    """Consistency issues for values that could not be placed in the OCR text; OCR's share of
    the blame goes to ``notes`` (the QA list) instead.

    Real OCR misreads or drops values all the time (on SROIE a value is verbatim in the text
    for 43-88 % of documents, by field), and that is the scan's fault, not the annotation's:
    a value the text reads slightly differently (``near_miss``) is a note, and so is a single
    value missing from a document whose other values were found. When most of a document's
    values are nowhere in its text, the annotation probably belongs to another document: that
    is an issue for the gate.
    """
    absent = [
        a
        for a in aligns
        if a.method == "none" and not near_miss(doctype.spec(a.field), a.value, text, a.score)
    ]
    for a in aligns:
        if a.method == "none" and a not in absent:
            notes.append(f"{a.field}: {a.value!r} reads slightly differently in the OCR text")
    if aligns and len(absent) * 2 > len(aligns):
        return [f"{a.field}: value not found in OCR text" for a in absent]
    issues = []
    for a in absent:
        printed = contradicting_value(doctype.spec(a.field), text)
        if printed is not None:
            issues.append(
                f"{a.field}: value not found in OCR text, which clearly prints {printed!r}"
            )
        else:
            notes.append(f"{a.field}: {a.value!r} not found in the OCR text (unreadable?)")
    return issues


def contradicting_value(spec: FieldSpec, text: str) -> str | None:
    """What the text clearly prints for a typed field (its one date, or a total on a total
    line), which an absent annotated value contradicts; ``None`` when it shows none."""
    if spec.type == "date":
        dates = find_dates(text)
        return dates[0].text if len({normalize(spec, d.text) for d in dates}) == 1 else None
    if spec.type == "amount" and spec.role == "total":
        strong = [c for c in find_totals(text) if c.strength >= 0.7]
        return strong[0].text if strong else None
    return None


def curate(
    doctype: DocType,
    corrections: pl.DataFrame,
    texts: dict[str, str],
    bad_scans: set[str],
    auto_outcomes: dict[str, str],
    golden_path: Path,
    cfg: SplitConfig,
    routes: dict[str, str] | None = None,
    word_confs: dict[str, WordSpans] | None = None,
) -> CuratedSet:
    """Build the curated set from the corrections store.

    ``texts``: OCR text per document id; ``bad_scans``: ids flagged by scan quality;
    ``auto_outcomes``: ``sampled_auto_outcomes`` of the automated documents; ``routes``:
    document id -> route it was predicted with (for the promotion basis); ``word_confs``: OCR
    word confidences per document id (kept with the training documents for the OCR-evidence
    features).
    """
    nlp = spacy.blank("en")
    routes = routes or {}
    latest = latest_per_document(corrections)
    frozen = load_golden(golden_path)
    rows: list[dict[str, object]] = []
    ocr_notes: dict[str, list[str]] = {}
    docs: dict[str, list[Doc]] = {"train": [], "dev": [], "golden": []}
    for row in latest.iter_rows(named=True):
        doc_id = row["doc_id"]
        record = CorrectionRecord.from_row(row)
        values = record.values
        split = split_of(doc_id, cfg)
        if split == "golden" and frozen is not None and doc_id not in frozen:
            split = "golden_reserve"
        reason = exclusion_reason(row, bad_scans, auto_outcomes, split)
        if reason is None and doc_id not in texts:
            reason = "no_ocr_text"
        alignment: list[dict[str, object]] = []
        issues: list[str] = []
        notes: list[str] = []
        n_aligned = 0
        if reason is None:
            doc, aligns = make_training_doc(
                nlp, doctype, doc_id, texts[doc_id], values, (word_confs or {}).get(doc_id)
            )
            alignment = [
                {
                    "field": a.field,
                    "method": a.method,
                    "score": round(a.score, 1),
                    "start": a.start,
                    "end": a.end,
                }
                for a in aligns
            ]
            issues = _apply_spans(doc, doctype, texts[doc_id], values, record.spans, alignment)
            placed = {str(a["field"]) for a in alignment if a["method"] == "span"}
            issues += absent_value_issues(
                doctype, texts[doc_id], [a for a in aligns if a.field not in placed], notes
            )
            if notes:
                ocr_notes[doc_id] = notes
            issues += [
                f"{a.field}: overlaps another field"
                for a in aligns
                if a.method == "overlap" and a.field not in placed
            ]
            n_aligned = sum(a.aligned for a in aligns if a.field not in placed) + len(placed)
            if n_aligned == 0:
                reason = "unalignable"
            elif split in docs:
                docs[split].append(doc)
        rows.append(
            {
                "doc_id": doc_id,
                "correction_id": row["correction_id"],
                "split": "excluded" if reason else split,
                "reason": reason,
                "basis": None if reason else _basis(doc_id, routes, auto_outcomes),
                "n_fields": len(values),
                "n_aligned": n_aligned,
                "alignment": json.dumps(alignment),
                "issues": json.dumps(issues),
            }
        )
    # Records an older docasset stored that cannot be used: skipped with their reason.
    for doc_id, (correction_id, problem) in sorted(unusable_documents(corrections).items()):
        rows.append(
            {
                "doc_id": doc_id,
                "correction_id": correction_id,
                "split": "excluded",
                "reason": "unusable_record",
                "basis": None,
                "n_fields": 0,
                "n_aligned": 0,
                "alignment": "[]",
                "issues": json.dumps([problem]),
            }
        )
    if frozen is None and len(docs["golden"]) >= cfg.min_golden:
        frozen = [d.user_data["doc_id"] for d in docs["golden"]]
        freeze_golden(golden_path, frozen)
    records = (
        pl.DataFrame(rows, schema=RECORD_SCHEMA) if rows else pl.DataFrame(schema=RECORD_SCHEMA)
    )
    version = hashlib.sha256(
        b"".join(
            sorted(
                hashlib.sha256(d.text.encode() + str(d.ents).encode()).digest()
                for d in docs["train"] + docs["dev"]
            )
        )
    ).hexdigest()[:12]
    counts = {k: len(v) for k, v in docs.items()}
    counts["excluded"] = int(records.filter(pl.col("split") == "excluded").height)
    return CuratedSet(
        doctype.name,
        docs_to_bytes(docs["train"]),
        docs_to_bytes(docs["dev"]),
        docs_to_bytes(docs["golden"]),
        records,
        sorted(frozen or []),
        version,
        counts,
        qa=ocr_notes,
    )


# --- what the production model was trained on, and what is new since -------------------------


def training_set_record(cur: CuratedSet) -> dict[str, object]:
    """What a model trained on this set trained on (kept in the registry's version info):
    the set version and the document and correction ids of its train/dev splits."""
    trained = cur.records.filter(pl.col("split").is_in(TRAINED_SPLITS))
    return {
        "version": cur.version,
        "doc_ids": sorted(trained["doc_id"].to_list()),
        "correction_ids": sorted(trained["correction_id"].to_list()),
    }


def trained_ids(info: dict[str, object], sets_dir: Path, key: str) -> set[str] | None:
    """``doc_ids`` or ``correction_ids`` a registered version trained on, from its version
    info; versions registered before the info carried them are read from the set manifest
    they wrote (``curated/sets/<version>.json``, read-only). None when unknown."""
    record = info.get("training_set")
    if isinstance(record, dict) and key in record:
        return set(record[key])
    version = info.get("training_set_version")
    path = sets_dir / f"{version}.json"
    if version and path.is_file():
        data = read_json(path, f"restore {path} from a backup (it is written once, at training)")
        if not isinstance(data, dict) or not isinstance(data.get(key), list):
            raise StoreError(str(path), f"no {key} list", f"restore {path} from a backup")
        return set(data[key])
    return None


def promotion_status(
    corrections: pl.DataFrame,
    bad_scans: set[str],
    auto_outcomes: dict[str, str],
    cfg: SplitConfig,
) -> dict[str, str | None]:
    """Latest correction id -> exclusion reason known without OCR text (None: promotable)."""
    out: dict[str, str | None] = {}
    for row in latest_per_document(corrections).iter_rows(named=True):
        split = split_of(row["doc_id"], cfg)
        out[row["correction_id"]] = exclusion_reason(row, bad_scans, auto_outcomes, split)
    return out


def new_promotions(
    corrections: pl.DataFrame,
    known_status: dict[str, str | None],
    trained: set[str],
    cfg: SplitConfig,
) -> list[str]:
    """Latest correction ids that would be promoted into train/dev and that the given training
    set (``trained``: correction ids) did not contain. Corrections the corrections asset has not
    classified yet (imported from the command line) are judged from the store alone."""
    out = []
    for row in latest_per_document(corrections).iter_rows(named=True):
        cid = row["correction_id"]
        split = split_of(row["doc_id"], cfg)
        if split not in TRAINED_SPLITS or cid in trained:
            continue
        reason = (
            known_status[cid] if cid in known_status else exclusion_reason(row, set(), {}, split)
        )
        if reason is None:
            out.append(cid)
    return sorted(out)
