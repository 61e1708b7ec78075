from __future__ import annotations

import json
from pathlib import Path

from docasset.core.extraction.fields import load_doctype
from docasset.core.validation.corrections import import_file, read_store
from docasset.core.validation.memory import CorrectionMemory, recall, total_keyword

NEXT_SCAN = (
    "BOOK TA .K (TAMAN DAYA) SDN BHD\n789417-W\nNO.53 55,57 & 59, JALAN SAGU 18,\nTAMAN DAYA,\n"
    "81100 JOHOR BAHRU,\nJOHOR.\n25/12/2018\nTOTAL 9.00"
)
ADDRESS = "NO.53 55,57 & 59, JALAN SAGU 18, TAMAN DAYA, 81100 JOHOR BAHRU, JOHOR."
OTHER_VENDOR = "ACME HARDWARE LTD\n1 HIGH STREET\nTOTAL 3.00"


def _store(tmp_path: Path) -> Path:
    f = tmp_path / "c.jsonl"
    f.write_text(
        json.dumps(
            {
                "doc_id": "d1",
                "annotator": "alice",
                "timestamp": "2026-11-24T10:00:00Z",
                "fields": {
                    "company": "BOOK TA .K (TAMAN DAYA) SDN BHD",
                    "address": ADDRESS,
                    "total": "9.00",
                },
            }
        )
        + "\n"
    )
    import_file(f, tmp_path / "store", load_doctype("receipt"), {"d1"})
    return tmp_path / "store"


def test_memory_learns_recalls_for_the_same_vendor_only_and_forgets(tmp_path: Path) -> None:
    mem = CorrectionMemory(tmp_path / "memory")
    added = mem.learn(read_store(_store(tmp_path)))
    assert {e.field for e in added} == {"company", "address"}
    assert all(e.annotator == "alice" and e.source_correction for e in added)
    assert mem.learn(read_store(tmp_path / "store")) == []  # idempotent
    got = recall(NEXT_SCAN, mem.entries())
    assert got["company"][0] == "BOOK TA .K (TAMAN DAYA) SDN BHD"
    assert got["address"][0].endswith("JOHOR BAHRU, JOHOR.")
    assert recall(OTHER_VENDOR, mem.entries()) == {}
    address = next(e for e in mem.entries() if e.field == "address")
    mem.remove(address.id, "wrong branch address")
    assert "address" not in recall(NEXT_SCAN, mem.entries())
    assert mem.learn(read_store(tmp_path / "store")) == []  # a removed entry is not relearned
    log = [json.loads(x) for x in (tmp_path / "memory" / "entries.jsonl").read_text().splitlines()]
    # Each correction is read once ("learned"), so a day's learning reads only new ones.
    assert [r["op"] for r in log] == ["add", "add", "learned", "remove"]
    assert mem.learned() == set(read_store(tmp_path / "store")["correction_id"].to_list())


CORRECTED = (
    "KEDAI MAWAR SDN BHD\nNO 1 JALAN SATU\n25/12/2018\nSUBTOTAL 8.50\nROUNDING 0.50\n"
    "TOTAL (RM) 9.00\nCASH 10.00\nCHANGE 1.00"
)
NEXT = (
    "KEDAI MAWAR SDN BHD\nNO 1 JALAN SATU\n26/12/2018\nSUBTOTAL 41.20\nTOTAL QTY 3\n"
    "TOTAL (RM)\n41.20\nCASH 50.00\nCHANGE 8.80"
)


