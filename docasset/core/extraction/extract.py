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
Beside the model's evidence, each candidate carries OCR evidence (word confidences under the
span, OCR-confusable characters; ``docasset.core.extraction.evidence``) and, for the total,
arithmetic evidence (``docasset.core.extraction.arithmetic``); the vendor history of a
recognised vendor confirms, fills or contradicts fields (``docasset.core.extraction.history``).
Routing is per field (``docasset.core.extraction.routing``): each field is ``accepted`` or
``to_check``; a document is ``auto`` (touchless) only when no field is to be checked and its
document confidence reaches the document threshold; otherwise ``review`` with its blockers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import spacy
import yaml
from rapidfuzz import fuzz
from spacy.language import Language
from spacy.tokens import Doc

from docasset.core.extraction.arithmetic import check_total
from docasset.core.extraction.cells import find_labelled_cells
from docasset.core.extraction.confidence import fit_logistic, logistic, span_features
from docasset.core.extraction.dates import DateContext, date_checks, engines_disagree
from docasset.core.extraction.domain import DOMAIN_META, out_of_domain
from docasset.core.extraction.evidence import WordSpans, span_ocr
from docasset.core.extraction.fields import (
    DocType,
    FieldSpec,
    doctype_to_dict,
    equivalent,
    load_doctype,
    normalize,
    parse_amount,
    parse_doctype,
    sum_rule_problems,
)
from docasset.core.extraction.history import (
    STABLE_FIELDS,
    VendorHistory,
    consistency,
    contradicts,
)
from docasset.core.extraction.layout import (
    address_candidates,
    company_candidates,
    repair_legal_form,
)
from docasset.core.extraction.routing import (
    NEVER,
    Blocker,
    BlockerKind,
    DocPrediction,
    FieldPrediction,
    RoutingConfig,
    Thresholds,
    route_document,
    thresholds_for,
)
from docasset.core.extraction.rules import (
    Candidate,
    find_date_ranges,
    find_dates,
    find_labelled,
    rule_candidates,
    untendered_amounts,
)
from docasset.core.extraction.vendor_keys import header_vendor, name_key
from docasset.core.extraction.vendors import VendorMatch
from docasset.core.isolation import isolated, isolating
from docasset.core.ocr.text import has_boxes
from docasset.errors import DocumentError, ModelError

__all__ = [  # routing types re-exported: callers predating routing.py import them from here
    "NEVER",
    "DocPrediction",
    "FieldPrediction",
    "RoutingConfig",
    "thresholds_for",
]

MODEL_META = "model.json"
DOCTYPE_FILE = "doctype.yaml"
PIPELINE_DIR = "pipeline"
# model.json flag: the model was calibrated with layout candidates for text fields. A model's
# ranker, confidence models and thresholds are fitted on the candidates it saw, so the
# candidate generation is versioned with the model: bundles without the flag (older models,
# hand-built bundles) extract with NER + regex rules only.
LAYOUT_META = "layout_candidates"
# model.json flag: the model was calibrated with label values read from the layout (word
# boxes, ``docasset.core.extraction.cells``); older models read labels from the text.
CELLS_META = "cell_candidates"
PIPE_BATCH = 64
EXTRACTION_FAILED: BlockerKind = "extraction_failed"  # the blocker of a failed document
DOC_THRESHOLD_META = "doc_threshold"  # model.json: the document-confidence threshold


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
        for fname, (n_ok, n) in per_field.items():
            cal.base[fname] = (n_ok + 1) / (n + 2)  # Laplace: never exactly 0 or 1
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
    # Held while the spaCy pipeline runs: one loaded bundle is shared by the runs of a worker
    # process (the registry's cache), and a pipeline is not safe for concurrent calls.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def routing_thresholds(self) -> Thresholds:
        """Per-field thresholds and the document threshold (0 for models fitted before
        field-level routing: their per-field thresholds were already set for the document
        target)."""
        return Thresholds(self.thresholds, float(self.meta.get(DOC_THRESHOLD_META, 0.0)))

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
        # The document type travels with the model: one written anywhere (docasset train
        # --doc-type my/type.yaml) extracts wherever the model goes.
        text = yaml.safe_dump(doctype_to_dict(self.doctype), sort_keys=False, allow_unicode=True)
        (path / DOCTYPE_FILE).write_text(text, "utf-8")

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
        typed = path / DOCTYPE_FILE
        doctype = (
            parse_doctype(yaml.safe_load(typed.read_text("utf-8")), str(typed))
            if typed.is_file()
            else load_doctype(meta["doc_type"])  # models saved before the file existed
        )
        return cls(nlp, doctype, cal, meta["thresholds"], version, meta)


