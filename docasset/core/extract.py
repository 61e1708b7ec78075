"""Field extraction: a trained spaCy NER pipeline plus the rule layer, calibrated and routed.

Combination order, per field:
1. the model's entities with the field's label (the first one, or the first that a rule
   candidate confirms when the model proposes several);
2. the rule layer's best candidate when the model proposes nothing;
3. nothing (the field is missing).
The evidence pattern (model and rule agree / model only / rule only, valid or not, one or
several model spans) selects a calibration bin whose held-out accuracy is the confidence.
A document is routed ``auto`` only if every required field is present, valid and at or above
its threshold; otherwise ``review`` with the reasons ("automation blockers").
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language

from docasset.core.fields import DocType, FieldSpec, load_doctype, normalize, validate_document
from docasset.core.rules import rule_candidates
from docasset.errors import ModelError

MODEL_META = "model.json"
PIPELINE_DIR = "pipeline"


@dataclass(frozen=True)
class FieldPrediction:
    """One extracted field with its evidence and calibrated confidence."""

    value: str | None
    start: int
    end: int
    source: str  # model | rule | both | none
    bin: str
    confidence: float


@dataclass
class DocPrediction:
    """Everything extracted from one document, and where it goes next."""

    doc_id: str
    fields: dict[str, FieldPrediction]
    route: str  # auto | review
    blockers: list[str]
    model_version: str | None

    def values(self) -> dict[str, str | None]:
        return {k: f.value for k, f in self.fields.items()}

    def confidences(self) -> dict[str, float]:
        return {k: f.confidence for k, f in self.fields.items()}


@dataclass
class Calibration:
    """Held-out accuracy per (field, evidence bin), smoothed toward the field's base rate."""

    counts: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # field->bin->[ok, n]
    base: dict[str, float] = field(default_factory=dict)
    strength: float = 2.0  # pseudo-count of the prior

    def confidence(self, field_name: str, bin_key: str) -> float:
        if bin_key.startswith("none"):
            return 0.0
        prior = self.base.get(field_name, 0.5)
        ok, n = self.counts.get(field_name, {}).get(bin_key, [0, 0])
        return (ok + self.strength * prior) / (n + self.strength)

    @classmethod
    def fit(cls, outcomes: list[tuple[str, str, bool]], strength: float = 2.0) -> Calibration:
        """Fit from (field, bin, correct) outcomes on held-out documents."""
        cal = cls(strength=strength)
        per_field: dict[str, list[int]] = {}
        for fname, bin_key, ok in outcomes:
            if bin_key.startswith("none"):
                continue
            c = cal.counts.setdefault(fname, {}).setdefault(bin_key, [0, 0])
            c[0] += int(ok)
            c[1] += 1
            pf = per_field.setdefault(fname, [0, 0])
            pf[0] += int(ok)
            pf[1] += 1
        for fname, (ok, n) in per_field.items():
            cal.base[fname] = (ok + 1) / (n + 2)  # Laplace: never exactly 0 or 1
        return cal


@dataclass
class ModelBundle:
    """A loaded model: spaCy pipeline, document type, calibration and routing thresholds."""

    nlp: Language
    doctype: DocType
    calibration: Calibration
    thresholds: dict[str, float]
    version: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.nlp.to_disk(path / PIPELINE_DIR)
        meta = dict(self.meta)
        meta.update(
            doc_type=self.doctype.name,
            calibration=asdict(self.calibration),
            thresholds=self.thresholds,
        )
        (path / MODEL_META).write_text(json.dumps(meta, indent=2, sort_keys=True), "utf-8")

    @classmethod
    def load(cls, path: Path, version: str | None = None) -> ModelBundle:
        meta_path = path / MODEL_META
        if not meta_path.is_file() or not (path / PIPELINE_DIR).is_dir():
            raise ModelError(
                f"{path}: not a docasset model (needs {MODEL_META} and {PIPELINE_DIR}/)"
            )
        meta = json.loads(meta_path.read_text("utf-8"))
        cal = Calibration(**meta["calibration"])
        nlp = spacy.load(path / PIPELINE_DIR)
        return cls(nlp, load_doctype(meta["doc_type"]), cal, meta["thresholds"], version, meta)


def _bin(source: str, valid: bool, n_spans: int) -> str:
    return f"{source}|{'valid' if valid else 'invalid'}|{'multi' if n_spans > 1 else 'single'}"


