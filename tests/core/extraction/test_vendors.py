from __future__ import annotations

from docasset.core.extraction.vendor_keys import extract_keys
from docasset.core.extraction.vendors import Observation, build_registry, match_vendor

HQ = "TEO HENG STATIONERY & BOOKS\n(001451637-M)\nNO.53, JALAN BESAR\nTEL : 03-3271 9872\n"
BRANCH2 = "TEO HENG STATIONERY & BOOKS\n(1451637-M)\nLOT 9, JALAN KECIL\nTEL : 03-5555 1234\n"


def obs(cid: str, company: str, text: str, address: str | None = None, **kw) -> Observation:
    keys = tuple(k.ident for k in extract_keys(text))
    return Observation(
        cid, cid, company, address, kw.get("date"), keys, source=kw.get("source", "learned")
    )


def test_a_vendor_is_its_registration_number_and_its_addresses_are_branches() -> None:
    reg = build_registry(
        [
            obs("c1", "TEO HENG STATIONERY & BOOKS", HQ, "NO.53, JALAN BESAR", date="2018-01-02"),
            obs("c2", "TED HENG STATIONERY & BOOKS", HQ, "NO.53, JALAN BESAR", date="2018-02-02"),
            obs("c3", "TEO HENG STATIONERY & BOOKS", BRANCH2, "LOT 9, JALAN KECIL"),
        ]
    )
    [v] = reg.vendors.values()
    assert v.name == "TEO HENG STATIONERY & BOOKS" and v.confirmations == 3  # most confirmed
    assert len(v.branches) == 2 and v.keys["company_no:1451637"] == ["c1", "c2", "c3"]
    # Two names under one registration: one vendor, and the difference is reported.
    assert [c.kind for c in reg.conflicts] == ["names_differ"]
    # The branch is recognised by its phone (the address misread) ...
    m = match_vendor("TE0 HENG\n(1451637-M)\nNO.58, JLN BSR\nTEL 03-5555 1234", reg)
    assert m is not None and m.vendor_id == v.id and m.key == "company_no:1451637"
    assert m.address == "LOT 9, JALAN KECIL" and m.branch_key == "phone:0355551234"
    assert m.dates == ("2018-01-02", "2018-02-02")
    # ... or by its address printed; an unknown branch is the vendor without an address.
    m = match_vendor("TEO HENG\n(1451637-M)\nNO.53, JALAN BESAR\n", reg)
    assert m is not None and m.branch_key == "address" and m.address_support == 2
    m = match_vendor("TEO HENG\n(1451637-M)\n7 JALAN BARU\nTEL 03-1111 2222", reg)
    assert m is not None and m.vendor_id == v.id and m.address is None


def test_a_key_two_vendors_claim_is_a_conflict_and_matches_ambiguously() -> None:
    shared = "TEL : 03-4021 0276\n"
    reg = build_registry(
        [
            obs("c1", "KEDAI A", "KEDAI A\n" + shared),
            obs("c2", "KEDAI B", "KEDAI B\n" + shared),
        ]
    )
    assert [(c.kind, c.key) for c in reg.conflicts] == [("shared_key", "phone:0340210276")]
    m = match_vendor("SOME SHOP\n" + shared, reg)
    assert m is not None and m.vendor_id is None and len(m.ambiguous) == 2
    # A stronger key decides before the shared phone.
    reg = build_registry(
        [
            *[obs("c0", "KEDAI A", "KEDAI A\n(123456-X)\n" + shared)],
            obs("c2", "KEDAI B", "KEDAI B\n" + shared),
        ]
    )
    m = match_vendor("KEDAI ?\n(123456-X)\n" + shared, reg)
    assert m is not None and m.name == "KEDAI A" and m.key == "company_no:123456"


def test_an_import_under_another_name_disagrees_and_one_under_the_same_name_joins() -> None:
    learned = obs("c1", "KEDAI A", "KEDAI A\nGST ID: 000111222333")
    imp = Observation(
        "import:f#1", "", "KEDAI Z", None, None, ("tax_id:000111222333",), source="imported"
    )
    reg = build_registry([learned, imp])
    assert [c.kind for c in reg.conflicts] == ["import_disagrees"]
    assert match_vendor("X\nGST ID: 000111222333", reg).ambiguous  # type: ignore[union-attr]
    same = Observation(
        "import:f#1", "", "Kedai A.", None, None, ("phone:0312345678",), source="imported"
    )
    reg = build_registry([learned, same])
    [v] = reg.vendors.values()
    assert not reg.conflicts and v.name == "Kedai A." and v.sources == {"learned", "imported"}


def test_the_name_is_the_weakest_key_and_nothing_matches_an_unknown_vendor() -> None:
    reg = build_registry([obs("c1", "RESTORAN HASSANBISTRO", "RESTORAN HASSANBISTRO\nTAX INVOICE")])
    m = match_vendor("RESTORAN HASSANBISTRO\nNO.2-1-1 JALAN SETIA\nTOTAL 3.00", reg)
    assert m is not None and m.key == "name:RESTORAN HASSANBISTRO"
    assert match_vendor("ACME HARDWARE LTD\n1 HIGH STREET", reg) is None
    assert match_vendor("anything", build_registry([])) is None


def test_a_namesake_printing_another_registration_is_not_matched_by_name() -> None:
    reg = build_registry([obs("c1", "MR D.I.Y. (M) SDN BHD", "MR D.I.Y. (M) SDN BHD\n(933109-X)")])
    assert match_vendor("MR D.I.Y. (M) SDN BHD\n(704427-T)\nLOT 1", reg) is None
    m = match_vendor("MR D.I.Y. (M) SDN BHD\nLOT 1", reg)  # no registration printed: the name
    assert m is not None and m.key.startswith("name:")
