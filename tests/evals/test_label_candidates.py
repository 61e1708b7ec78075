"""``evals.label_candidates`` on a one-order folder: a header over its value is found from the
layout and missed from the text alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals import label_candidates
from tests.core.ocr.pdfs import Page, Text, write_pdf


def test_the_rank_of_the_labelled_value_among_the_candidates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "key").mkdir()
    header = [Text(50, 700, "6700 American Plaza"), Text(300, 700, "1528945 /")]
    page = Page([Text(50, 720, "KWTX"), Text(300, 720, "Contract / Revision"), *header])
    write_pdf(tmp_path / "img" / "o1.pdf", [page])
    (tmp_path / "key" / "o1.json").write_text(json.dumps({"contract_num": "1528945"}))
    argv = ["--dataset", str(tmp_path), "--ocr-cache", str(tmp_path / "ocr.json")]
    assert label_candidates.main(argv) == 0
    layout = json.loads(capsys.readouterr().out)
    assert layout["contract_num"] == {"1": 1} and layout["advertiser"] == {"no label": 1}
    assert label_candidates.main([*argv, "--text-only"]) == 0
    assert json.loads(capsys.readouterr().out)["contract_num"] != {"1": 1}
