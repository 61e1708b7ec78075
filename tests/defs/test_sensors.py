"""Sensors evaluated with build_sensor_context on real files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from PIL import Image

from docasset.core.corrections import import_file
from docasset.core.fields import load_doctype
from docasset.core.intake import Workdir
from docasset.defs.sensors import corrections_sensor, inbox_sensor, retrain_sensor


def _ctx(instance, defs, cursor=None):
    return dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources=dict(defs.resources),
        instance_ref=instance.get_ref(),
    )


def test_inbox_sensor_claims_each_file_once_in_bounded_batches(
    tmp_path: Path, instance, make_defs
) -> None:
    wd = Workdir(tmp_path)
    defs = make_defs(tmp_path, batch_max_files=2)
    assert inbox_sensor(_ctx(instance, defs)).skip_reason is not None
    for i in range(5):
        Image.new("L", (50 + i, 50), 255).save(wd.inbox / f"s{i}.png")
    res = inbox_sensor(_ctx(instance, defs))
    assert len(res.run_requests) == 3
    keys = [r.partition_key for r in res.run_requests]
    assert len(set(keys)) == 3 and [r.run_key for r in res.run_requests] == keys
    [add] = res.dynamic_partitions_requests
    assert list(add.partition_keys) == keys
    manifests = [json.loads((wd.batches / f"{k}.json").read_text())["files"] for k in keys]
    assert sorted(f for m in manifests for f in m) == [f"s{i}.png" for i in range(5)]
    # The next tick sees nothing new: the files are claimed, not lost (still in the inbox).
    assert inbox_sensor(_ctx(instance, defs)).skip_reason is not None
    assert len(list(wd.inbox.iterdir())) == 5


def test_inbox_sensor_waits_for_files_to_settle(tmp_path: Path, instance, make_defs) -> None:
    wd = Workdir(tmp_path)
    defs = make_defs(tmp_path, inbox_settle_seconds=3600.0)
    Image.new("L", (50, 50), 255).save(wd.inbox / "being-copied.png")
    assert inbox_sensor(_ctx(instance, defs)).skip_reason is not None


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


def _store_corrections(wd: Workdir, ids: list[str], name: str) -> None:
    f = wd.root / name
    stamp = datetime.now(UTC).isoformat()
    f.write_text(
        "".join(
            json.dumps(
                {"doc_id": i, "fields": {"total": "1.00"}, "annotator": "a", "timestamp": stamp}
            )
            + "\n"
            for i in ids
        )
    )
    import_file(f, wd.corrections_store, load_doctype("receipt"), set(ids))


def test_retrain_sensor_fires_at_n_and_never_twice(tmp_path: Path, instance, make_defs) -> None:
    wd = Workdir(tmp_path)
    defs = make_defs(tmp_path, retrain_min_corrections=3)
    _store_corrections(wd, ["d1", "d2"], "c1.jsonl")
    assert retrain_sensor(_ctx(instance, defs)).skip_reason is not None
    _store_corrections(wd, ["d3"], "c2.jsonl")
    res = retrain_sensor(_ctx(instance, defs))
    [req] = res.run_requests
    assert req.run_key == "retrain-at-3"
    # Same state, advanced cursor: no second run.
    again = retrain_sensor(_ctx(instance, defs, res.cursor))
    assert not again.run_requests
    _store_corrections(wd, ["d4", "d5"], "c3.jsonl")
    assert not retrain_sensor(_ctx(instance, defs, res.cursor)).run_requests
    _store_corrections(wd, ["d6"], "c4.jsonl")
    assert (
        retrain_sensor(_ctx(instance, defs, res.cursor)).run_requests[0].run_key == "retrain-at-6"
    )


def test_schedules_target_the_days_health_partition_and_weekly_retrain() -> None:
    from docasset.definitions import defs

    daily = defs.resolve_schedule_def("health_job_schedule")
    ctx = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 24, 23, 55, tzinfo=UTC)
    )
    [req] = daily.evaluate_tick(ctx).run_requests
    assert req.partition_key == "2026-11-24"
    weekly = defs.resolve_schedule_def("weekly_retrain")
    assert weekly.cron_schedule == "0 3 * * 1" and weekly.job_name == "retrain_job"
