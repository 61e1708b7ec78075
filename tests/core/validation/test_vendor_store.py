from __future__ import annotations

import json
from pathlib import Path

import pytest

from docasset.core.extraction.fields import canonical, load_doctype
from docasset.core.validation.corrections import import_file, read_store
from docasset.core.validation.vendor_store import VendorStore
from docasset.errors import DocassetError

TEXT = {
    "d1": "BOOK TA .K (TAMAN DAYA) SDN BHD\n(789417-W)\nNO.53 JALAN SAGU 18\nTEL 07-355 2616\n",
    "d2": "BOOK TA .K (TAMAN DAYA) SDN BHD\n(789417-W)\nLOT 2 JALAN BARU\nTEL 07-111 2222\n",
}


def _store(tmp_path: Path) -> Path:
    f = tmp_path / "c.jsonl"
    rows = [
        {
            "doc_id": d,
            "annotator": "alice",
            "timestamp": f"2026-11-24T10:0{i}:00Z",
            "fields": {"company": "BOOK TA .K (TAMAN DAYA) SDN BHD", "address": a, "date": day},
        }
        for i, (d, a, day) in enumerate(
            [("d1", "NO.53 JALAN SAGU 18", "25/12/2018"), ("d2", "LOT 2 JALAN BARU", "1/1/2019")]
        )
    ]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    import_file(f, tmp_path / "store", load_doctype("receipt"), {"d1", "d2"})
    return tmp_path / "store"


def test_the_registry_learns_each_correction_once_with_its_provenance(tmp_path: Path) -> None:
    corrections = read_store(_store(tmp_path))
    store = VendorStore(tmp_path / "vendors")
    # A document whose OCR text is not at hand waits for it (nothing is marked read).
    assert [o.doc_id for o in store.learn(corrections, {"d1": TEXT["d1"]})] == ["d1"]
    assert [o.doc_id for o in store.learn(corrections, TEXT)] == ["d2"]
    assert store.learn(corrections, TEXT) == []  # idempotent
    [v] = store.registry().vendors.values()
    assert v.confirmations == 2 and v.dates == ["2018-12-25", "2019-01-01"]
    assert len(v.keys["company_no:789417"]) == 2 and len(v.branches) == 2
    assert {o.annotator for o in store.observations()} == {"alice"}
    assert store.learned() == set(corrections["correction_id"].to_list())


def test_import_export_round_trip_and_conflicts_are_reported_not_merged(tmp_path: Path) -> None:
    store = VendorStore(tmp_path / "vendors")
    store.learn(read_store(_store(tmp_path)), TEXT)
    for suffix in ("csv", "json"):
        out = tmp_path / f"vendors.{suffix}"
        assert store.export(out) == 1
        again = VendorStore(tmp_path / f"again-{suffix}")
        result = again.import_file(out, "manager")
        assert result.vendors == 1 and result.conflicts == []
        [v] = again.registry().vendors.values()
        assert v.name == "BOOK TA .K (TAMAN DAYA) SDN BHD" and "company_no:789417" in v.keys
        assert {b.address for b in v.branches} == {"NO.53 JALAN SAGU 18", "LOT 2 JALAN BARU"}
    # A manager's vendor under another name claiming the learned registration number.
    other = tmp_path / "other.csv"
    other.write_text("name,key,address,phone\nKEDAI LAIN,company_no:789417-W,,\n")
    result = store.import_file(other, "manager")
    assert [(c.kind, c.key) for c in result.conflicts] == [
        ("import_disagrees", "company_no:789417")
    ]
    assert len(store.registry().vendors) == 2  # kept apart, both claim it


def test_a_malformed_import_is_rejected_whole_with_its_lines(tmp_path: Path) -> None:
    store = VendorStore(tmp_path / "vendors")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,key\nKEDAI A,tax_id:000111222333\n,phone:0312345678\nKEDAI B,colour:red\n")
    with pytest.raises(DocassetError) as err:
        store.import_file(bad, "manager")
    assert "line 3: no name" in str(err.value) and "line 4" in str(err.value)
    assert store.registry().vendors == {}  # nothing imported
    with pytest.raises(DocassetError, match="not JSON"):
        (tmp_path / "bad.json").write_text("{")
        store.import_file(tmp_path / "bad.json", "manager")


ORDERS = {
    "o1": "Contract / Revision\n220018567 /\nAdvertiser\nMIKE BLOOMBERG 2020, INC\n",
    "o2": "Advertiser: MikeBloomberg2020Inc-D Agency: Assembly\n",
    "o3": "Advertiser: Bernie 2020\n",
}


def _write_corrections(
    path: Path, fields_of: dict[str, dict[str, str]], annotator: str, hour: int
) -> None:
    """A corrections file: one record per document, a minute apart from ``hour``:00."""
    path.write_text(
        "".join(
            json.dumps(
                {
                    "doc_id": d,
                    "annotator": annotator,
                    "timestamp": f"2026-11-24T{hour}:0{i}:00Z",
                    "fields": fields,
                }
            )
            + "\n"
            for i, (d, fields) in enumerate(fields_of.items())
        )
    )


