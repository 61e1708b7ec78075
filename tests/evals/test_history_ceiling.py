"""The vendor-history ceiling of a labelled stream."""

from __future__ import annotations

from pathlib import Path

from docasset.core.datasets.labelled import LabelledDoc
from evals.history_ceiling import history_ceiling, main


def doc(i: int, company: str, address: str) -> LabelledDoc:
    fields = {"company": company, "address": address, "date": "01/02/2024", "total": "1.00"}
    return LabelledDoc(f"{i:03d}", Path(f"{i:03d}.jpg"), fields)


def test_repeats_and_how_they_were_typed_before() -> None:
    stream = [
        doc(1, "ACME SDN BHD", "NO. 1, JALAN SAGU"),
        doc(2, "Acme Sdn. Bhd.", "NO 1 JALAN SAGU"),  # same vendor, punctuated anew
        doc(3, "BETA", "LOT 2"),
        doc(4, "BETA", "lot  2"),  # typed as before, but for case and spacing
    ]
    out = history_ceiling(stream)
    assert out["repeats"] == 2 and out["repeat_share"] == 0.5
    assert out["typed_as_before"] == {"company": 0.5, "address": 0.5}
    assert out["typed_as_before_alnum"] == {"company": 1.0, "address": 1.0}
    # Dates and totals (8 fields) plus company of doc 4 and address of doc 4, of 16 fields.
    assert out["field_automation_ceiling"] == round(10 / 16, 4)
    # A seed history makes the first sighting in the stream a repeat.
    seeded = history_ceiling(stream[2:], [doc(0, "BETA", "LOT 2")])
    assert seeded["repeats"] == 2 and seeded["typed_as_before"]["address"] == 1.0


def test_a_folder_without_keys_is_refused(tmp_path, capsys) -> None:
    assert main(["--dataset", str(tmp_path)]) == 2
    assert "not a labelled folder" in capsys.readouterr().err
    (tmp_path / "img").mkdir()
    (tmp_path / "key").mkdir()
    (tmp_path / "img" / "001.jpg").write_bytes(b"x")
    (tmp_path / "key" / "001.json").write_text("{bad")
    assert main(["--dataset", str(tmp_path)]) == 2  # a broken key: its file and reason
    assert "001.json" in capsys.readouterr().err
