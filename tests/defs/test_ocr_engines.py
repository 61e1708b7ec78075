"""The ``ocr_engine`` resource through real materializations: each engine reads a small
synthetic receipt batch, the pages record their engine, models record theirs, and predicting
with another engine's text warns."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from docasset.core.datasets.labelled import read_key
from docasset.core.intake.inbox import claim_now
from docasset.core.ocr.text import document_text
from docasset.core.training.registry import Registry
from docasset.core.workdir import Workdir
from docasset.defs.extraction import predictions
from docasset.defs.intake import raw_scans
from docasset.defs.ocr import documents, ocr_text
from docasset.defs.ocr_engines import HybridOcr, RapidOcr, TesseractOcr
from docasset.defs.settings import Settings

N_RECEIPTS = 2


def _batch(wd: Workdir, receipts_dir: Path, instance: dg.DagsterInstance) -> str:
    for p in sorted((receipts_dir / "img").iterdir())[:N_RECEIPTS]:
        shutil.copy(p, wd.inbox / p.name)
    [claimed] = claim_now(wd)
    bid = claimed.batch_id
    instance.add_dynamic_partitions("batches", [bid])
    return bid


@pytest.mark.parametrize(
    ("engine", "escalation", "pages_by"),
    [
        ("tesseract", {}, "tesseract"),
        ("rapidocr", {}, "rapidocr"),
        ("hybrid", {}, "tesseract"),  # clean receipts: no page is hard
        ("hybrid", {"min_page_conf": 101.0}, "rapidocr"),  # every page hard: all re-read
    ],
)
def test_each_engine_reads_the_batch_and_records_it_per_page(
    engine: str,
    escalation: dict[str, float],
    pages_by: str,
    tmp_path: Path,
    receipts_dir: Path,
    instance: dg.DagsterInstance,
    make_defs,
) -> None:
    wd = Workdir(tmp_path / "work")
    bid = _batch(wd, receipts_dir, instance)
    defs = make_defs(wd.root, ocr={"engine": engine}, escalation=escalation)
    assert type(defs.resources["ocr_engine"]).name == engine
    res = dg.materialize(
        [raw_scans, ocr_text, documents],
        partition_key=bid,
        instance=instance,
        resources=defs.resources,
    )
    assert res.success
    words = res.output_for_node("ocr_text")
    assert words["engine"].unique().to_list() == [pages_by]
    meta = res.asset_materializations_for_node("ocr_text")[0].metadata
    assert meta["ocr_engine"].value == engine
    assert meta[f"pages_{pages_by}"].value == N_RECEIPTS
    docs = res.output_for_node("documents")
    assert docs["ocr_engine"].to_list() == [pages_by] * N_RECEIPTS
    names = dict(res.output_for_node("raw_scans").select("doc_id", "source_name").iter_rows())
    for doc_id in docs["doc_id"]:
        key = read_key(receipts_dir / "key" / f"{Path(names[doc_id]).stem}.json")
        text = document_text(words, doc_id)
        assert key["total"] in text, (engine, key, text)


def test_a_run_config_naming_another_engine_fails_the_run(
    tmp_path: Path, receipts_dir: Path, instance: dg.DagsterInstance, make_defs
) -> None:
    wd = Workdir(tmp_path / "work")
    bid = _batch(wd, receipts_dir, instance)
    defs = make_defs(wd.root, ocr={"engine": "tesseract"})
    res = dg.materialize(
        [raw_scans, ocr_text],
        partition_key=bid,
        instance=instance,
        resources=defs.resources,
        run_config={"resources": {"settings": {"config": {"ocr": {"engine": "rapidocr"}}}}},
        raise_on_error=False,
    )
    assert not res.success
    failure = next(e for e in res.all_events if e.is_step_failure)
    assert "ocr_engine resource is 'tesseract'" in str(failure.step_failure_data.error)


def test_resources_are_chosen_by_the_engine_setting() -> None:
    from docasset.defs.ocr_engines import ocr_engine_for

    for name, cls in (("tesseract", TesseractOcr), ("rapidocr", RapidOcr), ("hybrid", HybridOcr)):
        assert isinstance(ocr_engine_for(Settings(ocr={"engine": name})), cls)


def test_models_record_their_engine_and_other_engines_text_warns(
    loop, tmp_path: Path, receipts_dir: Path, instance: dg.DagsterInstance, make_defs
) -> None:
    trained = Registry(Workdir(loop.home).models)
    mv = trained.resolve("production")
    assert mv is not None
    default = Settings().ocr_config().engine
    assert mv.info["ocr"]["engine"] == default
    assert json.loads((mv.path / "model.json").read_text())["ocr"] == mv.info["ocr"]
    # The same production model predicts text read by another engine: a warning, no failure.
    wd = Workdir(tmp_path / "work")
    shutil.copytree(Workdir(loop.home).models, wd.models, dirs_exist_ok=True)
    bid = _batch(wd, receipts_dir, instance)
    other = "rapidocr" if default != "rapidocr" else "tesseract"
    for engine, warned in ((default, False), (other, True)):
        res = dg.materialize(
            [raw_scans, ocr_text, documents, predictions],
            partition_key=bid,
            instance=instance,
            resources=make_defs(wd.root, ocr={"engine": engine}).resources,
        )
        assert res.success
        meta = res.asset_materializations_for_node("predictions")[0].metadata
        assert ("ocr_engine_warning" in meta) is warned, (engine, meta.get("ocr_engine_warning"))
        if warned:
            assert f"trained on {default} text" in meta["ocr_engine_warning"].value
        preds = res.output_for_node("predictions")
        assert set(preds["model_version"]) == {mv.version} and preds.height > 0
        assert isinstance(preds, pl.DataFrame)