def choose_field(
    spec: FieldSpec, text: str, ents: list[tuple[int, int, str]]
) -> tuple[str | None, int, int, str, str]:
    """A field's value from model spans and rule candidates: (value, start, end, source, bin)."""
    spans = [(s, e) for s, e, label in ents if label == spec.label]
    rules = rule_candidates(spec.type, spec.name, text)
    rule_norms = {normalize(spec, c.text) for c in rules[:3]} - {None}
    if spans:
        confirmed = [sp for sp in spans if normalize(spec, text[sp[0] : sp[1]]) in rule_norms]
        s, e = (confirmed or spans)[0]
        source = "both" if confirmed else "model"
    elif rules:
        s, e, source = rules[0].start, rules[0].end, "rule"
    else:
        return None, 0, 0, "none", _bin("none", False, 0)
    value = text[s:e]
    valid = normalize(spec, value) is not None or spec.type in ("text",)
    return value, s, e, source, _bin(source, valid, len(spans))


def route(
    doctype: DocType, fields: dict[str, FieldPrediction], thresholds: dict[str, float]
) -> list[str]:
    """Automation blockers; an empty list means the document can be automated."""
    blockers: list[str] = []
    values = {k: f.value for k, f in fields.items()}
    for name in doctype.required:
        f = fields[name]
        if f.value is None:
            blockers.append(f"missing {name}")
        elif f.confidence < thresholds.get(name, 1.01):
            blockers.append(
                f"low confidence {name} ({f.confidence:.2f} < {thresholds.get(name, 1.01):.2f})"
            )
    blockers += [f"validator failed: {p}" for p in validate_document(doctype, values)]
    return blockers


def predict_text(bundle: ModelBundle, doc_id: str, text: str) -> DocPrediction:
    """Extract every field of ``bundle.doctype`` from one document's OCR text."""
    doc = bundle.nlp(text)
    ents = [(e.start_char, e.end_char, e.label_) for e in doc.ents]
    fields: dict[str, FieldPrediction] = {}
    for spec in bundle.doctype.fields:
        value, s, e, source, bin_key = choose_field(spec, text, ents)
        conf = bundle.calibration.confidence(spec.name, bin_key)
        fields[spec.name] = FieldPrediction(value, s, e, source, bin_key, round(conf, 4))
    blockers = route(bundle.doctype, fields, bundle.thresholds)
    if not text.strip():
        blockers.insert(0, "no text found")
    return DocPrediction(doc_id, fields, "review" if blockers else "auto", blockers, bundle.version)


def predict_unmodelled(doctype: DocType, doc_id: str) -> DocPrediction:
    """The prediction when no production model exists yet: everything goes to review."""
    fields = {s.name: FieldPrediction(None, 0, 0, "none", "none", 0.0) for s in doctype.fields}
    return DocPrediction(doc_id, fields, "review", ["no production model"], None)


def thresholds_for(
    doctype: DocType, outcomes: list[tuple[str, float, bool]], target: float, min_support: int = 3
) -> dict[str, float]:
    """Per-field confidence thresholds reaching ``target`` precision on held-out outcomes.

    Each required field must reach ``target ** (1 / n_required)`` so that, if fields err
    independently, a document with all fields above threshold is right with ``target``
    probability. The threshold is the lowest confidence at which held-out precision of the
    accepted values (at least ``min_support`` of them) reaches that level; 1.01 (never) if none.
    """
    per_field_target = target ** (1 / max(1, len(doctype.required)))
    out: dict[str, float] = {}
    for spec in doctype.fields:
        rows = sorted(((c, ok) for f, c, ok in outcomes if f == spec.name and c > 0), reverse=True)
        best = 1.01
        ok_count = 0
        for i, (conf, ok) in enumerate(rows, start=1):
            ok_count += int(ok)
            nxt = rows[i][0] if i < len(rows) else None
            if nxt == conf:
                continue  # only cut between distinct confidence values
            if i >= min_support and ok_count / i >= per_field_target:
                best = conf
        out[spec.name] = best
    return out


def predict_documents(
    bundle: ModelBundle | None,
    doctype: DocType,
    texts: dict[str, str],
    extra_blockers: dict[str, list[str]] | None = None,
) -> list[DocPrediction]:
    """Predict a batch of documents (id -> OCR text): the one code path of the ``predictions``
    asset and ``docasset extract``. ``extra_blockers`` (for example a bad scan) force review."""
    out = []
    for doc_id, text in texts.items():
        pred = predict_text(bundle, doc_id, text) if bundle else predict_unmodelled(doctype, doc_id)
        extra = (extra_blockers or {}).get(doc_id, [])
        if extra:
            pred.blockers = [*extra, *pred.blockers]
            pred.route = "review"
        out.append(pred)
    return out
