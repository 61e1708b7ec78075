"""Field-level routing: which fields an operator must check, and which documents are touchless.

Every field gets a status: ``accepted`` (confident enough alone: pre-filled and locked in
review) or ``to_check``. A field is accepted when it has a valid value, no evidence check
blocks it (``history_conflict``, ``total_inconsistent``, ``ambiguous``: the document prints
another date; ``low_ocr_confidence``: the OCR read it below ``RoutingConfig.min_ocr_conf``)
and either its calibrated confidence reaches the field's threshold (fitted on out-of-fold
held-out outcomes for ``RoutingConfig.field_target`` precision) or the vendor's history
confirms it (a stable field equal to a value operators
typed for this vendor at least ``history_min_support`` times). A document is *touchless*
(route ``auto``) when every field is accepted, no document-level blocker applies (no model, no
text, bad scan, a failed cross-field rule) and its document confidence (the product of its
required fields' confidences) reaches the document threshold, fitted on held-out documents for
``RoutingConfig.target_precision``; otherwise it goes to ``review`` with its
:class:`Blocker` s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

from docasset.core.extraction.certify import NEVER, Certification, certify
from docasset.core.extraction.fields import DocType, validate_field
from docasset.core.tunable import tunable

Route = Literal["auto", "review"]
FieldStatus = Literal["accepted", "to_check"]
BlockerKind = Literal[
    "missing",
    "low_confidence",
    "low_ocr_confidence",
    "validator_failed",
    "no_text",
    "bad_scan",
    "no_model",
    "history_conflict",
    "history_fuzzy",
    "total_inconsistent",
    "ambiguous",
    "low_doc_confidence",
    "extraction_failed",
    "ocr_failed",
    "out_of_domain",
    "vendor_conflict",
    "vendor_ambiguous",
    "date_implausible",
    "date_in_future",
    "date_far_from_arrival",
    "date_outside_vendor_history",
    "date_printed_differently",
    "ocr_engines_disagree",
]
History = Literal["filled", "confirmed"]  # how the vendor history took part in a field
Source = Literal["model", "rule", "both", "none", "memory"]
ROUTES: tuple[str, ...] = get_args(Route)
FIELD_STATUSES: tuple[str, ...] = get_args(FieldStatus)
BLOCKER_KINDS: tuple[str, ...] = get_args(BlockerKind)
HISTORY_USES: tuple[str, ...] = get_args(History)
SOURCES: tuple[str, ...] = get_args(Source)
# NEVER (from certify): a threshold no confidence reaches: the field is never accepted alone
# Blockers that concern the whole document: every field is to be checked.
DOC_KINDS: frozenset[str] = frozenset({"no_text", "bad_scan", "no_model", "out_of_domain"})


@dataclass(frozen=True)
class RoutingConfig:
    """How routing thresholds are fitted and what the vendor history weighs."""

    target_precision: float = tunable(
        0.98,
        "Touchless documents (no field to check) aim at this document accuracy.",
        gt=0,
        le=1,
    )
    field_target: float = tunable(
        0.99,
        "A field is accepted alone at the confidence where held-out precision reaches this.",
        gt=0,
        le=1,
    )
    memory_confidence: float = tunable(
        0.99,
        "Confidence of a stable field the vendor history confirms (the value operators typed "
        "for this vendor, seen at least history_min_support times and found in the text).",
        ge=0,
        le=1,
    )
    history_min_support: int = tunable(
        2,
        "Corrections that must have typed a vendor's value before its history accepts it.",
        ge=1,
    )
    min_ocr_conf: float = tunable(
        0.8,
        "A value whose lowest OCR word confidence (0-1) is below this is checked by a person "
        "whatever the model's confidence, unless the vendor history accepts it (0: off).",
        ge=0,
        le=1,
    )
    date_window_days: int = tunable(
        0,
        "A date further than this many days from the document's arrival is checked by a "
        "person (date_far_from_arrival; 0: off, e.g. replays of old receipts).",
        ge=0,
    )
    min_support: int = tunable(
        8,
        "A threshold needs this many held-out values (documents, for the document threshold) "
        "at or above it.",
        ge=1,
    )
    certainty: float = tunable(
        0.95,
        "A field threshold is certified when the one-sided Clopper-Pearson lower bound (at this "
        "confidence) of the checked values' precision at or above it reaches field_target "
        "(0.99 at 0.95: at least 299 checked values with no error). 0: the point estimate, "
        "uncertified (tiny demo worlds only).",
        ge=0,
        lt=1,
    )


@dataclass(frozen=True)
class Blocker:
    """Why a field (or, with ``field`` None, the document) needs a person."""

    kind: BlockerKind
    field: str | None = None
    detail: str = ""

    @property
    def text(self) -> str:
        """The human-readable form ("low confidence total (0.80 < 0.95)")."""
        head = self.kind.replace("_", " ") + (f" {self.field}" if self.field else "")
        return f"{head} ({self.detail})" if self.detail else head

    def as_dict(self) -> dict[str, str | None]:
        return {"kind": self.kind, "field": self.field, "detail": self.detail}


@dataclass(frozen=True)
class FieldPrediction:
    """One extracted field with its evidence, calibrated confidence and routing status.

    ``checks``: blockers the evidence raised for this field before routing (a contradicted
    vendor history, an inconsistent total); ``memory_entry``/``history``: the correction-memory
    entry that filled or confirmed the value; ``ocr_conf``: the lowest word confidence (0-1)
    of the span, None when the engine gave none.
    """

    value: str | None
    start: int
    end: int
    source: str  # model | rule | both | none | memory
    bin: str
    confidence: float
    features: dict[str, float] = field(default_factory=dict, compare=False, repr=False)
    status: FieldStatus = "to_check"
    checks: tuple[Blocker, ...] = ()
    memory_entry: str | None = None
    history: History | None = None
    history_support: int = 0  # corrections that typed the value (0: the history cannot accept)
    ocr_conf: float | None = None


@dataclass
class DocPrediction:
    """Everything extracted from one document, and where it goes next."""

    doc_id: str
    fields: dict[str, FieldPrediction]
    route: Route
    blockers: list[Blocker]
    model_version: str | None
    doc_confidence: float = 0.0
    vendor_id: str | None = None  # the registry's vendor the document matched
    vendor_key: str | None = None  # the key that matched it (kind:value), or why ambiguous
    header_vendor: str | None = None  # the type's header identifier as printed ("KCNC-TV")
    # customer field -> its canonical spelling (``fields.canonical``), from the frame
    customers: dict[str, str] = field(default_factory=dict)

    def values(self) -> dict[str, str | None]:
        return {k: f.value for k, f in self.fields.items()}

    def confidences(self) -> dict[str, float]:
        return {k: f.confidence for k, f in self.fields.items()}

    def statuses(self) -> dict[str, FieldStatus]:
        return {k: f.status for k, f in self.fields.items()}

    @property
    def blocker_texts(self) -> list[str]:
        return [b.text for b in self.blockers]

    def has(self, *kinds: str) -> bool:
        """Whether any blocker is of one of ``kinds``."""
        return any(b.kind in kinds for b in self.blockers)


@dataclass(frozen=True)
class Thresholds:
    """A model's routing thresholds: per field, and for the document confidence."""

    fields: dict[str, float]
    document: float = 0.0


