"""Sensors: inbox -> batch runs; corrections inbox -> import runs; enough newly promoted
corrections -> retrain."""

from __future__ import annotations

import hashlib
import json
import os

import dagster as dg

from docasset.core.files import name_hex
from docasset.core.intake.inbox import claim, scan_inbox, settled
from docasset.core.training.curate import new_promotions, trained_ids
from docasset.core.validation.corrections import read_store
from docasset.defs.jobs import corrections_job, ingest_job, retrain_job
from docasset.defs.partitions import batches
from docasset.defs.recovery import PROCESS_TAGS, plan_batches, reap
from docasset.defs.resources import DocassetHome, ModelRegistry
from docasset.defs.settings import Settings

STATE_TAG = "docasset/corrections_state"
RETRY_TAG = "docasset/dead_run_retry"


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New inbox entries, once settled (unchanged across two ticks, "
    "settings.inbox.settle_seconds old, not open for writing) -> claimed into a new batch "
    "partition (moved out of the inbox) and an intake run; every earlier batch without a "
    "successful run is requested again (never run, failed, or died with its process: up to "
    "settings.inbox.ingest_retries times; held batches wait for `docasset release`).",
)
def inbox_sensor(context, home: DocassetHome, settings: Settings) -> dg.SensorResult:
    wd = home.workdir()
    cfg = settings.inbox_config()
    previous = json.loads(context.cursor).get("seen", {}) if context.cursor else {}
    entries = scan_inbox(wd)
    claimed = claim(wd, settled(entries, previous, cfg.settle_seconds), cfg.batch_max_files)
    new = [c.batch_id for c in claimed]
    plans = plan_batches(context.instance, wd, cfg, skip=frozenset(new))
    again = {p.batch_id: p.run_key for p in plans if p.step.action == "run"}
    stuck = [p for p in plans if p.step.action in ("held", "give_up")]
    taken = {e["source_name_hex"] or e["source_name"] for c in claimed for e in c.entries}
    waiting = [e for e in entries if (name_hex(e.name) or e.display) not in taken]
    cursor = json.dumps({"seen": {e.key: e.observation for e in waiting}})
    keys = new + list(again)
    if not keys:
        why = f"{len(waiting)} inbox entries settling" if waiting else "inbox is empty"
        if stuck:
            why += f"; {len(stuck)} batch(es) held or given up (see `docasset status`)"
        return dg.SensorResult(skip_reason=why, cursor=cursor)
    sizes = {c.batch_id: len(c.entries) for c in claimed}
    requests = [
        dg.RunRequest(
            run_key=again.get(b, b),
            partition_key=b,
            tags={"docasset/files": str(sizes.get(b, "?"))},
        )
        for b in keys
    ]
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[batches.build_add_request(keys)],
        cursor=cursor,
    )


def corrections_state(wd) -> str | None:
    """A digest of what the corrections inbox holds (names, sizes, mtimes); None: empty."""
    parts = []
    inbox = os.fsencode(wd.corrections_inbox)
    for raw in sorted(os.listdir(inbox)):
        if raw.startswith(b"."):
            continue
        try:
            st = os.lstat(os.path.join(inbox, raw))
        except FileNotFoundError:
            continue
        parts.append(f"{raw.hex()}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16] if parts else None


@dg.sensor(
    job=corrections_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Entries in the corrections inbox -> an import run per inbox state (the run "
    "moves every entry out: archived, or rejected with reasons); a failed run of the same "
    "state is retried up to settings.corrections.import_retries times.",
)
def corrections_sensor(context, home: DocassetHome, settings: Settings) -> dg.SensorResult:
    wd = home.workdir()
    grace = settings.inbox_config().dead_run_seconds
    retries = settings.corrections_config().import_retries
    state = corrections_state(wd)
    if state is None:
        return _rerun_failed_import(context, wd, grace, retries)
    runs = reap(
        context.instance,
        wd,
        context.instance.get_runs(
            filters=dg.RunsFilter(job_name=corrections_job.name, tags={STATE_TAG: state})
        ),
        grace,
    )
    if any(r.status in IN_FLIGHT for r in runs):
        return dg.SensorResult(skip_reason=f"an import run of inbox state {state} is in flight")
    # The daemon launches a run key once: a run that failed (disk, instance) is retried under a
    # new key, so files that were waiting are not left in the inbox forever.
    failed = sum(r.status == dg.DagsterRunStatus.FAILURE for r in runs)
    if failed > retries:
        return dg.SensorResult(
            skip_reason=f"import of inbox state {state} failed {failed} times; see those runs"
        )
    key = f"corrections-{state}" + (f"-retry{failed}" if failed else "")
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=key, tags={STATE_TAG: state})])


