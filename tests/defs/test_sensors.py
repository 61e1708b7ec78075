"""Sensors evaluated with build_sensor_context on real files."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import dagster as dg
from PIL import Image

from docasset.core.extraction.fields import load_doctype
from docasset.core.intake.inbox import claim_now, read_manifest
from docasset.core.training.curate import SplitConfig, split_of
from docasset.core.validation.corrections import import_file, latest_per_document, read_store
from docasset.core.workdir import Workdir
from docasset.definitions import build_definitions
from docasset.defs.sensors import corrections_sensor, inbox_sensor, retrain_sensor


def _ctx(instance, defs, cursor=None):
    return dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources=dict(defs.resources),
        instance_ref=instance.get_ref(),
        definitions=defs,
    )


def _store_promotion_status(instance, defs, status: dict[str, str | None]) -> None:
    """Materialize ``promotion_status`` with a given value (what a corrections run leaves)."""

    @dg.asset(name="promotion_status")
    def fixed() -> dict[str, str | None]:
        return status

    dg.materialize(
        [fixed], instance=instance, resources={"io_manager": defs.resources["io_manager"]}
    )


def test_inbox_sensor_claims_each_file_once_in_bounded_batches(
    tmp_path: Path, instance, make_defs
) -> None:
    wd = Workdir(tmp_path)
    defs = make_defs(tmp_path, inbox={"batch_max_files": 2})
    assert inbox_sensor(_ctx(instance, defs)).skip_reason is not None
    for i in range(5):
        Image.new("L", (50 + i, 50), 255).save(wd.inbox / f"s{i}.png")
    res = inbox_sensor(_ctx(instance, defs))
    assert len(res.run_requests) == 3
    keys = [r.partition_key for r in res.run_requests]
    assert len(set(keys)) == 3 and [r.run_key for r in res.run_requests] == keys
    [add] = res.dynamic_partitions_requests
    assert list(add.partition_keys) == keys
    manifests = [read_manifest(wd, k)["entries"] for k in keys]
    assert sorted(e["source_name"] for m in manifests for e in m) == [f"s{i}.png" for i in range(5)]
    # Claimed files left the inbox for their batch's directory: nothing is claimed twice.
    assert list(wd.inbox.iterdir()) == []
    assert sum(len(list((wd.batches / k).iterdir())) for k in keys) == 5
    instance.add_dynamic_partitions("batches", keys)
    for k in keys:  # as the daemon does: the requested runs exist
        instance.create_run_for_job(
            defs.resolve_job_def("ingest_job"), tags={"dagster/partition": k}
        )
    assert inbox_sensor(_ctx(instance, defs)).skip_reason is not None


def test_inbox_sensor_claims_a_file_only_once_two_ticks_saw_it_unchanged(
    tmp_path: Path, instance, make_defs
) -> None:
    wd = Workdir(tmp_path)
    defs = make_defs(tmp_path, inbox={"settle_seconds": 0.01})
    path = wd.inbox / "arriving.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n")
    first = inbox_sensor(_ctx(instance, defs))
    assert not first.run_requests and "settling" in first.skip_reason.skip_message
    with open(path, "ab") as fh:
        fh.write(b"more bytes arrived")
    second = inbox_sensor(_ctx(instance, defs, first.cursor))
    assert not second.run_requests and path.exists()  # changed since the last tick
    time.sleep(0.02)
    third = inbox_sensor(_ctx(instance, defs, second.cursor))
    [req] = third.run_requests
    assert not path.exists() and read_manifest(wd, req.partition_key)["entries"][0]["size"] == 26


def test_inbox_sensor_waits_for_files_to_settle(tmp_path: Path, instance, make_defs) -> None:
    wd = Workdir(tmp_path)
    defs = make_defs(tmp_path, inbox={"settle_seconds": 3600.0})
    Image.new("L", (50, 50), 255).save(wd.inbox / "being-copied.png")
    res = inbox_sensor(_ctx(instance, defs))
    assert res.skip_reason is not None
    assert inbox_sensor(_ctx(instance, defs, res.cursor)).skip_reason is not None  # too recent


def test_inbox_sensor_requests_a_batch_claimed_by_a_tick_that_died(
    tmp_path: Path, instance, make_defs
) -> None:
    wd = Workdir(tmp_path)
    defs = make_defs(tmp_path)
    Image.new("L", (50, 50), 255).save(wd.inbox / "s.png")
    [claimed] = claim_now(wd)  # claimed, but the tick died before its run was requested
    [req] = inbox_sensor(_ctx(instance, defs)).run_requests
    assert req.partition_key == claimed.batch_id


def test_corrections_sensor_requests_one_run_per_inbox_state(
    tmp_path: Path, instance, make_defs
) -> None:
    wd = Workdir(tmp_path)
    defs = make_defs(tmp_path)
    assert corrections_sensor(_ctx(instance, defs)).skip_reason is not None
    (wd.corrections_inbox / "a.jsonl").write_text("{}\n")
    k1 = corrections_sensor(_ctx(instance, defs)).run_requests[0].run_key
    assert corrections_sensor(_ctx(instance, defs)).run_requests[0].run_key == k1
    (wd.corrections_inbox / "b.jsonl").write_text("{}\n")
    assert corrections_sensor(_ctx(instance, defs)).run_requests[0].run_key != k1


def test_corrections_sensor_retries_a_failed_import_run_under_a_new_key(
    tmp_path: Path, instance, make_defs
) -> None:
    """Issue 11: a failed import run kept its run key, so nothing ever retried it."""
    wd = Workdir(tmp_path)
    defs = make_defs(tmp_path, corrections={"import_retries": 1})
    (wd.corrections_inbox / "a.jsonl").write_text("{}\n")
    [req] = corrections_sensor(_ctx(instance, defs)).run_requests
    job = defs.resolve_job_def("corrections_job")
    run = instance.create_run_for_job(job, tags=req.tags, status=dg.DagsterRunStatus.STARTED)
    assert "in flight" in corrections_sensor(_ctx(instance, defs)).skip_reason.skip_message
    instance.report_run_failed(run)  # e.g. the disk was full
    [retry] = corrections_sensor(_ctx(instance, defs)).run_requests
    assert retry.run_key == f"{req.run_key}-retry1"
    again = instance.create_run_for_job(job, tags=retry.tags, status=dg.DagsterRunStatus.STARTED)
    instance.report_run_failed(again)
    res = corrections_sensor(_ctx(instance, defs))
    assert not res.run_requests and "failed 2 times" in res.skip_reason.skip_message


SPLIT = SplitConfig()


def _ids(split: str, n: int, start: int = 0) -> list[str]:
    """``n`` document ids whose stable split is ``split``."""
    out, i = [], start
    while len(out) < n:
        doc_id = f"{i:016x}"
        if (split == "trained") == (split_of(doc_id, SPLIT) in ("train", "dev")):
            out.append(doc_id)
        i += 1
    return out


TRAINED = _ids("trained", 12)
GOLDEN = _ids("golden", 2)


def _store_corrections(wd: Workdir, ids: list[str], name: str, **extra: object) -> None:
    f = wd.root / name
    stamp = datetime.now(UTC).isoformat()
    f.write_text(
        "".join(
            json.dumps(
                {
                    "doc_id": i,
                    "fields": {"total": "1.00"},
                    "annotator": "a",
                    "timestamp": stamp,
                    **extra,
                }
            )
            + "\n"
            for i in ids
        )
    )
    import_file(f, wd.corrections_store, load_doctype("receipt"), set(ids))


def _promote_model(wd: Workdir, version: str, corrected: list[str]) -> None:
    """Register a production model whose training set held the latest corrections of
    ``corrected`` (what the retrain run leaves behind: version.json with its training set,
    and the alias)."""
    latest = latest_per_document(read_store(wd.corrections_store))
    cids = latest.filter(latest["doc_id"].is_in(corrected))["correction_id"].to_list()
    ts = f"set-{version}"
    d = wd.models / "versions" / version
    d.mkdir(parents=True)
    record = {"version": ts, "doc_ids": corrected, "correction_ids": cids}
    info = {"version": version, "training_set_version": ts, "training_set": record}
    (d / "version.json").write_text(json.dumps(info))
    (wd.models / "aliases.json").write_text(json.dumps({"production": version}))


def test_retrain_sensor_counts_promoted_corrections_fires_at_n_and_never_twice(
    tmp_path: Path, instance, make_defs
) -> None:
    wd = Workdir(tmp_path)
    defs = make_defs(tmp_path, retrain={"min_corrections": 3})
    _store_corrections(wd, TRAINED[:2], "c1.jsonl")
    # Not promoted into training: a verdict, the golden split, a sampled auto document the
    # model got right (the corrections asset's status file says so).
    _store_corrections(wd, [TRAINED[2]], "c2.jsonl", fields={}, verdict="irrelevant")
    _store_corrections(wd, GOLDEN, "c3.jsonl")
    _store_corrections(wd, [TRAINED[3]], "c4.jsonl")
    latest = latest_per_document(read_store(wd.corrections_store))
    cid = dict(latest.select("doc_id", "correction_id").iter_rows())
    _store_promotion_status(instance, defs, {cid[TRAINED[3]]: "model_correct"})
    skip = retrain_sensor(_ctx(instance, defs))
    assert not skip.run_requests and "2 newly promoted" in skip.skip_reason.skip_message
    _store_corrections(wd, [TRAINED[4]], "c5.jsonl")
    res = retrain_sensor(_ctx(instance, defs, skip.cursor))
    [req] = res.run_requests
    assert req.run_key.startswith("retrain-none-3-") and req.tags["docasset/new_promoted"] == "3"
    # Same state with the advanced cursor: nothing.
    assert not retrain_sensor(_ctx(instance, defs, res.cursor)).run_requests
    # A restart that lost the cursor asks again for the very same run key: the daemon never
    # launches one run key twice.
    assert retrain_sensor(_ctx(instance, defs)).run_requests[0].run_key == req.run_key
    # The run failed the gate (production unchanged): the next firing needs N more.
    _store_corrections(wd, TRAINED[5:7], "c6.jsonl")
    assert not retrain_sensor(_ctx(instance, defs, res.cursor)).run_requests
    _store_corrections(wd, [TRAINED[7]], "c7.jsonl")
    res2 = retrain_sensor(_ctx(instance, defs, res.cursor))
    assert res2.run_requests[0].run_key.startswith("retrain-none-6-")


def test_retrain_sensor_counts_since_the_production_models_training_set(
    tmp_path: Path, instance, make_defs
) -> None:
    wd = Workdir(tmp_path)
    defs = make_defs(tmp_path, retrain={"min_corrections": 3})
    _store_corrections(wd, TRAINED[:4], "c1.jsonl")
    fired = retrain_sensor(_ctx(instance, defs))
    assert fired.run_requests
    # The retrain run promoted v0001, trained on those four: nothing is new, with or without
    # the cursor (state comes from the registry, so a restart changes nothing).
    _promote_model(wd, "v0001", TRAINED[:4])
    for cursor in (fired.cursor, None):
        res = retrain_sensor(_ctx(instance, defs, cursor))
        assert not res.run_requests and "0 newly promoted" in res.skip_reason.skip_message
        assert "v0001" in res.skip_reason.skip_message
    # A re-correction of a trained document is a new correction to learn from.
    _store_corrections(wd, [TRAINED[0]], "c2.jsonl", fields={"total": "2.00"})
    _store_corrections(wd, TRAINED[4:6], "c3.jsonl")
    res = retrain_sensor(_ctx(instance, defs, fired.cursor))
    assert res.run_requests[0].run_key.startswith("retrain-v0001-3-")


def test_retrain_sensor_waits_while_a_retraining_run_is_in_flight(
    tmp_path: Path, instance, make_defs
) -> None:
    wd = Workdir(tmp_path)
    defs = make_defs(tmp_path, retrain={"min_corrections": 1})
    _store_corrections(wd, TRAINED[:2], "c1.jsonl")
    job = defs.resolve_job_def("retrain_job")
    run = instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED)
    res = retrain_sensor(_ctx(instance, defs))
    assert not res.run_requests and run.run_id in res.skip_reason.skip_message
    instance.report_run_failed(run)
    assert retrain_sensor(_ctx(instance, defs)).run_requests


def test_schedules_target_the_days_health_partition_and_weekly_retrain() -> None:
    defs = build_definitions()
    daily = defs.resolve_schedule_def("health_job_schedule")
    ctx = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 24, 23, 55, tzinfo=UTC)
    )
    [req] = daily.evaluate_tick(ctx).run_requests
    assert req.partition_key == "2026-11-24"
    weekly = defs.resolve_schedule_def("weekly_retrain")
    assert weekly.cron_schedule == "0 3 * * 1" and weekly.job_name == "retrain_job"


def test_label_studio_sensor_skips_until_label_studio_is_configured(
    tmp_path: Path, instance, make_defs
) -> None:
    from docasset.defs.label_studio import label_studio_sensor

    wd = Workdir(tmp_path / "work")
    res = label_studio_sensor(_ctx(instance, make_defs(wd.root)))
    assert res.skip_reason and "DOCASSET_LABEL_STUDIO_URL" in res.skip_reason.skip_message
    assert not res.run_requests and not list(wd.corrections_inbox.iterdir())


class _PulledOnce:
    """Stands in for the Label Studio server (the real one: tests/integration): one project
    with one annotated task, new until the cursor has seen it."""

    url = "http://label-studio.test"
    flagged: ClassVar[list[tuple[int, dict, bool]]] = []  # shared: client() makes one per call

    def find_project(self, title: str) -> int:
        return 3

    def flag(self, tid: int, data: dict, reopen: bool) -> None:
        self.flagged.append((tid, data, reopen))

    def annotated_since(self, project, after, seen, page_size) -> list[dict]:
        if after is not None:
            return []
        ann = {"id": 11, "updated_at": "2026-12-01T10:00:00Z", "result": [], "completed_by": 1}
        return [{"id": 7, "data": {"doc_id": "0123456789abcdef"}, "annotations": [ann]}]


def test_label_studio_sensor_records_the_pull_and_requests_the_import(
    tmp_path: Path, instance
) -> None:
    from docasset.defs.driver import LocalDriver
    from docasset.defs.label_studio import LabelStudio

    class FakeServer(LabelStudio):
        def client(self):  # type: ignore[override]
            return _PulledOnce()

    home = tmp_path / "work"
    defs = build_definitions(str(home), label_studio=FakeServer(url=_PulledOnce.url, token="t"))
    driver = LocalDriver(instance, defs, tmp_path)
    [run] = driver.tick("label_studio_sensor")
    # The import ran at once, visibly: a corrections run the sensor requested, keyed like
    # corrections_sensor's so the inbox is not imported twice.
    assert run.success and run.job_def.name == "corrections_job"
    assert run.dagster_run.tags["dagster/sensor_name"] == "label_studio_sensor"
    assert run.dagster_run.tags["docasset/corrections_state"]
    assert list(Workdir(home).corrections_inbox.iterdir()) == []  # imported (or rejected)
    event = instance.get_latest_materialization_event(dg.AssetKey("label_studio_annotations"))
    assert event is not None
    meta = event.asset_materialization.metadata
    assert (meta["annotations"].value, meta["documents"].value) == (1, 1)
    assert meta["project"].value == "http://label-studio.test/projects/3"
    # An empty annotation of an unknown document is refused, and sent back to its task.
    assert meta["refused"].value == 1
    [(task, data, reopen)] = _PulledOnce.flagged
    assert (task, reopen, data["status"]) == (7, True, "rejected: fix and press Update")
    assert "nothing to store" in data["rejection"]
    assert driver.tick("label_studio_sensor") == []  # nothing new: no run


def _dead_process_tags() -> dict[str, str]:
    """Process tags (``docasset.defs.recovery``) of a process that has exited: a killed run."""
    import socket
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return {"docasset/host": socket.gethostname(), "docasset/pid": str(proc.pid)}


def test_retrain_sensor_reaps_a_killed_run_and_runs_it_again(
    tmp_path: Path, instance, make_defs
) -> None:
    """Issue 23 defect 15: a killed retraining run stayed STARTED and the sensor said "still in
    flight" for ever (no run monitoring on the embedded instance)."""
    from docasset.defs.recovery import process_tags

    wd = Workdir(tmp_path)
    defs = make_defs(tmp_path, retrain={"min_corrections": 1})
    _store_corrections(wd, TRAINED[:2], "c1.jsonl")
    job = defs.resolve_job_def("retrain_job")
    fired = retrain_sensor(_ctx(instance, defs))
    [req] = fired.run_requests
    tags = {**req.tags, "dagster/run_key": req.run_key}
    alive = instance.create_run_for_job(
        job, tags={**tags, **process_tags()}, status=dg.DagsterRunStatus.STARTED
    )
    res = retrain_sensor(_ctx(instance, defs, fired.cursor))  # this process runs it: alive
    assert not res.run_requests and "still in flight" in res.skip_reason.skip_message
    instance.report_run_failed(alive)
    dead = instance.create_run_for_job(
        job, tags={**tags, **_dead_process_tags()}, status=dg.DagsterRunStatus.STARTED
    )
    [again] = retrain_sensor(_ctx(instance, defs, fired.cursor)).run_requests
    assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
    assert again.run_key == f"{req.run_key}-dead1"
    assert "docasset/pid" not in again.tags and again.tags["docasset/new_promoted"] == "2"
    # The rerun died too: bounded (settings.retrain.dead_run_retries, 1 by default).
    rerun = instance.create_run_for_job(
        job,
        tags={**again.tags, "dagster/run_key": again.run_key, **_dead_process_tags()},
        status=dg.DagsterRunStatus.STARTED,
    )
    res = retrain_sensor(_ctx(instance, defs, fired.cursor))
    assert not res.run_requests and "waiting for" in res.skip_reason.skip_message
    assert instance.get_run_by_id(rerun.run_id).status == dg.DagsterRunStatus.FAILURE