def history_accepts(f: FieldPrediction, cfg: RoutingConfig) -> bool:
    """Whether the vendor history alone accepts the field."""
    return f.history is not None and f.history_support >= cfg.history_min_support


def misread(f: FieldPrediction, cfg: RoutingConfig) -> bool:
    """Whether the OCR read the value too uncertainly to accept it on the model's confidence.

    Why a fixed floor beside the fitted confidence: a per-field confidence model learns from
    the few misreads of its own field, and dates are misread too rarely in a few hundred
    documents to learn it (SROIE training half: none). Pooled over fields, values whose lowest
    word confidence was below 0.8 were wrong 2.8 times as often (54 of 95 vs 70 of 348; totals
    6 of 21 vs 9 of 92); between 0.8 and 0.9 hardly more often than above (9 of 35)."""
    if f.ocr_conf is None or history_accepts(f, cfg):
        return False
    return f.ocr_conf < cfg.min_ocr_conf


def field_confidence(f: FieldPrediction, cfg: RoutingConfig) -> float:
    """The confidence a field contributes to its document's confidence."""
    if history_accepts(f, cfg):
        return max(f.confidence, cfg.memory_confidence)
    return f.confidence


def route_document(
    doctype: DocType,
    fields: dict[str, FieldPrediction],
    thresholds: Thresholds,
    cfg: RoutingConfig,
    doc_blockers: list[Blocker] | None = None,
    rule_problems: list[tuple[str, str]] | None = None,
) -> tuple[dict[str, FieldPrediction], Route, list[Blocker], float]:
    """Statuses of every field, the route, the blockers (document-level first) and the
    document confidence. ``rule_problems``: (field, detail) of failed cross-field rules."""
    blockers = list(doc_blockers or [])
    whole = any(b.kind in DOC_KINDS for b in blockers)
    by_field: dict[str, list[Blocker]] = {}
    for name, detail in rule_problems or []:
        by_field.setdefault(name, []).append(Blocker("validator_failed", name, detail))
    out: dict[str, FieldPrediction] = {}
    for spec in doctype.fields:
        f = fields[spec.name]
        own = list(f.checks) + by_field.get(spec.name, [])
        threshold = thresholds.fields.get(spec.name, NEVER)
        if f.value is None:
            if spec.required:
                own.insert(0, Blocker("missing", spec.name))
        elif problems := validate_field(spec, f.value):
            own.insert(0, Blocker("validator_failed", spec.name, "; ".join(problems)))
        elif f.confidence < threshold and not history_accepts(f, cfg):
            # No certified threshold: no confidence is enough, say so rather than "1.00 < 1.00".
            why = (
                f"{f.confidence:.2f} < {threshold:.2f}"
                if threshold < NEVER
                else f"{f.confidence:.2f}, no certified threshold"
            )
            own.append(Blocker("low_confidence", spec.name, why))
        elif misread(f, cfg):
            detail = f"OCR word confidence {f.ocr_conf:.2f} < {cfg.min_ocr_conf:.2f}"
            own.append(Blocker("low_ocr_confidence", spec.name, detail))
        status: FieldStatus = "to_check" if own or whole or f.value is None else "accepted"
        if f.value is None and not spec.required and not whole:
            status = "accepted"  # an optional field the document does not print
        out[spec.name] = replace(f, status=status)
        blockers += own
    confs = [field_confidence(out[n], cfg) if out[n].value else 0.0 for n in doctype.required]
    doc_conf = math.prod(confs) if confs else 0.0
    all_accepted = all(f.status == "accepted" for f in out.values())
    if all_accepted and not blockers and doc_conf < thresholds.document:
        cut = min(thresholds.document, 1.0)
        blockers.append(Blocker("low_doc_confidence", None, f"{doc_conf:.2f} < {cut:.2f}"))
    route: Route = "auto" if all_accepted and not blockers else "review"
    return out, route, blockers, round(doc_conf, 4)