def test_customer_spellings_from_corrections_give_a_repeat_advertiser_its_name(
    tmp_path: Path,
) -> None:
    f = tmp_path / "c.jsonl"
    typed = {"o1": "Mike Bloomberg 2020", "o2": "Mike Bloomberg 2020", "o3": "Bernie 2020"}
    _write_corrections(
        f, {d: {"advertiser": name, "contract_num": "1"} for d, name in typed.items()}, "bob", 11
    )
    ad_order = load_doctype("ad_order")
    import_file(f, tmp_path / "store", ad_order, set(typed))
    store = VendorStore(tmp_path / "vendors")
    # An ad order has no seller field and these print no station: no vendor is learned, the
    # advertisers are.
    assert store.learn(read_store(tmp_path / "store"), ORDERS, ad_order) == []
    pairs = dict(zip(typed, store.customer_pairs("advertiser"), strict=True))
    assert pairs["o1"] == ("MIKE BLOOMBERG 2020, INC", "Mike Bloomberg 2020")
    assert pairs["o2"][0] is not None and "MikeBloomberg2020Inc" in pairs["o2"][0]
    known = store.customer_aliases(ad_order)
    # A later order printing one of the learned spellings is recognised.
    assert canonical(known, "advertiser", "MIKE BLOOMBERG 2020, INC") == "Mike Bloomberg 2020"
    assert canonical(known, "advertiser", "BERNIE 2020") == "Bernie 2020"
    assert canonical(ad_order, "advertiser", "MIKE BLOOMBERG 2020, INC") != "Mike Bloomberg 2020"
    assert store.learn(read_store(tmp_path / "store"), ORDERS, ad_order) == []  # read once
    assert len(store.customer_pairs("advertiser")) == 3


def test_predictions_count_the_customers_the_aliases_know() -> None:
    from docasset.core.extraction.batch import customers_recognised
    from docasset.core.extraction.routing import DocPrediction, FieldPrediction
    from docasset.core.validation.aliases import with_aliases

    ad_order = load_doctype("ad_order")
    known = with_aliases(ad_order, "advertiser", {"mikebloomberg2020inc": "Mike Bloomberg 2020"})

    def pred(advertiser: str | None) -> DocPrediction:
        fields = {n: FieldPrediction(None, 0, 0, "none", "none", 0.0) for n in ad_order.names}
        fields["advertiser"] = FieldPrediction(advertiser, 0, 0, "model", "b", 0.9)
        return DocPrediction("d", fields, "review", [], None)

    preds = [pred("MIKE BLOOMBERG 2020, INC"), pred("Bernie 2020"), pred(None)]
    assert customers_recognised(known, preds) == 1
    assert customers_recognised(ad_order, preds) == 0


STATIONS = {
    "s1": "Page 1 of 4\nRemit Address: INVOICE\nKCNC-TV Advertiser Bernie 2020\nTEL 303-555-0100\n",
    "s2": "CONTRACT\nKCNC Contract / Revision\nAgency phone 212-555-0199\n",
    "s3": "INVOICE\nProperty WXIA\nWXIA Invoice # 1\n",
}


def test_stations_read_from_the_header_are_learned_from_corrections(tmp_path: Path) -> None:
    from docasset.core.extraction.vendor_keys import document_keys
    from docasset.core.extraction.vendors import match_vendor

    f = tmp_path / "c.jsonl"
    typed = {"s1": "02/03/20", "s2": "02/17/20", "s3": "03/01/20"}
    _write_corrections(
        f,
        {d: {"advertiser": "Bernie 2020", "flight_from": day} for d, day in typed.items()},
        "carol",
        12,
    )
    ad_order = load_doctype("ad_order")
    import_file(f, tmp_path / "store", ad_order, set(typed))
    store = VendorStore(tmp_path / "vendors")
    learned = store.learn(read_store(tmp_path / "store"), STATIONS, ad_order)
    # Keyed by the call sign alone (not the agency's phone), named by it, with provenance.
    assert [(o.doc_id, o.company, o.keys) for o in learned] == [
        ("s1", "KCNC", ("header_id:KCNC",)),
        ("s2", "KCNC", ("header_id:KCNC",)),
        ("s3", "WXIA", ("header_id:WXIA",)),
    ]
    assert {o.annotator for o in learned} == {"carol"}
    reg = store.registry()
    kcnc = next(v for v in reg.vendors.values() if v.name == "KCNC")
    assert kcnc.confirmations == 2 and reg.conflicts == []
    # US month-first flight dates (2020-02-03, not 2 March)
    assert sorted(kcnc.dates) == ["2020-02-03", "2020-02-17"]
    # A repeat station is recognised by the key its header prints.
    text = "INVOICE\nKCNC-TV Invoice # 9\nWITH thanks\n"
    m = match_vendor(text, reg, document_keys(ad_order, text))
    assert m is not None and m.vendor_id == kcnc.id and m.key == "header_id:KCNC"
    # Keyed by the call sign only: a header without one is no station's, even when its words
    # contain a learned call sign ("WXIA" in "WXIAMI") that the name match would take.
    other = "INVOICE\nSales Office: WXIAMI\n"
    assert match_vendor(other, reg, document_keys(ad_order, other), by_name=False) is None
    assert match_vendor(other, reg, document_keys(ad_order, other)) is not None
