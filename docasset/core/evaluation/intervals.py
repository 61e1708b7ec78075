"""Binomial intervals for the proportions the reports show, and how a proportion is written.

Wilson score intervals (95 %): unlike a percentile bootstrap, they never collapse to a point
on a small sample (6 of 6 right is about [0.61, 1.00], not [1.00, 1.00]), and unlike the
normal approximation they stay inside [0, 1]. A proportion whose denominator is 0 is not a
number: it is written as what is absent ("no accepted fields"), never as 0 or 1.
"""

from __future__ import annotations

import math

Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of ``k`` successes in ``n`` trials (None when ``n`` is 0)."""
    if n <= 0:
        return None
    if not 0 <= k <= n:
        raise ValueError(f"{k} successes out of {n} trials")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At k = 0 or k = n one bound is exact: rounding must not move it inside.
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return lo, hi


def proportion(k: int, n: int, absent: str, digits: int = 3) -> str:
    """``"0.833 (5/6) [0.44, 0.97]"``, or ``absent`` (e.g. "no accepted fields") when ``n`` is
    0: a share of nothing is not a figure."""
    ci = wilson(k, n)
    if ci is None:
        return absent
    return f"{k / n:.{digits}f} ({k}/{n}) [{ci[0]:.2f}, {ci[1]:.2f}]"


def min_documents(min_net_docs: int, tolerance: float) -> int:
    """The golden documents a gate needs to see a regression it is set to catch: it calls one
    only when at least ``min_net_docs`` more documents went wrong than right, i.e. a change
    of ``min_net_docs / n`` of the rate, which must not exceed the ``tolerance`` it checks."""
    return math.ceil(min_net_docs / tolerance - 1e-9)
