"""Certified thresholds: the Clopper-Pearson bound, the 299 rule, the lowest certified cut."""

from __future__ import annotations

import pytest

from docasset.core.extraction.certify import (
    NEVER,
    certify,
    needed_without_error,
    precision_lower_bound,
)


def test_zero_errors_in_299_certify_99_percent_and_298_do_not() -> None:
    assert precision_lower_bound(299, 299, 0.95) >= 0.99
    assert precision_lower_bound(298, 298, 0.95) < 0.99
    assert needed_without_error(0, 0, 0.99, 0.95) == 299
    assert needed_without_error(250, 250, 0.99, 0.95) == 49


def test_lower_bound_matches_known_clopper_pearson_values() -> None:
    # Exact one-sided 95 % lower bounds: the p with P(X >= k | n, p) = 0.05, found by bisection
    # on the binomial tail (independently of the beta quantile the code uses).
    assert precision_lower_bound(9, 10, 0.95) == pytest.approx(0.6058367, abs=1e-6)
    assert precision_lower_bound(95, 100, 0.95) == pytest.approx(0.8977466, abs=1e-6)
    assert precision_lower_bound(299, 300, 0.95) == pytest.approx(0.9842854, abs=1e-6)
    assert precision_lower_bound(0, 10, 0.95) == 0.0
    assert precision_lower_bound(3, 4, 0.0) == 0.75  # the point estimate when uncertified
    assert precision_lower_bound(0, 0, 0.95) == 0.0
    with pytest.raises(ValueError):
        precision_lower_bound(5, 4, 0.95)


def test_one_error_needs_more_evidence_than_none() -> None:
    assert needed_without_error(299, 300, 0.99, 0.95) > 0
    assert precision_lower_bound(472, 473, 0.95) >= 0.99 > precision_lower_bound(471, 472, 0.95)


def test_the_lowest_certified_cut_is_chosen() -> None:
    # 400 right values from 0.999 down, then 50 wrong below 0.5: the cut sits just above them.
    rows = [(0.999 - i * 0.001, True) for i in range(400)] + [(0.4, False)] * 50
    c = certify("total", rows, 0.99, 0.95)
    assert c.certified and c.threshold == pytest.approx(0.999 - 399 * 0.001)
    assert (c.accepted, c.errors, c.evidence, c.missing) == (400, 0, 450, 0)
    assert c.lower_bound >= 0.99


def test_too_little_evidence_gives_no_threshold_and_says_what_is_missing() -> None:
    rows = [(0.9, True)] * 120 + [(0.3, False)] * 5
    c = certify("date", rows, 0.99, 0.95, by_source={"fold": 100, "qa": 25})
    assert not c.certified and c.threshold == NEVER
    assert (c.accepted, c.errors, c.missing) == (120, 0, 179)
    assert "needs 179 more checked values with no error" in c.text
    assert c.as_dict()["by_source"] == {"fold": 100, "qa": 25}
    empty = certify("date", [], 0.99, 0.95)
    assert (empty.evidence, empty.missing, empty.certified) == (0, 299, False)


def test_a_confident_error_above_all_the_evidence_is_named() -> None:
    rows = [(0.97, False)] + [(0.9, True)] * 136
    c = certify("date", rows, 0.99, 0.95)
    assert not c.certified and c.top_error == 0.97
    assert (c.accepted, c.errors, c.evidence, c.missing) == (0, 0, 137, 299)
    assert "most confident of 137 checked values (score 0.97) is wrong" in c.text
    assert c.as_dict()["top_error"] == 0.97
    assert certify("date", [(0.9, True)] * 5, 0.99, 0.95).top_error is None


def test_a_tie_across_the_cut_is_never_split() -> None:
    # 299 right at 0.95 and one wrong at the same score: no cut separates them.
    rows = [(0.95, True)] * 299 + [(0.95, False)]
    assert not certify("total", rows, 0.99, 0.95).certified


def test_point_estimate_when_uncertified_keeps_min_support() -> None:
    rows = [(0.9, True)] * 7 + [(0.2, False)]
    assert not certify("date", rows, 0.99, 0.0, min_support=8).certified
    assert certify("date", [*rows, (0.9, True)], 0.99, 0.0, min_support=8).threshold == 0.9