def _bin(source: str, valid: bool, n_spans: int) -> str:
    return f"{source}|{'valid' if valid else 'invalid'}|{'multi' if n_spans > 1 else 'single'}"


def field_candidates(
    spec: FieldSpec,
    text: str,
    layout: bool = True,
    words: WordSpans | None = None,
    stops: tuple[str, ...] = (),
) -> list[Candidate]:
    """Rule candidates for a field, best first: values of the field's printed labels
    (``keywords``: read from the layout when ``words`` carry boxes, ``cells``; else after the
    label in the text), then by role and type: layout for seller/address text fields (only
    with ``layout``), the period's part for a ``range`` date, regex rules by type, totals.
    ``stops``: the other fields' labels, where a text value read from the layout ends."""
    if spec.type == "text" and not layout:
        return []
    labelled = (
        find_labelled_cells(
            text, words, spec.keywords, spec.type, spec.range_part, spec.not_keywords, stops
        )
        if has_boxes(words)
        else find_labelled(text, spec.keywords, spec.type, spec.range_part)
    )
    if spec.type == "text" and spec.role == "seller":
        return labelled + company_candidates(text)
    if spec.type == "text" and spec.role == "address":
        company = [c for c in company_candidates(text) if c.strength >= 0.5]
        return labelled + address_candidates(text, after=company[0].end if company else 0)
    if spec.range_part is not None:
        parts = find_date_ranges(text, spec.range_part)
        rest = [replace(c, strength=0.3) for c in find_dates(text)]
        return labelled + [replace(c, strength=0.7) for c in parts] + rest
    cands = labelled + rule_candidates(spec.type, spec.role, text)
    if spec.type == "amount" and spec.role == "total":
        # The largest amount is the total on receipts whose TOTAL line OCR garbled (the
        # cash handed over is larger, so tender/change lines do not count).
        amounts = untendered_amounts(text)
        if amounts:
            top = max(amounts, key=lambda c: parse_amount(c.text) or 0)
            cands = [*cands, Candidate(top.start, top.end, top.text, 0.3)]
    return cands


def other_labels(doctype: DocType, spec: FieldSpec) -> tuple[str, ...]:
    """The printed labels of the type's other fields (where ``spec``'s text value ends)."""
    mine = {k.lower() for k in spec.keywords}
    return tuple(
        k
        for f in doctype.fields
        if f.name != spec.name
        for k in f.keywords
        if k.lower() not in mine
    )


def _is_valid(spec: FieldSpec, value: str) -> bool:
    return spec.type == "text" or normalize(spec, value) is not None


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


def _arith(spec: FieldSpec, text: str, value: str) -> tuple[int, bool]:
    if spec.role != "total" or spec.type != "amount":
        return 0, False
    agree, conflict = check_total(text, value)
    return agree, conflict is not None


