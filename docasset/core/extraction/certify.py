"""Certified field thresholds: a precision target as a statistical claim.

A field's confidence threshold is *certified* for a precision target when the checked values
at or above it are right often enough that the one-sided Clopper-Pearson lower bound of their
precision (at ``confidence``, 95 % by default) reaches the target. With no error that takes
``ceil(log(1 - confidence) / log(target))`` values: 299 for 0.99 at 95 % (``0.99 ** 299`` is
0.0495 < 0.05, ``0.99 ** 298`` is 0.0500). The certified threshold is the *lowest* such cut:
the most fields accepted under a proven claim.

No cut certifies: the field has no threshold (the model alone never accepts it) and the
:class:`Certification` says how far the evidence is from one ("needs N more checked values
with no error"). ``confidence`` 0 turns the claim into the point estimate (precision >=
target with ``min_support`` values): for tiny demo worlds only, and reported as uncertified.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

NEVER = 1.01  # a threshold no confidence reaches (routing.NEVER)
CERTIFICATION_META = "certification"  # model.json: field -> Certification.as_dict()
MAX_MISSING = 1_000_000  # "needs more" is searched up to this many further values


def precision_lower_bound(right: int, n: int, confidence: float) -> float:
    """One-sided Clopper-Pearson lower bound of a precision with ``right`` of ``n`` right, at
    ``confidence`` (e.g. 0.95); 0 for no values; the point estimate for ``confidence`` <= 0.

    The exact (conservative) binomial bound: the ``1 - confidence`` quantile of
    Beta(right, n - right + 1). With every value right it is ``(1 - confidence) ** (1 / n)``.
    """
    if n <= 0:
        return 0.0
    if not 0 <= right <= n:
        raise ValueError(f"right={right} outside 0..n={n}")
    if confidence <= 0:
        return right / n
    if right == 0:
        return 0.0
    alpha = 1.0 - confidence
    if right == n:  # closed form (and exact where the quantile function rounds)
        return float(alpha ** (1.0 / n))
    from scipy.stats import beta  # only where thresholds are fitted (training, reports)

    return float(beta.ppf(alpha, right, n - right + 1))


def precision_upper_bound(right: int, n: int, confidence: float) -> float:
    """One-sided Clopper-Pearson upper bound (1 for no values): the ``confidence`` quantile of
    Beta(right + 1, n - right)."""
    if n <= 0 or right >= n:
        return 1.0
    if not 0 <= right <= n:
        raise ValueError(f"right={right} outside 0..n={n}")
    if right == 0:
        return float(1.0 - (1.0 - confidence) ** (1.0 / n))
    from scipy.stats import beta

    return float(beta.ppf(confidence, right + 1, n - right))


def precision_interval(right: int, n: int, level: float = 0.95) -> tuple[float, float] | None:
    """Two-sided Clopper-Pearson interval at ``level`` (None for no values: absent, not 0)."""
    if n <= 0:
        return None
    tail = (1.0 + level) / 2
    return precision_lower_bound(right, n, tail), precision_upper_bound(right, n, tail)


def needed_without_error(right: int, n: int, target: float, confidence: float) -> int | None:
    """How many more checked values, all right, would bring the lower bound to ``target``
    (0: it already does); None when no number up to ``MAX_MISSING`` would."""
    if precision_lower_bound(right, n, confidence) >= target:
        return 0
    lo, hi = 1, 1
    while precision_lower_bound(right + hi, n + hi, confidence) < target:
        lo, hi = hi + 1, hi * 2
        if hi > MAX_MISSING:
            return None
    while lo < hi:  # the bound rises with every right value: the first m that reaches target
        mid = (lo + hi) // 2
        if precision_lower_bound(right + mid, n + mid, confidence) >= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


@dataclass(frozen=True)
class Certification:
    """One field's certified threshold and the evidence behind it.

    ``threshold``: the lowest certified cut (:data:`NEVER` when none); ``accepted``/``errors``:
    checked values at or above it and how many were wrong (for no threshold: the best cut's,
    the one needing the fewest more values); ``lower_bound``: their precision's lower bound;
    ``evidence``: every checked value of the field (all confidences); ``missing``: more
    checked values with no error the best cut needs (0 when certified; None: unreachable);
    ``by_source``: evidence per source (held-out fold, QA, operator check);
    ``top_error``: the highest score a wrong value had (None: no wrong value), which any
    certified cut must lie above.
    """

    field: str
    target: float
    confidence: float
    threshold: float
    accepted: int
    errors: int
    lower_bound: float
    evidence: int
    missing: int | None
    by_source: dict[str, int]
    top_error: float | None = None

    @property
    def certified(self) -> bool:
        return self.threshold < NEVER

    @property
    def text(self) -> str:
        """What the evidence supports, in one line."""
        claim = (
            f"{self.target:.0%} at {self.confidence:.0%}"
            if self.confidence > 0
            else (f"{self.target:.0%} (point estimate, uncertified)")
        )
        if self.certified:
            return (
                f"certified {claim} from {self.threshold:.2f}: {self.accepted} checked values, "
                f"{self.errors} wrong, lower bound {self.lower_bound:.4f}"
            )
        if self.evidence == 0:
            return f"no threshold: no checked value yet (a cut needs {self.missing} right ones)"
        more = "no amount of" if self.missing is None else f"{self.missing} more"
        if self.accepted == 0 and self.top_error is not None:
            # Every cut holding any value holds a wrong one scored high: the nearest claim is
            # above the most confident error, where no checked value lies yet.
            return (
                f"no threshold: the most confident of {self.evidence} checked values (score "
                f"{self.top_error:.2f}) is wrong; a cut above it needs {more} checked values "
                "with no error"
            )
        return (
            f"no threshold: best cut has {self.accepted} checked values, {self.errors} wrong, "
            f"lower bound {self.lower_bound:.4f} < {self.target}; needs {more} checked values "
            "with no error"
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "certified": self.certified, "text": self.text}


def certify(
    name: str,
    rows: list[tuple[float, bool]],
    target: float,
    confidence: float,
    min_support: int = 1,
    by_source: dict[str, int] | None = None,
) -> Certification:
    """The lowest cut on ``rows`` ``(confidence score, right)`` whose accepted set (scores at
    or above it, at least ``min_support`` of them) has a precision lower bound >= ``target``.
    Cuts fall only between distinct scores, as a threshold would; scores <= 0 never accept."""
    ranked = sorted((r for r in rows if r[0] > 0), key=lambda r: -r[0])
    cuts: list[tuple[float, int, int]] = []  # (cut, accepted, right) at each distinct score
    right = 0
    for i, (score, ok) in enumerate(ranked, start=1):
        right += int(ok)
        if i == len(ranked) or ranked[i][0] != score:
            cuts.append((score, i, right))
    sources = dict(by_source or {})
    top_error = next((score for score, ok in ranked if not ok), None)
    certified = [
        (cut, n, ok_n, bound)
        for cut, n, ok_n in cuts
        if n >= min_support and (bound := precision_lower_bound(ok_n, n, confidence)) >= target
    ]
    if certified:
        cut, n, ok_n, bound = certified[-1]  # the lowest cut
        return Certification(
            name, target, confidence, cut, n, n - ok_n, bound, len(ranked), 0, sources, top_error
        )
    # None certifies: report the cut the fewest more right values would certify.
    nearest: tuple[int | None, int, int] = (None, 0, 0)
    for _, n, ok_n in [(0.0, 0, 0), *cuts]:
        more = needed_without_error(ok_n, n, target, confidence)
        if more is not None:
            more = max(more, min_support - n)
            if nearest[0] is None or more < nearest[0]:
                nearest = (more, n, ok_n)
    missing, n, ok_n = nearest
    bound = precision_lower_bound(ok_n, n, confidence)
    return Certification(
        name,
        target,
        confidence,
        NEVER,
        n,
        n - ok_n,
        bound,
        len(ranked),
        missing,
        sources,
        top_error,
    )
