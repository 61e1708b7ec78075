"""Field extraction: a trained spaCy NER pipeline plus the rule layer, calibrated and routed.

Combination order, per field (``field_options``):
1. the model's entities with the field's label that a rule/layout candidate confirms;
2. the model's other entities, for typed fields only those that normalize;
3. the rule layer's candidates: regex rules for dates/amounts/identifiers, the TOTAL keyword
   anchor (plus the largest amount), and, for models trained with them (``LAYOUT_META``),
   layout heuristics on the head lines for company/address (``docasset.core.extraction.layout``);
4. invalid model spans of typed fields (so review sees what the model read);
5. nothing (the field is missing).
A fitted model reports the candidate its per-field ranker (logistic regression over the
evidence features, fitted on held-out documents) scores highest, valid values first; without
a ranker the first candidate in this order.
The evidence of the chosen value (source, validity, line position, suffix/postcode, agreement
with the rule candidate, ...; see ``docasset.core.extraction.confidence``) is mapped to a
confidence by a per-field logistic model fitted on held-out outcomes; the evidence-pattern bin
table is the fallback when too little held-out data exists.
A document is routed ``auto`` only if every required field is present, valid and at or above
its threshold; otherwise ``review`` with the reasons ("automation blockers").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from docasset.core.extraction.confidence import fit_logistic, logistic, span_features
from docasset.core.extraction.fields import (
    DocType,
    FieldSpec,
    load_doctype,
    normalize,
    parse_amount,
    validate_document,
)
from docasset.core.extraction.layout import (
    address_candidates,
    company_candidates,
    repair_legal_form,
)
from docasset.core.extraction.rules import Candidate, rule_candidates, untendered_amounts
from docasset.core.isolation import isolated, isolating
from docasset.core.tunable import tunable
from docasset.errors import DocumentError, ModelError

MODEL_META = "model.json"
PIPELINE_DIR = "pipeline"
# model.json flag: the model was calibrated with layout candidates for text fields. A model's
# ranker, confidence models and thresholds are fitted on the candidates it saw, so the
# candidate generation is versioned with the model: bundles without the flag (older models,
# hand-built bundles) extract with NER + regex rules only.
LAYOUT_META = "layout_candidates"
PIPE_BATCH = 64
EXTRACTION_FAILED = "extraction failed"  # the blocker of a document extraction failed on
NEVER = 1.01  # a threshold no confidence reaches: the field is never accepted alone
SELLER_FIELDS = ("company", "vendor")  # names whose OCR-garbled legal form is repaired


@dataclass(frozen=True)
class RoutingConfig:
    """How routing thresholds are fitted and what the correction memory's values weigh."""

    target_precision: float = tunable(
        0.98, "Routing thresholds aim at this precision of automated documents."
    )
    memory_confidence: float = tunable(
        0.99,
        "Confidence given to a field filled from the correction memory (the vendor's "
        "operator-typed value found again in the text).",
    )
    min_support: int = tunable(
        8, "A field may be accepted alone only with this many held-out values above threshold."
    )


@dataclass(frozen=True)
class FieldPrediction:
    """One extracted field with its evidence and calibrated confidence."""

    value: str | None
    start: int
    end: int
    source: str  # model | rule | both | none
    bin: str
    confidence: float
    features: dict[str, float] = field(default_factory=dict, compare=False, repr=False)


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
    """Per-field confidence model fitted on held-out outcomes.

    ``models``: field -> logistic model of "the reported value is right" over the evidence
    features of the reported value (used when the prediction carries features); ``ranker``:
    field -> logistic model of "this candidate is right" over all candidates, which picks the
    reported value (``select_option``); ``counts``: field -> evidence bin -> [correct, n],
    smoothed toward the field's base rate, the fallback for fields without a fitted model.
    """

    counts: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # field->bin->[ok, n]
    base: dict[str, float] = field(default_factory=dict)
    strength: float = 2.0  # pseudo-count of the prior
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    ranker: dict[str, dict[str, Any]] = field(default_factory=dict)

    def confidence(
        self, field_name: str, bin_key: str, features: dict[str, float] | None = None
    ) -> float:
        if bin_key.startswith("none"):
            return 0.0
        if features and field_name in self.models:
            return logistic(self.models[field_name], features)
        prior = self.base.get(field_name, 0.5)
        ok, n = self.counts.get(field_name, {}).get(bin_key, [0, 0])
        return (ok + self.strength * prior) / (n + self.strength)

    @classmethod
    def fit(
        cls,
        outcomes: list[tuple[str, str, bool]],
        strength: float = 2.0,
        features: list[dict[str, float]] | None = None,
    ) -> Calibration:
        """Fit from (field, bin, correct) outcomes on held-out documents, plus the logistic
        models when the per-outcome evidence ``features`` (same order) are given."""
        cal = cls(strength=strength)
        per_field: dict[str, list[int]] = {}
        rows: dict[str, list[tuple[dict[str, float], bool]]] = {}
        for i, (fname, bin_key, ok) in enumerate(outcomes):
            if bin_key.startswith("none"):
                continue
            c = cal.counts.setdefault(fname, {}).setdefault(bin_key, [0, 0])
            c[0] += int(ok)
            c[1] += 1
            pf = per_field.setdefault(fname, [0, 0])
            pf[0] += int(ok)
            pf[1] += 1
            if features is not None:
                rows.setdefault(fname, []).append((features[i], ok))
        for fname, (ok, n) in per_field.items():
            cal.base[fname] = (ok + 1) / (n + 2)  # Laplace: never exactly 0 or 1
        for fname, frows in rows.items():
            model = fit_logistic(frows)
            if model is not None:
                cal.models[fname] = model
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


