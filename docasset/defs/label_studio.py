"""Label Studio: the ``LabelStudio`` resource, ``label_studio_tasks`` (each batch's review
documents pushed as tasks, one per document), ``label_studio_sensor`` (new and updated
annotations pulled by cursor into the corrections inbox, and the import run requested, with
the same all-or-nothing validation as any corrections file; an annotation that validation
refuses is sent back to its task in Label Studio with the reasons) and
``label_studio_rejections`` (a non-blocking check on ``corrections`` counting the refused
annotations not fixed yet)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg
import pandera.polars as pa
import polars as pl
from pydantic import Field

from docasset.core.extraction.fields import DocType
from docasset.core.files import atomic_write, clean_text
from docasset.core.intake.ledger import known_doc_ids
from docasset.core.recovery import clear_pending
from docasset.core.validation.ls_annotations import pulled_file
from docasset.core.validation.ls_client import LabelStudioClient, parse_time
from docasset.core.validation.ls_config import LabelStudioConfig, labelling_config
from docasset.core.validation.ls_review import RejectionLedger, flagged_data, review_pulled
from docasset.core.validation.ls_tasks import (
    HIDDEN_DATA,
    VIEW_TITLE,
    batch_tasks,
    served_dirs,
    write_task_files,
)
from docasset.core.workdir import Workdir
from docasset.defs.jobs import corrections_job
from docasset.defs.partitions import batches
from docasset.defs.resources import DocassetHome
from docasset.defs.sensors import STATE_TAG, corrections_state
from docasset.defs.settings import Settings
from docasset.defs.validation import review_dir

URL_ENV, TOKEN_ENV = "DOCASSET_LABEL_STUDIO_URL", "DOCASSET_LABEL_STUDIO_TOKEN"
ROOT_ENV = "DOCASSET_LABEL_STUDIO_DOCUMENT_ROOT"
PUSHED_SCHEMA = pa.DataFrameSchema(
    {
        "doc_id": pa.Column(pl.Utf8, nullable=False, unique=True),
        "project_id": pa.Column(pl.Int64, nullable=False),
        "task_id": pa.Column(pl.Int64, nullable=False),
        "action": pa.Column(pl.Utf8, pa.Check.isin(["created", "updated", "unchanged"])),
    },
    strict=True,
)
PUSHED_COLUMNS = {"doc_id": pl.Utf8, "project_id": pl.Int64, "task_id": pl.Int64, "action": pl.Utf8}


class LabelStudio(dg.ConfigurableResource):
    """The Label Studio server operators validate in (empty ``url``: not configured; the
    review tasks are then only written as files for offline import)."""

    url: str = Field(
        default="", description=f"Base URL, e.g. http://127.0.0.1:8080 (env {URL_ENV})."
    )
    token: str = Field(
        default="",
        description=f"Personal Access Token (or legacy token); empty: read env {TOKEN_ENV} "
        "when used, so it never shows in run config.",
    )
    project_title: str = Field(
        default="docasset review", description="The project review tasks go to."
    )
    document_root: str = Field(
        default="",
        description="Label Studio's LOCAL_FILES_DOCUMENT_ROOT as a path here; empty: "
        f"docasset's home (what `./run.sh labelstudio` starts it with; env {ROOT_ENV}).",
    )

    @classmethod
    def from_env(cls) -> LabelStudio:
        """Configured through ``dg.EnvVar`` from ``DOCASSET_LABEL_STUDIO_URL`` and
        ``DOCASSET_LABEL_STUDIO_TOKEN`` (their values are resolved when a run or a tick
        starts, and never show in run config) when the URL variable is set; not configured
        otherwise. ``DOCASSET_LABEL_STUDIO_DOCUMENT_ROOT`` (a path, not a secret) sets
        ``document_root``."""
        if not os.environ.get(URL_ENV):
            return cls()
        token = dg.EnvVar(TOKEN_ENV) if os.environ.get(TOKEN_ENV) else ""
        root = os.environ.get(ROOT_ENV, "")
        return cls(url=dg.EnvVar(URL_ENV), token=token, document_root=root)

    def configured(self) -> bool:
        return bool(self.url)

    def client(self) -> LabelStudioClient:
        if self.token:
            return LabelStudioClient(self.url, self.token, "resources.label_studio.config.token")
        return LabelStudioClient(
            self.url,
            os.environ.get(TOKEN_ENV, ""),
            f"the environment variable {TOKEN_ENV} (or resources.label_studio.config.token)",
        )

    def root(self, home: Path) -> Path:
        return Path(self.document_root) if self.document_root else home


def _push(
    client: LabelStudioClient,
    title: str,
    wd: Workdir,
    doctype: DocType,
    tasks: list[dict[str, Any]],
    cfg: LabelStudioConfig,
) -> tuple[pl.DataFrame, int]:
    """Push the tasks into the project (created or updated with the config and the served
    image folders); one row per pushed document, and the project id."""
    project = client.ensure_project(title, labelling_config(doctype), cfg.annotations_per_task)
    client.ensure_local_storage(project, served_dirs(wd))
    client.ensure_view(project, VIEW_TITLE, list(HIDDEN_DATA))
    pushed = client.push(project, tasks, cfg.page_size)
    rows = [{"project_id": project, **p.__dict__} for p in pushed]
    return pl.DataFrame(rows, schema=PUSHED_COLUMNS), project


@dg.asset(
    partitions_def=batches,
    io_manager_key="frames_io",
    group_name="validation",
    kinds={"labelstudio", "polars"},
    description="The batch's review queue as Label Studio tasks, one per document keyed by "
    "doc_id: the page images (served by Label Studio's local-files storage from docasset's own "
    "store) with the predicted values as pre-annotated boxes. Written for offline import "
    "(`review/<batch>/label-studio-tasks.json` + `label-studio-config.xml`) and, when "
    "resources.label_studio is configured, pushed into its project: a re-run updates the tasks "
    "whose content changed, never duplicates. One row per pushed document.",
)
def label_studio_tasks(
    context,
    review_queue: pl.DataFrame,
    raw_scans: pl.DataFrame,
    ocr_text: pl.DataFrame,
    home: DocassetHome,
    settings: Settings,
    label_studio: LabelStudio,
) -> pl.DataFrame:
    wd = home.workdir()
    cfg = settings.label_studio_config()
    doctype = settings.doctype()
    tasks, skipped = batch_tasks(
        wd,
        label_studio.root(wd.root),
        doctype,
        review_queue,
        raw_scans,
        ocr_text,
        context.partition_key,
        settings.intake_limits(),
        cfg,
    )
    for doc_id, why in skipped.items():
        context.log.error(f"no Label Studio task for {doc_id}: {why}")
    rejected = RejectionLedger(wd.corrections_inbox.parent).open()
    for task in tasks:  # a re-push keeps an open rejection in view
        if (rej := rejected.get(task["data"]["doc_id"])) is not None:
            task["data"] = flagged_data(task["data"], rej)
    tasks_file = write_task_files(review_dir(wd.root, context.partition_key), tasks, doctype)
    meta: dict[str, object] = {
        "tasks": len(tasks),
        "without_task": dg.MetadataValue.json(skipped),
        "tasks_file": dg.MetadataValue.path(str(tasks_file)),
    }
    if not label_studio.configured():
        context.add_output_metadata(
            {**meta, "pushed": 0, "label_studio": f"not configured ({URL_ENV} unset)"}
        )
        # The batch's last step is done: recovery no longer needs to resume it, whichever
        # Dagster instance (or none) later looks at this home.
        clear_pending(wd, context.partition_key)
        return PUSHED_SCHEMA.validate(pl.DataFrame(schema=PUSHED_COLUMNS))
    client = label_studio.client()
    frame, project = _push(client, label_studio.project_title, wd, doctype, tasks, cfg)
    clear_pending(wd, context.partition_key)  # as above: the batch's work is complete
    actions = {a: int((frame["action"] == a).sum()) for a in ("created", "updated", "unchanged")}
    context.add_output_metadata(
        {
            **meta,
            "pushed": frame.height,
            **actions,
            "project": dg.MetadataValue.url(f"{client.url}/projects/{project}"),
            "dagster/row_count": frame.height,
        }
    )
    return PUSHED_SCHEMA.validate(frame)


LABEL_STUDIO_ANNOTATIONS = "label_studio_annotations"
label_studio_annotations = dg.AssetSpec(
    LABEL_STUDIO_ANNOTATIONS,
    deps=[dg.AssetDep("label_studio_tasks", partition_mapping=dg.AllPartitionMapping())],
    group_name="validation",
    kinds={"labelstudio"},
    description="The operators' annotations in the Label Studio project (outside Dagster): "
    "the review tasks go in, label_studio_sensor records a materialization each time it pulls "
    "new or updated annotations into the corrections inbox, and requests the corrections "
    "import that stores them.",
)


@dg.sensor(
    job=corrections_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Pulls new and updated annotations of the Label Studio project (cursor: the "
    "latest annotation updated_at seen) into the corrections inbox as Label Studio JSON "
    "exports, one file per document, annotators resolved to their emails; checks each with "
    "the import's rules and sends a refused one back to its task (shown to the operator, "
    "counted by the label_studio_rejections check); records a "
    "materialization of label_studio_annotations and requests the corrections import "
    "(all or nothing, like any corrections file; keyed by the inbox state, so "
    "corrections_sensor does not import the same files twice).",
)
def label_studio_sensor(
    context, home: DocassetHome, settings: Settings, label_studio: LabelStudio
) -> dg.SensorResult:
    if not label_studio.configured():
        return dg.SensorResult(skip_reason=f"Label Studio is not configured ({URL_ENV} unset)")
    client = label_studio.client()
    project = client.find_project(label_studio.project_title)
    if project is None:
        return dg.SensorResult(
            skip_reason=f"no Label Studio project {label_studio.project_title!r} yet "
            "(label_studio_tasks creates it with the first review batch)"
        )
    last = json.loads(context.cursor) if context.cursor else {}
    if last.get("project") != project:  # another project (recreated): everything is new
        last = {}
    after = parse_time(last["updated_at"]) if last.get("updated_at") else None
    tasks = client.annotated_since(
        project, after, set(last.get("seen", [])), settings.label_studio_config().page_size
    )
    if not tasks:
        return dg.SensorResult(
            skip_reason=f"no annotation updated after {last.get('updated_at') or 'the start'}"
        )
    wd = home.workdir()
    inbox = wd.corrections_inbox
    odd = []
    for task in tasks:
        name, problem = pulled_file(project, task)
        if problem:  # written anyway: the import rejects it with the reason, the rest goes on
            odd.append(f"task {clean_text(task.get('id'))}: {problem}")
            context.log.warning(f"Label Studio task {clean_text(task.get('id'))}: {problem}")
        atomic_write(
            inbox / name, json.dumps([task], indent=1, sort_keys=True, ensure_ascii=False).encode()
        )
    # Checked now, with the import's own rules: a refused annotation goes back to its task.
    ledger = RejectionLedger(inbox.parent)
    was_open = ledger.open()
    rejected, passed = review_pulled(
        tasks, settings.doctype(), known_doc_ids(wd), settings.corrections_config()
    )
    fixed = [d for d in passed if d in was_open]
    ledger.update(rejected, fixed)
    by_doc = {str(t["data"].get("doc_id")): t for t in tasks}
    for rej in rejected:
        client.flag(rej.task_id, flagged_data(by_doc[rej.doc_id]["data"], rej), reopen=True)
        context.log.warning(
            f"annotation {rej.annotation_id} of {rej.doc_id} by {rej.annotator} refused: "
            f"{'; '.join(rej.reasons)}"
        )
    for doc in fixed:
        task = by_doc[doc]
        client.flag(int(task["id"]), flagged_data(task["data"], None), reopen=False)
    anns = [a for t in tasks for a in t["annotations"]]
    newest = max(parse_time(a["updated_at"]) for a in anns)
    seen = sorted(int(a["id"]) for a in anns if parse_time(a["updated_at"]) == newest)
    if after is not None and newest == after:
        seen = sorted(set(seen) | set(last.get("seen", [])))
    cursor = {"project": project, "updated_at": newest.isoformat(), "seen": seen}
    refused = f"; {len(rejected)} refused and sent back to Label Studio" if rejected else ""
    pulled = f"pulled {len(anns)} annotation(s) of {len(tasks)} document(s)"
    context.log.info(f"{pulled} into corrections/inbox{refused}")
    state = corrections_state(home.workdir())
    requests = []
    if state is not None:  # (None: another process emptied the inbox meanwhile)
        requests.append(
            dg.RunRequest(
                run_key=f"corrections-{state}",
                tags={STATE_TAG: state, "docasset/trigger": "label_studio_sensor"},
            )
        )
    return dg.SensorResult(
        run_requests=requests,
        asset_events=[
            dg.AssetMaterialization(
                LABEL_STUDIO_ANNOTATIONS,
                description=pulled + refused,
                metadata={
                    "annotations": len(anns),
                    "documents": len(tasks),
                    "refused": len(rejected),
                    "newest_update": newest.isoformat(),
                    # Tasks whose doc id is not one of ours: written under a safe name, the
                    # import rejects them with the reason; the others are not held up.
                    "odd_tasks": len(odd),
                    "odd": dg.MetadataValue.json(odd[:50]),
                    "project": dg.MetadataValue.url(f"{client.url}/projects/{project}"),
                },
            )
        ],
        cursor=json.dumps(cursor),
    )


@dg.asset_check(
    asset="corrections",
    blocking=False,
    description="Label Studio annotations refused when pulled (a value that does not suit its "
    "field, two boxes for one value, a relabel slip, ...) and not fixed yet: each is shown "
    "back on its task in Label Studio with the reasons; the check fails (WARN) until the "
    "operator updates the annotation and the update passes.",
)
def label_studio_rejections(home: DocassetHome) -> dg.AssetCheckResult:
    open_ = RejectionLedger(home.workdir().corrections_inbox.parent).open()
    return dg.AssetCheckResult(
        passed=not open_,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "open_rejections": len(open_),
            "rejections": dg.MetadataValue.json(
                {
                    d: {"task": r.task_id, "annotator": r.annotator, "reasons": list(r.reasons)}
                    for d, r in sorted(open_.items())[:50]
                }
            ),
        },
        description=(
            "no refused annotation open"
            if not open_
            else f"{len(open_)} refused annotation(s) wait for the operator's fix in Label "
            "Studio (shown on the task as REJECTED)"
        ),
    )