def test_memory_learns_the_vendors_total_keyword_and_reads_the_amount_after_it(
    tmp_path: Path,
) -> None:
    f = tmp_path / "c.jsonl"
    f.write_text(
        json.dumps(
            {
                "doc_id": "d1",
                "annotator": "bob",
                "timestamp": "2026-11-24T10:00:00Z",
                "fields": {"company": "KEDAI MAWAR SDN BHD", "total": "9.00"},
            }
        )
        + "\n"
    )
    import_file(f, tmp_path / "store", load_doctype("receipt"), {"d1"})
    mem = CorrectionMemory(tmp_path / "memory")
    added = mem.learn(read_store(tmp_path / "store"), {"d1": CORRECTED})
    anchor = next(e for e in added if e.kind == "anchor")
    assert (anchor.vendor, anchor.field, anchor.value) == (
        "KEDAI MAWAR SDN BHD",
        "total",
        "TOTAL RM",
    )
    value, start, end, entry = recall(NEXT, mem.entries())["total"]
    assert value == "41.20" and NEXT[start:end] == "41.20" and entry == anchor.id
    assert "total" not in recall(NEXT.replace("KEDAI MAWAR", "KEDAI LAIN"), mem.entries())
    mem.remove(anchor.id, "keyword changed")
    assert "total" not in recall(NEXT, mem.entries())
    assert mem.learn(read_store(tmp_path / "store"), {"d1": CORRECTED}) == []


def test_total_keyword_needs_a_total_label() -> None:
    assert total_keyword("ACME\nCASH 9.00", "9.00") is None  # an amount under CASH teaches nothing
    assert total_keyword("ACME\nGRAND TOTAL ....... 9.00", "9.00") == "GRAND TOTAL"
    assert total_keyword("ACME\nTOTAL EUR\n1.234,50", "1.234,50") == "TOTAL EUR"
    assert total_keyword("ACME\nTOTAL 9.00", None) is None


def test_a_value_that_goes_on_in_the_text_is_another_branch_not_recalled(tmp_path: Path) -> None:
    from docasset.core.validation.memory import MemoryEntry, recall

    addr = "LOT P.T. 2811, JALAN ANGSA, TAMAN BERKELEY 41150 KLANG, SELANGOR"
    entries = [
        MemoryEntry("c1", "99 SPEED MART S B", "company", "99 SPEED MART S/B", "x", "a", "t"),
        MemoryEntry("a1", "99 SPEED MART S B", "address", addr, "x", "a", "t"),
    ]
    same = f"99 SPEED MART S/B\n{addr}\nTEL 03-1"
    other = f"99 SPEED MART S/B\n{addr} 1245-DESA SRI HARTAMAS\nTEL 03-1"
    assert recall(same, entries)["address"][0] == addr
    got = recall(other, entries)
    assert "address" not in got and got["company"][0] == "99 SPEED MART S/B"


def test_repeated_corrections_raise_support_and_make_the_vendor_history(tmp_path: Path) -> None:
    from docasset.core.validation.memory import vendor_history

    receipt = load_doctype("receipt")
    company = "BOOK TA .K (TAMAN DAYA) SDN BHD"
    mem = CorrectionMemory(tmp_path / "memory")
    for i, address in enumerate([ADDRESS, ADDRESS, ADDRESS.replace(", JOHOR.", " JOHOR.")]):
        f = tmp_path / f"c{i}.jsonl"
        rec = {"doc_id": f"d{i}", "annotator": "alice", "timestamp": "2026-11-24T10:00:00Z",
               "fields": {"company": company, "address": address}}  # fmt: skip
        f.write_text(json.dumps(rec) + "\n")
        import_file(f, tmp_path / "store", receipt, {f"d{i}"})
        mem.learn(read_store(tmp_path / "store"))
        mem.learn(read_store(tmp_path / "store"))  # re-learning counts nobody twice
    support = {(e.field, e.value): e.support for e in mem.entries()}
    assert support[("company", company)] == 3 and support[("address", ADDRESS)] == 2
    history = vendor_history(NEXT_SCAN, mem.entries())
    assert history is not None and history.vendor == "BOOK TA K TAMAN DAYA SDN BHD"
    hit = history.hits["company"]
    assert (hit.support, hit.exact, hit.kind) == (3, True, "value")
    assert NEXT_SCAN[hit.start : hit.end].upper().startswith("BOOK TA")
    assert history.known["address"] == {ADDRESS: 2, ADDRESS.replace(", JOHOR.", " JOHOR."): 1}
    assert history.hits["address"].value == ADDRESS and history.hits["address"].exact
    misread = vendor_history(NEXT_SCAN.replace("SAGU 18", "SAGU 1B"), mem.entries())
    assert misread is not None and not misread.hits["address"].exact  # found fuzzily only
    assert vendor_history(OTHER_VENDOR, mem.entries()) is None