def field_options(
    spec: FieldSpec,
    text: str,
    ents: list[tuple[int, int, str]],
    layout: bool = True,
    words: WordSpans | None = None,
    cells: bool = False,
    stops: tuple[str, ...] = (),
) -> list[Option]:
    """Every candidate of a field, in the documented combination order (module docstring):
    model spans confirmed by a rule, valid model spans, rule candidates, invalid model spans.
    A rule candidate with the same value as a model span is merged into it (source ``both``).
    ``words``: the OCR word confidences, for the OCR-evidence features; with ``cells`` their
    boxes place the labels' values (``docasset.core.extraction.cells``)."""
    spans = [(s, e) for s, e, label in ents if label == spec.label]
    rules = field_candidates(spec, text, layout, words if cells else None, stops)[:4]
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
            span_ocr(words, s, e),
            _arith(spec, text, text[s:e]),
        )
        ranked.append((0 if agree else (1 if valid else 3), Option(s, e, source, valid, n, feats)))
        seen.add(k)
    for c, rk in zip(rules, rule_keys, strict=True):
        if rk in seen:
            continue
        seen.add(rk)
        valid = _is_valid(spec, c.text)
        feats = span_features(
            text,
            c.text,
            c.start,
            "rule",
            valid,
            n,
            top,
            c.strength,
            rk == rule_keys[0],
            span_ocr(words, c.start, c.end),
            _arith(spec, text, c.text),
        )
        ranked.append((2, Option(c.start, c.end, "rule", valid, n, feats)))
    ranked.sort(key=lambda r: r[0])  # stable: the model's / rules' own order within a rank
    options = [o for _, o in ranked]
    # Another valid value on offer (a second date, another total) makes any choice less sure.
    keys = [_key(spec, text[o.start : o.end]) if o.valid else None for o in options]
    for o, k in zip(options, keys, strict=True):
        o.features["rivals"] = min(len({x for x in keys if x is not None and x != k}), 3) / 3
    return options


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


def _one_date(doctype: DocType) -> bool:
    return sum(f.type == "date" for f in doctype.fields) == 1


def _scored(
    bundle: ModelBundle, spec: FieldSpec, text: str, o: Option, words: WordSpans | None
) -> FieldPrediction:
    """The field prediction of one option, scored by the model's confidence model."""
    bin_key = _bin(o.source, o.valid, o.n_spans)
    conf = bundle.calibration.confidence(spec.name, bin_key, o.features)
    value = text[o.start : o.end]
    if spec.role == "seller":
        value = repair_legal_form(value)
    checks: tuple[Blocker, ...] = ()
    if spec.type == "amount" and spec.role == "total":
        _, conflict = check_total(text, value)
        if conflict:
            checks = (Blocker("total_inconsistent", spec.name, conflict),)
    if spec.type == "date" and o.features.get("rivals", 0.0) > 0 and _one_date(bundle.doctype):
        # Which of two printed dates is the document's is a guess: on the SROIE training half
        # 104 of 104 dates without a rival were right, 3 of 4 with one. (A type with several
        # date fields, an invoice's date and due date, prints several by design.)
        checks = (Blocker("ambiguous", spec.name, "the document prints another date"),)
    ocr = span_ocr(words, o.start, o.end)
    return FieldPrediction(
        value,
        o.start,
        o.end,
        o.source,
        bin_key,
        round(conf, 4),
        o.features,
        checks=checks,
        ocr_conf=round(ocr[0], 4) if ocr else None,
    )


