"""The whole bad-input corpus (``fixtures.badinput``) mixed with good receipts in one inbox
batch, through the real ingest job: nothing odd stops production (issue 11)."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from docasset.core.intake.ledger import read_ledger
from docasset.core.workdir import Workdir
from docasset.defs.driver import LocalDriver, ingest_once
from fixtures.badinput import write_corpus


def test_every_entry_of_a_mixed_corpus_is_accounted_for_and_a_rerun_is_a_no_op(
    tmp_path: Path, receipts_dir: Path, instance, make_defs
) -> None:
    wd = Workdir(tmp_path / "work")
    corpus = write_corpus(wd.inbox, tmp_path / "outside")
    goods = [f"good-{p.name}" for p in sorted((receipts_dir / "img").iterdir())[:4]]
    for p, name in zip(sorted((receipts_dir / "img").iterdir()), goods, strict=False):
        shutil.copy(p, wd.inbox / name)
    # Most of this batch is bad on purpose: the scan_quality gate would (rightly) stop it.
    defs = make_defs(wd.root, quality={"max_bad_scan_share": 1.0})
    driver = LocalDriver(instance, defs, wd.root)

    out, ok = ingest_once(driver, wd, batch_max_files=10_000)

    assert ok
    by_file = {o["file"]: o for o in out}
    assert len(out) == len(by_file) == len(corpus.cases) + len(goods)  # every entry, once
    assert len({o["batch"] for o in out}) == 1
    for case in corpus.cases:
        got = by_file[case.text]
        assert got["status"] == case.expect, (case.what, got)
        if case.expect == "quarantined":
            assert got["reason"].startswith(f"{case.reason}"), (case.what, got)
            assert got["route"] is None
        elif case.expect == "ok":  # read and predicted like any other scan
            assert got["route"] in ("auto", "review") and got["reason"] is None, (case.what, got)
        else:
            assert got["reason"].startswith("same bytes as document")
    for name in goods:
        assert by_file[name]["status"] == "ok" and by_file[name]["route"] == "review"
    assert list(wd.inbox.iterdir()) == []
    for p in wd.archive.rglob("*"):  # the archive holds bytes, never links
        st = os.lstat(p)
        assert stat.S_ISDIR(st.st_mode) or (stat.S_ISREG(st.st_mode) and st.st_nlink == 1), p
    recorded = read_ledger(wd)

    again, ok_again = ingest_once(driver, wd, batch_max_files=10_000)
    assert (again, ok_again) == ([], True)
    assert read_ledger(wd) == recorded
