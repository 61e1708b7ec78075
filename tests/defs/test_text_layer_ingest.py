"""PDFs through the inbox: a born-digital multi-page PDF is read from its text layer, a scan
beside it is OCR'd, and the ocr_text metadata counts the pages per engine and reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from docasset.core.intake.inbox import claim_now
from docasset.core.ocr.text import document_text
from docasset.core.workdir import Workdir
from docasset.defs.intake import raw_scans
from docasset.defs.ocr import documents, ocr_text
from tests.core.ocr.pdfs import Page, Text, write_pdf


def _claim(wd: Workdir, instance: dg.DagsterInstance) -> str:
    [claimed] = claim_now(wd)
    instance.add_dynamic_partitions("batches", [claimed.batch_id])
    return claimed.batch_id


def test_born_digital_pdf_and_a_scan_through_the_inbox(
    tmp_path: Path, receipts_dir: Path, instance: dg.DagsterInstance, make_defs
) -> None:
    wd = Workdir(tmp_path / "work")
    write_pdf(
        wd.inbox / "order.pdf",
        [
            Page(texts=[Text(72, 700, "Contract # 554532 Advertiser: Bernie 2020 (33267)")]),
            Page(texts=[Text(72, 300, "Gross Total $39,600.00 Net 33,660.00 end of order")]),
        ],
    )
    scan = sorted((receipts_dir / "img").iterdir())[0]
    shutil.copy(scan, wd.inbox / scan.name)
    bid = _claim(wd, instance)
    defs = make_defs(wd.root, ocr={"engine": "tesseract"})
    res = dg.materialize(
        [raw_scans, ocr_text, documents],
        partition_key=bid,
        instance=instance,
        resources=defs.resources,
    )
    assert res.success
    words = res.output_for_node("ocr_text")
    names = dict(res.output_for_node("raw_scans").select("doc_id", "source_name").iter_rows())
    by_name = {names[d]: d for d in names}
    order = words.filter(words["doc_id"] == by_name["order.pdf"])
    assert sorted(order.select("page", "engine").unique().rows()) == [
        (0, "pdf-text"),
        (1, "pdf-text"),
    ]
    assert "Gross Total $39,600.00" in document_text(words, by_name["order.pdf"])
    meta = res.asset_materializations_for_node("ocr_text")[0].metadata
    assert meta["pages_pdf-text"].value == 2 and meta["pages_tesseract"].value == 1
    assert meta["pages_reason_text_layer"].value == 2
    assert meta["pages_reason_not_pdf"].value == 1
    docs = res.output_for_node("documents")
    engines = dict(docs.select("doc_id", "ocr_engine").iter_rows())
    assert engines[by_name["order.pdf"]] == "pdf-text"
    assert engines[by_name[scan.name]] == "tesseract"


@pytest.mark.vrdu
def test_a_real_multi_page_order_through_the_inbox(
    tmp_path: Path, vrdu_dir: Path, instance: dg.DagsterInstance, make_defs
) -> None:
    wd = Workdir(tmp_path / "work")
    (pdf,) = sorted((vrdu_dir / "img").glob("030f7df7*.pdf"))  # two born-digital pages
    shutil.copy(pdf, wd.inbox / pdf.name)
    bid = _claim(wd, instance)
    res = dg.materialize(
        [raw_scans, ocr_text, documents],
        partition_key=bid,
        instance=instance,
        resources=make_defs(wd.root, ocr={"engine": "tesseract"}).resources,
    )
    assert res.success
    docs = res.output_for_node("documents")
    assert docs["n_pages"].to_list() == [2] and docs["ocr_engine"].to_list() == ["pdf-text"]