def field_candidates(spec: FieldSpec, text: str, layout: bool = True) -> list[Candidate]:
    """Rule candidates for a field, best first: regex rules by type, layout for text fields
    (only with ``layout``)."""
    if spec.type == "text" and not layout:
        return []
    if spec.type == "text" and spec.name in ("company", "vendor"):
        return company_candidates(text)
    if spec.type == "text" and spec.name == "address":
        company = [c for c in company_candidates(text) if c.strength >= 0.5]
        return address_candidates(text, after=company[0].end if company else 0)
    cands = rule_candidates(spec.type, spec.name, text)
    if spec.type == "amount" and spec.name == "total":
        # The largest amount is the total on receipts whose TOTAL line OCR garbled (the
        # cash handed over is larger, so tender/change lines do not count).
        amounts = untendered_amounts(text)
        if amounts:
            top = max(amounts, key=lambda c: parse_amount(c.text) or 0)
            cands = [*cands, Candidate(top.start, top.end, top.text, 0.3)]
    return cands


def _is_valid(spec: FieldSpec, value: str) -> bool:
    return spec.type == "text" or normalize(spec, value) is not None


def _agrees(spec: FieldSpec, value: str, rule_keys: set[str]) -> bool:
    if spec.type == "text":
        return "".join(value.split()).lower() in rule_keys
    return normalize(spec, value) in rule_keys


@dataclass(frozen=True)
class Option:
    """One candidate value of a field, where it came from, and its evidence features."""

    start: int
    end: int
    source: str  # model | rule | both
    valid: bool
    n_spans: int
    features: dict[str, float]


def _key(spec: FieldSpec, value: str) -> str | None:
    """What two candidates must share to agree: the squashed text, or the normalized value."""
    return "".join(value.split()).lower() if spec.type == "text" else normalize(spec, value)


def field_options(
    spec: FieldSpec, text: str, ents: list[tuple[int, int, str]], layout: bool = True
) -> list[Option]:
    """Every candidate of a field, in the documented combination order (module docstring):
    model spans confirmed by a rule, valid model spans, rule candidates, invalid model spans.
    A rule candidate with the same value as a model span is merged into it (source ``both``)."""
    spans = [(s, e) for s, e, label in ents if label == spec.label]
    rules = field_candidates(spec, text, layout)[:4]
    rule_keys = [_key(spec, c.text) for c in rules]
    top = (rules[0].text, rules[0].strength) if rules else ("", 0.0)
    n = len(spans)
    ranked: list[tuple[int, Option]] = []
    seen: set[str | None] = set()
    for s, e in spans:
        k = _key(spec, text[s:e])
        valid = _is_valid(spec, text[s:e])
        agree = [c.strength for c, rk in zip(rules, rule_keys, strict=True) if k and rk == k]
        source = "both" if agree else "model"
        feats = span_features(
            text,
            text[s:e],
            s,
            source,
            valid,
            n,
            top,
            max(agree, default=0.0),
            k == rule_keys[0] if rules else False,
        )
        ranked.append((0 if agree else (1 if valid else 3), Option(s, e, source, valid, n, feats)))
        seen.add(k)
    for c, rk in zip(rules, rule_keys, strict=True):
        if rk in seen:
            continue
        seen.add(rk)
        valid = _is_valid(spec, c.text)
        feats = span_features(
            text, c.text, c.start, "rule", valid, n, top, c.strength, rk == rule_keys[0]
        )
        ranked.append((2, Option(c.start, c.end, "rule", valid, n, feats)))
    ranked.sort(key=lambda r: r[0])  # stable: the model's / rules' own order within a rank
    return [o for _, o in ranked]


