"""evals.vendor_ids: the share of documents naming a station, repeats, and the sample to read."""

from __future__ import annotations

from docasset.core.extraction.fields import load_doctype
from evals.vendor_ids import measure


def test_counts_identified_stations_and_the_repeats_a_registry_recognises() -> None:
    texts = {
        "a": "INVOICE\nKCNC-TV Invoice # 1\n",
        "b": "CONTRACT\nWXIA Contract\n",
        "c": "Page 1 of 2\nProperty KCNC\n",  # the same station as "a", without its suffix
        "d": "Sales Office: H-WAS\nno station here\n",
    }
    got = measure(load_doctype("ad_order"), texts, sample=10, seed=0, show=False)
    assert (got["documents"], got["identified"], got["distinct"]) == (4, 3, 2)
    assert got["repeats_recognised"] == 1  # "c", after "a" taught the registry KCNC
    assert got["identified_ci95"][0] < 0.75 < got["identified_ci95"][1]
    assert sorted(s["id"] for s in got["sample"]) == ["KCNC", "KCNC-TV", "WXIA"]
    assert {s["line"] for s in got["sample"]} >= {"Property KCNC", "WXIA Contract"}
