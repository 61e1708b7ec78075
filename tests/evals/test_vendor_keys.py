"""The vendor-registry figures of a labelled stream (evals.vendor_keys)."""

from __future__ import annotations

from pathlib import Path

from docasset.core.datasets.labelled import LabelledDoc
from evals.vendor_keys import main, vendor_stream


def doc(i: int, company: str, address: str) -> LabelledDoc:
    return LabelledDoc(f"{i:03d}", Path(f"{i:03d}.jpg"), {"company": company, "address": address})


def test_keys_repeats_and_how_often_the_registry_copy_is_right() -> None:
    head = "(789417-W)\nTEL 07-355 2616\n"
    docs = [
        doc(1, "ACME SDN BHD", "NO 1 JALAN SAGU"),
        doc(2, "ACME SDN. BHD.", "NO 1, JALAN SAGU"),  # same vendor and branch, punctuated anew
        doc(3, "AKME SDN BHD", "NO 1 JALAN SAGU"),  # the operator's typo: the copy is "wrong"
        doc(4, "BETA", "LOT 2"),  # no key printed, a new vendor
    ]
    texts = {
        "001": "ACME SDN BHD\n" + head + "NO 1 JALAN SAGU",
        "002": "ACME SDN BHD\n" + head + "NO 1 JALAN SAGU",
        "003": "ACME SDN BHD\n" + head + "NO 1 JALAN SAGU",
        "004": "BETA\nLOT 2",
    }
    out = vendor_stream(docs, texts)
    assert out["documents"] == 4 and out["strong_key"] == 3 and out["repeat_truth"] == 1
    assert out["matched"] == 2 and out["matched_by_key"] == {"company_no": 2}
    assert out["company_right"] == 1 and out["company_strict"] == 0  # equivalence, not strict
    assert out["branch"] == 2 and out["address_right"] == 2 and out["address_printed"] == 2
    assert out["company_right_ci95"][0] < 0.5 < out["company_right_ci95"][1]
    # The date checks: a right date passes, a misread year of a known vendor is flagged.
    dated = [
        LabelledDoc(f"{i:03d}", Path("x.jpg"), {"company": "ACME", "date": "25/12/2018"})
        for i in (5, 6, 7)
    ]
    dtexts = {"005": "ACME\n(789417-W)\n24/12/2018", "006": "ACME\n(789417-W)\n25/12/2018"}
    dtexts["007"] = "ACME\n(789417-W)\n25/12/2013"
    out = vendor_stream(dated, dtexts)
    assert out["rule_date_pick"] == {"wrong_passed": 1, "right_passed": 1, "wrong_flagged": 1}
    # The right date is printed misread in 005 and 007: checked as printed differently.
    assert out["right_dates_flagged"] == {"date_printed_differently": 2}
    # Scoring a range: earlier documents still teach, later ones are not read.
    part = vendor_stream(docs, texts, ("003", "003"))
    assert part["documents"] == 1 and part["matched"] == 1 and part["company_right"] == 0


def test_an_unreadable_folder_is_a_clear_message_and_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["--dataset", str(tmp_path / "nowhere")]) == 2
    assert "not a labelled folder" in capsys.readouterr().err
