"""Is a document like the ones the model was trained on? Per document, before its confidence
is trusted.

A model's confidences are calibrated on documents like its training documents; on documents
unlike them (a model trained on synthetic receipts reading real ones) a confident value can
be wrong and nothing else would notice before an operator does. So each model carries a
domain summary of its training documents (``ModelBundle.meta["domain"]``, saved with the
bundle), and every document it predicts is compared to it: a document outside the summary
gets the document-level blocker ``out_of_domain`` (every field is checked by a person), with
the reasons.

The summary, from the training documents' OCR text:

- per shape feature (text length, lines, characters per line, digit and upper-case shares),
  the training range widened by ``DomainConfig.range_margin`` of its width on both sides;
- the training vocabulary (lower-case words of 3+ letters) and how many of a document's
  words are new to it: each training document against the *other* training documents
  (leave one out, what a new document of the same kind shows); a document whose share of new
  words exceeds the largest of those plus ``DomainConfig.novelty_margin`` is out of domain.

The production-health reference (``docasset.core.monitoring.reference``) compares a whole
day's distributions; this compares one document, and lives here so that extraction, which
must not import monitoring, can route on it. Models trained before the summary have none:
nothing is checked for them (and ``domain_summary`` says when too few documents describe a
domain).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from docasset.core.tunable import tunable

DOMAIN_META = "domain"
SHAPE = ("text_len", "n_lines", "chars_per_line", "digit_share", "upper_share")
_WORD = re.compile(r"[^\W\d_]{3,}")


@dataclass(frozen=True)
class DomainConfig:
    """How far from its training documents a document may be before its confidence is not
    trusted alone."""

    min_documents: int = tunable(
        8, "Training documents needed to describe a domain (fewer: no domain check).", ge=1
    )
    range_margin: float = tunable(
        0.5,
        "A shape feature is out of domain beyond the training range widened by this share of "
        "its width on each side.",
        ge=0,
    )
    novelty_margin: float = tunable(
        0.2,
        "A document is out of domain when its share of words new to the training vocabulary "
        "exceeds the largest leave-one-out share of the training documents by this much.",
        ge=0,
        le=1,
    )
    max_vocabulary: int = tunable(
        20_000, "Most frequent training words kept in the summary (the bundle's size).", ge=1
    )


def shape(text: str) -> dict[str, float]:
    """The shape features of one OCR text."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    chars = [c for c in text if not c.isspace()]
    n = len(chars) or 1
    return {
        "text_len": float(len(text)),
        "n_lines": float(len(lines)),
        "chars_per_line": len(chars) / (len(lines) or 1),
        "digit_share": sum(c.isdigit() for c in chars) / n,
        "upper_share": sum(c.isupper() for c in chars) / n,
    }


def words(text: str) -> set[str]:
    """The distinct lower-case words (3+ letters) of a text."""
    return {w.lower() for w in _WORD.findall(text)}


def domain_summary(texts: Sequence[str], cfg: DomainConfig | None = None) -> dict[str, Any] | None:
    """The domain summary of training texts (JSON-ready; None with fewer than
    ``cfg.min_documents`` texts)."""
    cfg = cfg or DomainConfig()
    if len(texts) < cfg.min_documents:
        return None
    shapes = [shape(t) for t in texts]
    ranges = {}
    for f in SHAPE:
        vals = [s[f] for s in shapes]
        lo, hi = min(vals), max(vals)
        pad = cfg.range_margin * (hi - lo)
        ranges[f] = [round(lo - pad, 4), round(hi + pad, 4)]
    per_doc = [words(t) for t in texts]
    counts = Counter(w for ws in per_doc for w in ws)
    novelty = [
        sum(counts[w] == 1 for w in ws) / len(ws)  # words no other training document has
        for ws in per_doc
        if ws
    ]
    vocab = sorted(w for w, _ in counts.most_common(cfg.max_vocabulary))
    return {
        "n_documents": len(texts),
        "ranges": ranges,
        "vocabulary": vocab,
        "max_novelty": round(min(1.0, max(novelty, default=0.0) + cfg.novelty_margin), 4),
    }


def out_of_domain(summary: dict[str, Any], text: str) -> list[str]:
    """Why a document is unlike the training documents the summary describes ([]: like
    them)."""
    reasons = []
    got = shape(text)
    for f, (lo, hi) in summary["ranges"].items():
        v = got.get(f)
        if v is not None and not lo <= v <= hi:
            reasons.append(f"{f} {v:.4g} outside the training range [{lo:.4g}, {hi:.4g}]")
    ws = words(text)
    if ws:
        vocab = set(summary["vocabulary"])
        novel = sum(w not in vocab for w in ws) / len(ws)
        if novel > summary["max_novelty"]:
            reasons.append(
                f"{novel:.0%} of its words never seen in training (at most "
                f"{summary['max_novelty']:.0%} for a document like the training ones)"
            )
    return reasons