def _with_history(
    bundle: ModelBundle,
    spec: FieldSpec,
    text: str,
    chosen: FieldPrediction,
    options: list[Option],
    history: VendorHistory,
    words: WordSpans | None,
    cfg: RoutingConfig,
) -> FieldPrediction:
    """The field after the vendor history (see ``docasset.core.extraction.history``)."""
    hit = history.hits.get(spec.name)
    if hit is None:
        if contradicts(history, spec.name, chosen.value, cfg.history_min_support):
            typed = ", ".join(sorted(history.known.get(spec.name, {})))[:120]
            block = Blocker("history_conflict", spec.name, f"vendor {history.vendor}: {typed}")
            return replace(chosen, checks=(*chosen.checks, block))
        return chosen
    stable = hit.kind == "value" and spec.name in STABLE_FIELDS
    surface = hit.value if stable else text[hit.start : hit.end]
    key = _key(spec, surface)
    consistent = stable and consistency(history, spec.name, surface) >= cfg.field_target
    # A fuzzy match may be another branch's value: its numbers must be the printed ones.
    printed = hit.exact or _digits(surface) == _digits(text[hit.start : hit.end])
    support = hit.support if consistent and printed else 0
    if chosen.value is not None and _key(spec, chosen.value) == key:
        return _trusted(
            replace(
                chosen, memory_entry=hit.entry_id, history="confirmed", history_support=support
            ),
            cfg,
        )
    same = [o for o in options if _key(spec, text[o.start : o.end]) == key]
    if same:
        o = same[0]
    else:  # a span no candidate proposed: its evidence as a rule candidate's
        feats = span_features(
            text,
            text[hit.start : hit.end],
            hit.start,
            "rule",
            _is_valid(spec, surface),
            len(options),
            ("", 0.0),
            0.5,
            False,
            span_ocr(words, hit.start, hit.end),
            _arith(spec, text, surface),
        )
        o = Option(hit.start, hit.end, "rule", _is_valid(spec, surface), len(options), feats)
    scored = _scored(bundle, spec, text, o, words)
    if stable and not hit.exact and not support >= cfg.history_min_support:
        # The model scored the printed span, not this remembered value: no threshold applies.
        fuzzy = Blocker("history_fuzzy", spec.name, "the remembered value is printed differently")
        scored = replace(scored, checks=(*scored.checks, fuzzy))
    return _trusted(
        replace(
            scored,
            value=surface,
            source="memory",
            memory_entry=hit.entry_id,
            history="filled",
            history_support=support,
        ),
        cfg,
    )


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _trusted(f: FieldPrediction, cfg: RoutingConfig) -> FieldPrediction:
    """A field the history accepts carries the history's confidence (what production health
    averages as estimated accuracy), never less than the model's."""
    if f.history_support >= cfg.history_min_support:
        return replace(f, confidence=max(f.confidence, cfg.memory_confidence))
    return f


def predict_text(
    bundle: ModelBundle,
    doc_id: str,
    text: str,
    doc: Doc | None = None,
    words: WordSpans | None = None,
    history: VendorHistory | None = None,
    cfg: RoutingConfig | None = None,
    doc_blockers: list[Blocker] | None = None,
    vendor: VendorMatch | None = None,
    dates: DateContext | None = None,
) -> DocPrediction:
    """Extract and route every field of ``bundle.doctype`` from one document's OCR text.

    ``doc``: the pipeline's output for it, when the caller ran the pipeline over a batch;
    ``words``: the OCR word confidences (``docasset.core.extraction.evidence``); ``history``:
    the recognised vendor's history; ``doc_blockers``: document-level reasons for review
    (a bad scan); ``vendor``: the registry's match (:func:`with_vendor`); ``dates``: what
    dates are checked against (arrival, a second OCR reading; the vendor's dates come from
    ``vendor``)."""
    cfg = cfg or RoutingConfig()
    doc = doc if doc is not None else bundle.nlp(text)
    ents = [(e.start_char, e.end_char, e.label_) for e in doc.ents]
    layout = bool(bundle.meta.get(LAYOUT_META))
    cells = bool(bundle.meta.get(CELLS_META))
    fields: dict[str, FieldPrediction] = {}
    for spec in bundle.doctype.fields:
        opts = field_options(
            spec, text, ents, layout, words, cells, other_labels(bundle.doctype, spec)
        )
        f = (
            _scored(bundle, spec, text, select_option(spec, opts, bundle.calibration), words)
            if opts
            else FieldPrediction(None, 0, 0, "none", _bin("none", False, 0), 0.0)
        )
        if history is not None:
            f = _with_history(bundle, spec, text, f, opts, history, words, cfg)
        if vendor is not None:
            f = with_vendor(spec, text, f, vendor, cfg)
        fields[spec.name] = _with_checks(bundle.doctype, spec, text, f, vendor, dates, cfg)
    blockers = list(doc_blockers or [])
    if not text.strip():
        blockers.append(Blocker("no_text", None, "the OCR found no text"))
    values = {k: f.value for k, f in fields.items()}
    fields, route, blockers, conf = route_document(
        bundle.doctype,
        fields,
        bundle.routing_thresholds(),
        cfg,
        blockers,
        sum_rule_problems(bundle.doctype, values),
    )
    return DocPrediction(
        doc_id,
        fields,
        route,
        blockers,
        bundle.version,
        conf,
        vendor.vendor_id if vendor else None,
        vendor.key if vendor else None,
    )