def choose_field(
    spec: FieldSpec, text: str, ents: list[tuple[int, int, str]]
) -> tuple[str | None, int, int, str, str]:
    """A field's value from model spans and rule candidates: (value, start, end, source, bin)."""
    opts = field_options(spec, text, ents)
    if not opts:
        return None, 0, 0, "none", _bin("none", False, 0)
    o = opts[0]
    return text[o.start : o.end], o.start, o.end, o.source, _bin(o.source, o.valid, o.n_spans)


def select_option(spec: FieldSpec, options: list[Option], calibration: Calibration) -> Option:
    """The option to report: the most probably correct one under the field's fitted ranker,
    else the first in the documented order. Invalid typed values never beat valid ones."""
    if spec.name not in calibration.ranker or len(options) == 1:
        return options[0]
    model = calibration.ranker[spec.name]
    return max(options, key=lambda o: (o.valid, logistic(model, o.features)))


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
        elif f.confidence < thresholds.get(name, NEVER):
            blockers.append(
                f"low confidence {name} ({f.confidence:.2f} < {thresholds.get(name, NEVER):.2f})"
            )
    blockers += [f"validator failed: {p}" for p in validate_document(doctype, values)]
    return blockers


def predict_text(
    bundle: ModelBundle, doc_id: str, text: str, doc: Doc | None = None
) -> DocPrediction:
    """Extract every field of ``bundle.doctype`` from one document's OCR text (``doc``: the
    pipeline's output for it, when the caller ran the pipeline over a batch)."""
    doc = doc if doc is not None else bundle.nlp(text)
    ents = [(e.start_char, e.end_char, e.label_) for e in doc.ents]
    fields: dict[str, FieldPrediction] = {}
    for spec in bundle.doctype.fields:
        opts = field_options(spec, text, ents, bool(bundle.meta.get(LAYOUT_META)))
        if not opts:
            fields[spec.name] = FieldPrediction(None, 0, 0, "none", _bin("none", False, 0), 0.0)
            continue
        o = select_option(spec, opts, bundle.calibration)
        bin_key = _bin(o.source, o.valid, o.n_spans)
        conf = bundle.calibration.confidence(spec.name, bin_key, o.features)
        value = text[o.start : o.end]
        if spec.name in SELLER_FIELDS:
            value = repair_legal_form(value)
        fields[spec.name] = FieldPrediction(
            value, o.start, o.end, o.source, bin_key, round(conf, 4), o.features
        )
    blockers = route(bundle.doctype, fields, bundle.thresholds)
    if not text.strip():
        blockers.insert(0, "no text found")
    return DocPrediction(doc_id, fields, "review" if blockers else "auto", blockers, bundle.version)


def predict_unmodelled(doctype: DocType, doc_id: str) -> DocPrediction:
    """The prediction when no production model exists yet: everything goes to review."""
    fields = {s.name: FieldPrediction(None, 0, 0, "none", "none", 0.0) for s in doctype.fields}
    return DocPrediction(doc_id, fields, "review", ["no production model"], None)


def thresholds_for(
    doctype: DocType,
    outcomes: list[tuple[str, float, bool]],
    target: float,
    min_support: int = RoutingConfig.min_support,
) -> dict[str, float]:
    """Per-field confidence thresholds reaching ``target`` precision on held-out outcomes.

    Each required field must reach ``target ** (1 / n_required)`` so that, if fields err
    independently, a document with all fields above threshold is right with ``target``
    probability. The threshold is the lowest confidence at which held-out precision of the
    accepted values (at least ``min_support`` of them) reaches that level; :data:`NEVER` if none.
    """
    per_field_target = target ** (1 / max(1, len(doctype.required)))
    out: dict[str, float] = {}
    for spec in doctype.fields:
        rows = sorted(((c, ok) for f, c, ok in outcomes if f == spec.name and c > 0), reverse=True)
        best = NEVER
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