def _rerun_failed_import(context, wd, grace: float, retries: int) -> dg.SensorResult:
    """Inbox empty: when the last import runs failed (or died) after archiving their files,
    the store holds corrections that ``promotion_status`` (and the correction memory) never
    saw; run the job again (it imports nothing new and recomputes), up to ``retries`` times
    in a row."""
    recent = reap(
        context.instance,
        wd,
        list(
            context.instance.get_runs(
                filters=dg.RunsFilter(job_name=corrections_job.name), limit=retries + 2
            )
        ),
        grace,
    )
    if not recent or recent[0].status != dg.DagsterRunStatus.FAILURE:
        busy = bool(recent) and recent[0].status in IN_FLIGHT
        why = "an import run is in flight" if busy else "corrections inbox is empty"
        return dg.SensorResult(skip_reason=why)
    failed = 0
    for r in recent:  # newest first: the failures since the last run that did not fail
        if r.status != dg.DagsterRunStatus.FAILURE:
            break
        failed += 1
    if failed > retries:
        return dg.SensorResult(
            skip_reason=f"the last {failed} import runs failed (last {recent[0].run_id}); "
            "see those runs and `docasset status`"
        )
    key = f"corrections-rerun-{recent[0].run_id}"
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=key, tags={STATE_TAG: "rerun"})])


def _rerun_dead(run: dg.DagsterRun) -> dg.RunRequest:
    """The same retraining run again (its docasset tags, a new run key), for a dead one."""
    n = int(run.tags.get(RETRY_TAG, "0")) + 1
    base = run.tags.get("dagster/run_key", f"retrain-{run.run_id}").split("-dead")[0]
    tags = {
        k: v for k, v in run.tags.items() if k.startswith("docasset/") and k not in PROCESS_TAGS
    }
    return dg.RunRequest(run_key=f"{base}-dead{n}", tags={**tags, RETRY_TAG: str(n)})


def _stored_value(context, asset: str, default: dict) -> dict:
    """The last materialized value of an asset (through its IO manager), ``default`` when it
    was never materialized."""
    key = dg.AssetKey(asset)
    if context.instance.get_latest_materialization_event(key) is None:
        return default
    return context.repository_def.load_asset_value(key, instance=context.instance)


IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dg.sensor(
    job=retrain_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches retraining once settings.retrain.min_corrections corrections were "
    "newly promoted (train/dev) since the training set of the production model (from the "
    "registry, so a restart or a lost cursor changes nothing); the cursor remembers the count it "
    "fired at, run keys are derived from the state, and no run starts while one is in flight.",
)
def retrain_sensor(
    context, home: DocassetHome, registry: ModelRegistry, settings: Settings
) -> dg.SensorResult:
    wd = home.workdir()
    prod = registry.store().resolve("production")
    baseline = prod.version if prod else "none"
    trained = trained_ids(prod.info, wd.curated / "sets", "correction_ids") if prod else None
    new = new_promotions(
        read_store(wd.corrections_store),
        _stored_value(context, "promotion_status", {}),
        trained or set(),
        settings.split_config(),
    )
    last = json.loads(context.cursor) if context.cursor else {}
    # A new production model is a new baseline: its training set already holds what we fired at.
    fired_at = int(last.get("fired_at", 0)) if last.get("baseline") == baseline else 0
    state = {"baseline": baseline, "fired_at": fired_at, "new": len(new)}
    cfg = settings.retrain_config()
    in_flight = context.instance.get_runs(
        filters=dg.RunsFilter(job_name=retrain_job.name, statuses=IN_FLIGHT)
    )
    # A run whose process is gone (the embedded instance has no run monitoring) is reported
    # failed, so it never blocks this sensor; a crash is not a verdict: it is run again.
    grace = settings.inbox_config().dead_run_seconds
    reaped = reap(context.instance, wd, list(in_flight), grace)
    running = [r for r in reaped if r.status in IN_FLIGHT]
    if running:
        return dg.SensorResult(
            skip_reason=f"retraining run {running[0].run_id} is still in flight",
            cursor=json.dumps(state),
        )
    dead = [r for r in reaped if r.status == dg.DagsterRunStatus.FAILURE]
    again = [r for r in dead if int(r.tags.get(RETRY_TAG, "0")) < cfg.dead_run_retries]
    if again:
        return dg.SensorResult(run_requests=[_rerun_dead(again[0])], cursor=context.cursor)
    need = fired_at + cfg.min_corrections
    if len(new) < need:
        return dg.SensorResult(
            skip_reason=f"{len(new)} newly promoted corrections since the training set of "
            f"production model {baseline}, waiting for {need}",
            cursor=json.dumps(state),
        )
    digest = hashlib.sha256("\n".join(new).encode()).hexdigest()[:12]
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"retrain-{baseline}-{len(new)}-{digest}",
                tags={"docasset/baseline": baseline, "docasset/new_promoted": str(len(new))},
            )
        ],
        cursor=json.dumps({**state, "fired_at": len(new)}),
    )