def _alnum(value: str) -> str:
    return "".join(name_key(value).split())


def _printed_at(text: str, value: str) -> tuple[int, int]:
    """Where ``value`` is printed in ``text`` (its best fuzzy alignment), (0, 0) if nowhere."""
    res = fuzz.partial_ratio_alignment(value.upper(), text.upper())
    return (res.dest_start, res.dest_end) if res is not None else (0, 0)


def with_vendor(
    spec: FieldSpec, text: str, f: FieldPrediction, match: VendorMatch, cfg: RoutingConfig
) -> FieldPrediction:
    """The company (and, for a recognised branch, the address) after the vendor registry.

    Ambiguous (two vendors matched): the company is to check (``vendor_ambiguous``). The
    document's reading equivalent to the registry's value is ``confirmed`` (a value the
    correction memory filled only if printed: the memory matches fuzzily); otherwise the registry's
    value printed in the document (its letters and digits) replaces the reading (``filled``;
    with fewer confirmations than ``history_min_support`` a suggestion to check). Either is
    accepted by the history when the vendor (branch) has ``history_min_support``
    confirmations. The registry's value neither read nor printed *contradicts* the document:
    the field is to check (``vendor_conflict``), prefilled with the document's reading (the
    registry's when nothing was read)."""
    if spec.role == "seller" and match.ambiguous:
        why = Blocker("vendor_ambiguous", spec.name, f"{match.key}: {', '.join(match.ambiguous)}")
        return replace(f, checks=(*f.checks, why))
    if spec.role == "seller":
        known, support = match.name, match.support
    elif spec.role == "address":
        known, support = match.address, match.address_support
    else:
        return f
    if not known:
        return f
    # The reading's own history verdicts (a contradicted or fuzzy memory value) give way to
    # the registry's when the document agrees with it.
    keep = tuple(b for b in f.checks if b.kind not in ("history_conflict", "history_fuzzy"))
    accepted = support if support >= cfg.history_min_support else 0
    printed = bool(_alnum(known)) and _alnum(known) in _alnum(text)
    # The document's own reading (a memory value is the operators', found only fuzzily).
    read = f.value is not None and f.source != "memory" and equivalent(spec, f.value, known)
    if read or (printed and f.value is not None and equivalent(spec, f.value, known)):
        return _trusted(replace(f, checks=keep, history="confirmed", history_support=accepted), cfg)
    if not printed:
        detail = f"vendor {match.vendor_id} ({match.key}): {known}"[:200]
        block = Blocker("vendor_conflict", spec.name, detail)
        value = f.value if f.value is not None else known
        return replace(f, value=value, checks=(*f.checks, block))
    start, end = _printed_at(text, known)
    filled = replace(
        f,
        value=known,
        start=start,
        end=end,
        source="memory",
        checks=keep,
        history="filled",
        history_support=accepted,
        memory_entry=None,
        # The model's confidence scored another value: a fill too few corrections confirm
        # is a suggestion for the operator, never accepted on that confidence.
        confidence=f.confidence if accepted else 0.0,
    )
    return _trusted(filled, cfg)