def test_corrections_sensor_reruns_an_import_that_failed_after_archiving(
    tmp_path: Path, instance, make_defs
) -> None:
    """Issue 23 defect 16: a corrections run that failed after archiving its file (disk full
    mid-run) left the inbox empty, so nothing ever ran it again: promotion status stale."""
    wd = Workdir(tmp_path)
    defs = make_defs(tmp_path, corrections={"import_retries": 1})
    job = defs.resolve_job_def("corrections_job")
    assert corrections_sensor(_ctx(instance, defs)).skip_reason is not None  # never ran
    ok = instance.create_run_for_job(job, status=dg.DagsterRunStatus.SUCCESS)
    assert "inbox is empty" in corrections_sensor(_ctx(instance, defs)).skip_reason.skip_message
    failed = instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED)
    instance.report_run_failed(failed)  # its file is archived already: the inbox is empty
    assert not list(wd.corrections_inbox.iterdir())
    [req] = corrections_sensor(_ctx(instance, defs)).run_requests
    assert req.run_key == f"corrections-rerun-{failed.run_id}"
    # A killed one (its process gone) is reaped, then rerun the same way.
    dead = instance.create_run_for_job(
        job, tags=_dead_process_tags(), status=dg.DagsterRunStatus.STARTED
    )
    res = corrections_sensor(_ctx(instance, defs))
    assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
    # Two failures in a row > import_retries=1: given up, with where to look.
    assert not res.run_requests and "last 2 import runs failed" in res.skip_reason.skip_message
    assert ok.run_id not in res.skip_reason.skip_message


