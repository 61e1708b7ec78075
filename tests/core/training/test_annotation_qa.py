"""Annotation QA: consistency issues (the gate) and the QA list (out-of-fold, conflicts)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from docasset.core.extraction.fields import load_doctype
from docasset.core.extraction.prediction_table import PREDICTION_COLUMNS
from docasset.core.training.annotation_qa import (
    conflict_reasons,
    consistency_summary,
    out_of_fold_disagreements,
    qa_list,
)
from docasset.core.training.curate import SplitConfig, curate
from docasset.core.validation.corrections import import_file, read_store

RECEIPT = load_doctype("receipt")
CFG = SplitConfig(min_golden=100)
STAMP = "2026-11-24T10:00:00Z"


def _store(tmp_path: Path, recs: list[dict]) -> pl.DataFrame:
    f = tmp_path / f"c{len(list(tmp_path.glob('c*.jsonl')))}.jsonl"
    f.write_text(
        "".join(json.dumps({"annotator": "a", "timestamp": STAMP, **r}) + "\n" for r in recs)
    )
    import_file(f, tmp_path / "store", RECEIPT, {r["doc_id"] for r in recs})
    return read_store(tmp_path / "store")


def _pred(
    doc_id: str, field: str, value: str, conf: float, source: str = "model", version: str = "v0001"
) -> dict:
    return {
        "doc_id": doc_id,
        "batch_id": "b",
        "doc_type": "receipt",
        "model_version": version,
        "predicted_at": datetime(2026, 11, 24, tzinfo=UTC),
        "route": "review",
        "blockers": [],
        "field": field,
        "required": True,
        "value": value,
        "normalized": None,
        "confidence": conf,
        "source": source,
        "start": 0,
        "end": 0,
        "ocr_conf": 90.0,
        "bad_scan": False,
    }


def test_out_of_fold_disagreements_flag_confident_contradictions_only(tmp_path: Path) -> None:
    store = _store(
        tmp_path,
        [{"doc_id": d, "fields": {"total": "9.00", "company": "ACME"}} for d in "abcdef"],
    )
    preds = pl.DataFrame(
        [
            _pred("a", "total", "90.00", 0.97),  # confident and different: flagged
            _pred("a", "company", "ACME", 0.99),  # agrees
            _pred("b", "total", "90.00", 0.50),  # not confident
            _pred("c", "total", "90.00", 0.97, version="v0002"),  # v0002 trained on c
            _pred("d", "total", "90.00", 0.97, source="memory"),  # the operators' own value
            _pred("e", "total", "90.00", 0.97, version="v0009"),  # training set unknown
            _pred("f", "total", "9,00", 0.97),  # same amount, printed differently
        ],
        schema=PREDICTION_COLUMNS,
    )
    trained = {"v0001": set(), "v0002": {"c"}}
    got = out_of_fold_disagreements(RECEIPT, preds, store, trained, 0.9)
    assert list(got) == ["a"]
    assert "total: model v0001 predicted '90.00' at 0.97, annotated '9.00'" in got["a"][0]


def test_conflicts_go_to_the_qa_list_with_both_annotations(tmp_path: Path) -> None:
    store = _store(tmp_path, [{"doc_id": "a", "fields": {"total": "9.00"}, "annotator": "alice"}])
    store = _store(tmp_path, [{"doc_id": "a", "fields": {"total": "8.00"}, "annotator": "bob"}])
    qa = qa_list(conflict_reasons(store), {"a": ["total: model says 7.00"]})
    assert len(qa["a"]) == 3
    assert any("alice" in r for r in qa["a"]) and any("bob" in r for r in qa["a"])


def test_consistency_summary_lists_planted_inconsistencies(tmp_path: Path) -> None:
    texts = {
        "d1": "ACME SDN BHD\n25/12/2018\nTOTAL 9.00",
        "d2": "BETA TRADING\n9.00 BETA TRADING\n26/12/2018\nTOTAL 12.00",
        "d3": "GAMMA STORE\n27/12/2018\nTOTAL 3.00",
        "d4": "DELTA MART\n28/12/2018\nTOTAL 4.00",
    }
    store = _store(
        tmp_path,
        [
            {"doc_id": "d1", "fields": {"company": "ACME SDN BHD", "total": "9.00"}},
            # "9.00" labelled a company here, a total in d1.
            {"doc_id": "d2", "fields": {"company": "9.00", "total": "12.00"}},
            # A total that is not in the text, and a date that fails its validator.
            {"doc_id": "d3", "fields": {"company": "GAMMA STORE", "total": "33.30"}},
        ],
    )
    # A date that fails its validator: import refuses it now, a store an older docasset wrote
    # may still hold one (curation reads it).
    seg = tmp_path / "store" / "seg-20261124T100000000000Z-old0000000000000.jsonl"
    old = {
        "correction_id": "old0000000000004",
        "doc_id": "d4",
        "annotator": "a",
        "timestamp": "2026-11-24T10:00:00+00:00",
        "verdict": None,
        "fields_json": json.dumps({"company": "DELTA MART", "date": "31/02/2018"}),
        "spans_json": None,
        "source_file": "old.jsonl",
        "imported_at": "20261124T100000000000Z",
    }
    seg.write_text(json.dumps(old) + "\n")
    store = read_store(tmp_path / "store")
    cur = curate(RECEIPT, store, texts, set(), {}, tmp_path / "golden.json", CFG)
    cur.qa = {"d1": ["annotator conflict: ..."]}
    s = consistency_summary(cur, RECEIPT)
    off = s["offending"]
    assert any("labelled" in i for i in off["d1"]) and any("labelled" in i for i in off["d2"])
    assert any("value not found in OCR text" in i for i in off["d3"]), off
    assert any("not a plausible date" in i for i in off["d4"]), off
    assert s["inconsistency_rate"] == 1.0 and s["qa"] == {"d1": ["annotator conflict: ..."]}


def test_a_date_labelled_as_start_and_as_end_across_documents_is_no_inconsistency(
    tmp_path: Path,
) -> None:
    ad = load_doctype("ad_order")
    texts = {
        "o1": "CONTRACT 1001\nADVERTISER ACME PAC\nFLIGHT 03/01/20 - 03/08/20\nGROSS $100.00",
        "o2": "CONTRACT 1002\nADVERTISER BETA PAC\nFLIGHT 03/08/20 - 03/15/20\nGROSS $200.00",
        "o3": "CONTRACT 1003\nADVERTISER 1001\nFLIGHT 04/01/20 - 04/08/20\nGROSS $300.00",
    }
    recs = [
        {"doc_id": "o1", "fields": {"contract_num": "1001", "flight_to": "03/08/20"}},
        {"doc_id": "o2", "fields": {"contract_num": "1002", "flight_from": "03/08/20"}},
        # An identifier labelled as the advertiser elsewhere: still an inconsistency.
        {"doc_id": "o3", "fields": {"contract_num": "1003", "advertiser": "1001"}},
    ]
    f = tmp_path / "c.jsonl"
    f.write_text(
        "".join(json.dumps({"annotator": "a", "timestamp": STAMP, **r}) + "\n" for r in recs)
    )
    import_file(f, tmp_path / "store", ad, set(texts))
    cur = curate(ad, read_store(tmp_path / "store"), texts, set(), {}, tmp_path / "g.json", CFG)
    off = consistency_summary(cur, ad)["offending"]
    assert not any("labelled" in i for d in ("o2",) for i in off.get(d, []))
    assert any("'1001' labelled" in i for i in off["o1"]) and any(
        "labelled" in i for i in off["o3"]
    )