def _with_checks(
    doctype: DocType,
    spec: FieldSpec,
    text: str,
    f: FieldPrediction,
    vendor: VendorMatch | None,
    dates: DateContext | None,
    cfg: RoutingConfig,
) -> FieldPrediction:
    """The field with the date checks (``docasset.core.extraction.dates``) and, for the total,
    the second OCR reading's check; the vendor's corrected dates join ``dates``."""
    ctx = dates or DateContext()
    if vendor is not None and vendor.vendor_id is not None:
        ctx = replace(ctx, vendor_dates=vendor.dates)
    if cfg.date_window_days and not ctx.window_days:
        ctx = replace(ctx, window_days=cfg.date_window_days)
    extra: list[Blocker] = []
    if spec.type == "date":
        first = next(s.name for s in doctype.fields if s.type == "date")
        extra = date_checks(spec.name, f.value, text, ctx, spec.name == first, _one_date(doctype))
    elif (
        spec.type == "amount"
        and f.value is not None
        and (why := engines_disagree("amount", f.value, ctx.other_reading))
    ):
        extra = [Blocker("ocr_engines_disagree", spec.name, why)]
    return replace(f, checks=(*f.checks, *extra)) if extra else f


def predict_unmodelled(doctype: DocType, doc_id: str) -> DocPrediction:
    """The prediction when no production model exists yet: everything goes to review."""
    fields = {s.name: FieldPrediction(None, 0, 0, "none", "none", 0.0) for s in doctype.fields}
    return DocPrediction(
        doc_id, fields, "review", [Blocker("no_model", None, "no production model yet")], None
    )


def predict_failed(doctype: DocType, doc_id: str, why: str, version: str | None) -> DocPrediction:
    """The prediction of a document extraction failed on: nothing extracted, routed to review
    with the failure as its blocker (its outcome, not the batch's)."""
    fields = {s.name: FieldPrediction(None, 0, 0, "none", "none", 0.0) for s in doctype.fields}
    return DocPrediction(doc_id, fields, "review", [Blocker(EXTRACTION_FAILED, None, why)], version)


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
    extra_blockers: dict[str, list[Blocker]] | None = None,
    history: dict[str, VendorHistory] | None = None,
    cfg: RoutingConfig | None = None,
    words: dict[str, WordSpans] | None = None,
    vendors: dict[str, VendorMatch] | None = None,
    dates: dict[str, DateContext] | None = None,
) -> list[DocPrediction]:
    """Predict a batch of documents (id -> OCR text): the one code path of the ``predictions``
    asset and ``docasset extract``. ``history``: the vendor history per document (from the
    correction memory); ``extra_blockers`` (for example a bad scan) force review; ``words``:
    the OCR word confidences per document; ``vendors``: the registry's match per document;
    ``dates``: per document, what its dates are checked against; ``doctype``'s header
    identifier (``vendor:``) names each document's vendor (``header_vendor``). A document unlike the
    model's training documents (``domain.out_of_domain``, when the model carries a domain
    summary) gets the document-level blocker ``out_of_domain``: every field is checked. A
    document extraction fails on gets :func:`predict_failed` (review, the reason as blocker);
    the others go on."""
    out = []
    # nlp.pipe batches documents through the network: larger matrix products, ~2x faster.
    docs = _parsed(bundle, texts) if bundle else None
    domain = bundle.meta.get(DOMAIN_META) if bundle else None
    for doc_id, text in texts.items():
        extra = (extra_blockers or {}).get(doc_id, [])
        if domain and (unlike := out_of_domain(domain, text)):
            # Unlike the training documents: the calibrated confidence does not carry over.
            extra = [*extra, Blocker("out_of_domain", None, "; ".join(unlike))]
        if bundle is None or docs is None:
            pred = predict_unmodelled(doctype, doc_id)
            pred.blockers += extra
        else:
            parsed = next(docs)
            got = (
                parsed
                if isinstance(parsed, DocumentError)
                else isolated(
                    doc_id,
                    predict_text,
                    bundle,
                    doc_id,
                    text,
                    parsed,
                    (words or {}).get(doc_id),
                    (history or {}).get(doc_id),
                    cfg,
                    extra,
                    (vendors or {}).get(doc_id),
                    (dates or {}).get(doc_id),
                )
            )
            if isinstance(got, DocumentError):
                pred = predict_failed(doctype, doc_id, got.cause, bundle.version)
                pred.blockers += extra
            else:
                pred = got
        pred.header_vendor = header_vendor(doctype, text)
        out.append(pred)
    return out