def test_corrections_sensor_reaps_a_killed_import_of_the_inbox(
    tmp_path: Path, instance, make_defs
) -> None:
    """Issue 23 defect 15: a killed import run stayed in flight and blocked its inbox state."""
    wd = Workdir(tmp_path)
    defs = make_defs(tmp_path)
    (wd.corrections_inbox / "a.jsonl").write_text("{}\n")
    [req] = corrections_sensor(_ctx(instance, defs)).run_requests
    job = defs.resolve_job_def("corrections_job")
    instance.create_run_for_job(
        job, tags={**req.tags, **_dead_process_tags()}, status=dg.DagsterRunStatus.STARTED
    )
    [retry] = corrections_sensor(_ctx(instance, defs)).run_requests
    assert retry.run_key == f"{req.run_key}-retry1"


def test_inbox_sensor_retries_failed_and_dead_batches_then_gives_up(
    tmp_path: Path, instance, make_defs
) -> None:
    """Issue 23 defect 1: only batches with no run at all were ever requested again."""
    wd = Workdir(tmp_path)
    defs = make_defs(tmp_path, inbox={"ingest_retries": 1})
    Image.new("L", (50, 50), 255).save(wd.inbox / "s.png")
    [req] = inbox_sensor(_ctx(instance, defs)).run_requests
    b = req.partition_key
    instance.add_dynamic_partitions("batches", [b])
    job = defs.resolve_job_def("ingest_job")
    part = {"dagster/partition": b}
    instance.create_run_for_job(
        job, tags={**part, **_dead_process_tags()}, status=dg.DagsterRunStatus.STARTED
    )
    [retry] = inbox_sensor(_ctx(instance, defs)).run_requests  # dead: reaped, retried
    assert (retry.partition_key, retry.run_key) == (b, f"{b}-retry1")
    again = instance.create_run_for_job(job, tags=part, status=dg.DagsterRunStatus.STARTED)
    assert not inbox_sensor(_ctx(instance, defs)).run_requests  # alive (no record): waits
    instance.report_run_failed(again)
    res = inbox_sensor(_ctx(instance, defs))  # 2 failures > ingest_retries=1: given up
    assert not res.run_requests and "held or given up" in res.skip_reason.skip_message
    instance.create_run_for_job(job, tags=part, status=dg.DagsterRunStatus.SUCCESS)
    assert "held or given up" not in inbox_sensor(_ctx(instance, defs)).skip_reason.skip_message
    from docasset.core.recovery import pending_batches

    assert pending_batches(wd) == []
