"""Customer aliases learned from corrections (the advertiser of ad orders)."""

from __future__ import annotations

from docasset.core.extraction.fields import canonical, load_doctype, parse_doctype
from docasset.core.validation.aliases import learn_aliases, same_party, with_aliases


def test_spellings_of_one_advertiser_become_aliases_of_the_most_typed() -> None:
    table = learn_aliases(
        [
            ("MIKE BLOOMBERG 2020, INC", "Mike Bloomberg 2020"),
            ("MikeBloomberg2020Inc-D", "Mike Bloomberg 2020"),
            ("Mike Bloomberg 2020 Inc", "MIKE BLOOMBERG 2020, INC"),
            ("Bernie 2020", "Bernie 2020"),
            # A wrong extraction corrected: the printed value is no alias of the advertiser.
            ("WTAE Pittsburgh", "Priorities USA Action"),
        ]
    )
    d = with_aliases(load_doctype("ad_order"), "advertiser", table)
    for spelling in ("MikeBloomberg2020Inc-D", "mike bloomberg 2020", "Mike Bloomberg 2020, Inc."):
        assert canonical(d, "advertiser", spelling) == "Mike Bloomberg 2020"
    assert canonical(d, "advertiser", "BERNIE 2020") == "Bernie 2020"
    assert canonical(d, "advertiser", "WTAE Pittsburgh") == "WTAE Pittsburgh"  # unknown: itself
    assert canonical(d, "advertiser", None) is None


def test_yaml_aliases_win_over_learned_ones() -> None:
    base = parse_doctype(
        {
            "name": "t",
            "fields": [{"name": "adv", "label": "ADV", "type": "text", "role": "customer"}],
            "aliases": {"adv": {"Tillis for Senate": ["Tillis/R/US Senate"]}},
        },
        "t.yaml",
    )
    d = with_aliases(base, "adv", learn_aliases([("Tillis/R/US Senate", "TILLIS R US SENATE")]))
    assert canonical(d, "adv", "tillis/r/us senate") == "Tillis for Senate"


def test_same_party_needs_similar_names() -> None:
    assert same_party("POL/J Ossoff/D/Sen/GA", "pol j ossoff d sen ga")
    assert not same_party("Bernie 2020", "Biden for President")
    assert not same_party("", "x")


def test_extract_output_names_the_canonical_customer() -> None:
    from docasset.core.extraction.prediction_table import to_json
    from docasset.core.extraction.routing import DocPrediction, FieldPrediction

    d = with_aliases(
        load_doctype("ad_order"),
        "advertiser",
        learn_aliases([("MIKE BLOOMBERG 2020, INC", "Mike Bloomberg 2020")]),
    )
    none = FieldPrediction(None, 0, 0, "none", "none", 0.0)
    adv = FieldPrediction("MIKE BLOOMBERG 2020, INC", 0, 24, "model", "b", 0.9)
    pred = DocPrediction(
        "d1", {f.name: none for f in d.fields} | {"advertiser": adv}, "review", [], "v1"
    )
    out = to_json(d, pred)
    assert out["fields"]["advertiser"] == "MIKE BLOOMBERG 2020, INC"  # as printed
    assert out["customers"] == {"advertiser": "Mike Bloomberg 2020"}
    assert "customers" not in to_json(load_doctype("receipt"), _receipt_pred())


def _receipt_pred():  # type: ignore[no-untyped-def]
    from docasset.core.extraction.routing import DocPrediction, FieldPrediction

    none = FieldPrediction(None, 0, 0, "none", "none", 0.0)
    return DocPrediction(
        "r1", {f.name: none for f in load_doctype("receipt").fields}, "review", [], "v1"
    )