def thresholds_for(
    doctype: DocType,
    outcomes: list[tuple[str, float, bool]],
    target: float,
    min_support: int = RoutingConfig.min_support,
    certainty: float = RoutingConfig.certainty,
) -> dict[str, float]:
    """Per-field certified confidence thresholds for ``target`` field precision on checked
    outcomes ``(field, confidence, correct)``: the lowest confidence at which the values at or
    above it (at least ``min_support`` of them) have a precision lower bound (Clopper-Pearson
    at ``certainty``) >= ``target``; :data:`NEVER` if none (see :func:`certify_fields`)."""
    certs = certify_fields(
        doctype, [(f, c, ok, "") for f, c, ok in outcomes], target, certainty, min_support
    )
    return {name: c.threshold for name, c in certs.items()}


def certify_fields(
    doctype: DocType,
    evidence: list[tuple[str, float, bool, str]],
    target: float,
    certainty: float,
    min_support: int = 1,
) -> dict[str, Certification]:
    """Per field, its certification on ``evidence`` ``(field, confidence, correct, source)``:
    the lowest certified threshold, the evidence behind it, and what is missing without one."""
    out: dict[str, Certification] = {}
    for spec in doctype.fields:
        rows = [(c, ok) for f, c, ok, _ in evidence if f == spec.name]
        sources: dict[str, int] = {}
        for f, c, _, src in evidence:
            if f == spec.name and c > 0 and src:
                sources[src] = sources.get(src, 0) + 1
        out[spec.name] = certify(spec.name, rows, target, certainty, min_support, sources)
    return out


def precision_cut(rows: list[tuple[float, bool]], target: float, min_support: int) -> float:
    """The lowest score at which the rows scoring at or above it are right with precision
    >= ``target``, with at least ``min_support`` of them; :data:`NEVER` if none. The cut falls
    only between distinct scores, as a threshold would."""
    ranked = sorted(rows, key=lambda r: -r[0])
    best, right = NEVER, 0
    for i, (score, ok) in enumerate(ranked, start=1):
        right += int(ok)
        if i < len(ranked) and ranked[i][0] == score:
            continue
        if score > 0 and i >= min_support and right / i >= target:
            best = score
    return best