MemoryHits = dict[str, dict[str, tuple[str, int, int]]]  # doc id -> field -> (value, start, end)


def apply_memory(
    bundle: ModelBundle,
    pred: DocPrediction,
    text: str,
    hits: dict[str, tuple[str, int, int]],
    confidence: float,
) -> None:
    """Overwrite fields with correction-memory values (source ``memory``) and re-route.

    The memory holds values an operator typed for this very vendor, found again in this
    document's text, so they take precedence over the model; ``confidence`` is what the
    routing thresholds see for them.
    """
    thresholds = dict(bundle.thresholds)
    for name, (value, start, end) in hits.items():
        if name in bundle.doctype.names:
            pred.fields[name] = FieldPrediction(value, start, end, "memory", "memory", confidence)
            # The model's threshold measures the model's evidence; a remembered operator value
            # is its own evidence, accepted at the memory's confidence.
            thresholds[name] = min(thresholds.get(name, NEVER), confidence)
    pred.blockers = route(bundle.doctype, pred.fields, thresholds)
    if not text.strip():
        pred.blockers.insert(0, "no text found")
    pred.route = "review" if pred.blockers else "auto"


def predict_failed(doctype: DocType, doc_id: str, why: str, version: str | None) -> DocPrediction:
    """The prediction of a document extraction failed on: nothing extracted, routed to review
    with the failure as its blocker (its outcome, not the batch's)."""
    fields = {s.name: FieldPrediction(None, 0, 0, "none", "none", 0.0) for s in doctype.fields}
    return DocPrediction(doc_id, fields, "review", [f"{EXTRACTION_FAILED}: {why}"], version)


def _parsed(bundle: ModelBundle, texts: dict[str, str]) -> Iterator[Doc | DocumentError]:
    """The pipeline's output per text, in order; a text the pipeline fails on yields its
    :class:`DocumentError` and the rest go on. ``nlp.pipe`` batches texts, so when a batch
    fails its texts are parsed one at a time (finding the one that failed), then piping
    resumes."""
    items = list(texts.values())
    i = 0
    while i < len(items):
        try:
            with isolating(f"text {i}"):
                for doc in bundle.nlp.pipe(items[i:], batch_size=PIPE_BATCH):
                    yield doc
                    i += 1
        except DocumentError:
            for text in items[i : i + PIPE_BATCH]:
                yield isolated(f"text {i}", bundle.nlp, text)
                i += 1


def predict_documents(
    bundle: ModelBundle | None,
    doctype: DocType,
    texts: dict[str, str],
    extra_blockers: dict[str, list[str]] | None = None,
    memory: MemoryHits | None = None,
    memory_confidence: float = 0.99,
) -> list[DocPrediction]:
    """Predict a batch of documents (id -> OCR text): the one code path of the ``predictions``
    asset and ``docasset extract``. ``memory`` (correction-memory hits per document) comes
    before the model; ``extra_blockers`` (for example a bad scan) force review. A document
    extraction fails on gets :func:`predict_failed` (review, the reason as blocker); the
    others go on."""
    out = []
    # nlp.pipe batches documents through the network: larger matrix products, ~2x faster.
    docs = _parsed(bundle, texts) if bundle else None
    for doc_id, text in texts.items():
        parsed = next(docs) if docs is not None else None
        if isinstance(parsed, DocumentError):
            pred = predict_failed(doctype, doc_id, parsed.cause, bundle.version if bundle else None)
        else:
            hits = (memory or {}).get(doc_id)
            args = (bundle, doctype, doc_id, text, parsed, hits, memory_confidence)
            got = isolated(doc_id, _predict_one, *args)
            pred = (
                predict_failed(doctype, doc_id, got.cause, bundle.version if bundle else None)
                if isinstance(got, DocumentError)
                else got
            )
        extra = (extra_blockers or {}).get(doc_id, [])
        if extra:
            pred.blockers = [*extra, *pred.blockers]
            pred.route = "review"
        out.append(pred)
    return out


def _predict_one(
    bundle: ModelBundle | None,
    doctype: DocType,
    doc_id: str,
    text: str,
    doc: Doc | None,
    hits: dict[str, tuple[str, int, int]] | None,
    memory_confidence: float,
) -> DocPrediction:
    if bundle is None:
        return predict_unmodelled(doctype, doc_id)
    pred = predict_text(bundle, doc_id, text, doc)
    if hits:
        apply_memory(bundle, pred, text, hits, memory_confidence)
    return pred
