"""A Label Studio server through ``label-studio-sdk``: the project, image serving, tasks keyed
by ``doc_id`` (pushed idempotently) and annotations pulled by cursor.

Tokens: a Personal Access Token (a JWT; the SDK exchanges it for short-lived access tokens)
or, where the organization enabled them, a legacy token. A 401 raises
:class:`~docasset.errors.LabelStudioAuthError` naming the setting to fix; any other refusal or
an unreachable server raises :class:`~docasset.errors.LabelStudioError`.

The SDK is imported when a client is made (importing it takes seconds).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import httpx

from docasset.errors import LabelStudioAuthError, LabelStudioError

if TYPE_CHECKING:
    from label_studio_sdk.client import LabelStudio as Sdk

T = TypeVar("T")
NEVER_SYNC = "(?!)"  # a storage regex matching no file: serving works, "Sync" imports nothing
LS_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"
# The columns Label Studio's own default tab hides (internal ids, raw results, timestamps).
LS_HIDDEN = [
    f"tasks:{c}"
    for c in (
        "inner_id",
        "annotations_results",
        "annotations_ids",
        "predictions_score",
        "predictions_model_versions",
        "predictions_results",
        "file_upload",
        "storage_filename",
        "created_at",
        "updated_at",
        "updated_by",
        "avg_lead_time",
        "draft_exists",
    )
]  # the only format Label Studio's task filters parse


@dataclass(frozen=True)
class Pushed:
    """What pushing one document did: ``created``, ``updated`` or ``unchanged``."""

    doc_id: str
    task_id: int
    action: str


def _canon(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def parse_time(value: object) -> datetime:
    """A Label Studio timestamp (ISO 8601, or a datetime the SDK parsed) as a datetime."""
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class LabelStudioClient:
    """One Label Studio server, as the user whose token is given.

    ``token_setting`` names where the token comes from, for the 401 message."""

    def __init__(self, url: str, token: str, token_setting: str, timeout: float = 60.0) -> None:
        from label_studio_sdk.client import LabelStudio

        if not token:
            raise LabelStudioAuthError(
                f"no Label Studio token: set {token_setting} to a Personal Access Token "
                "(Label Studio: Account & Settings -> Personal Access Token)"
            )
        self.url = url.rstrip("/")
        self.token_setting = token_setting
        self._sdk: Sdk = LabelStudio(base_url=self.url, api_key=token, timeout=timeout)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        from label_studio_sdk.core.api_error import ApiError

        try:
            return fn()
        except ApiError as exc:
            if exc.status_code == 401:
                raise LabelStudioAuthError(
                    f"Label Studio at {self.url} refused the token (401) while trying to "
                    f"{what}: set {self.token_setting} to a valid Personal Access Token "
                    "(Account & Settings -> Personal Access Token), or to a legacy token if "
                    "the organization enabled them"
                ) from exc
            body = str(exc.body)
            body = body if len(body) <= 600 else body[:600] + " ..."
            raise LabelStudioError(
                f"Label Studio at {self.url} refused to {what} ({exc.status_code}): {body}"
            ) from exc
        except httpx.HTTPError as exc:
            raise LabelStudioError(
                f"cannot reach Label Studio at {self.url} to {what}: {exc}"
            ) from exc

    def whoami(self) -> str:
        """The email of the token's user (checks the URL and the token)."""
        return str(self._call("read the current user", lambda: self._sdk.users.whoami()).email)

    def emails(self) -> dict[int, str]:
        """User id -> email, for every user of the organization."""
        users = self._call("list users", lambda: self._sdk.users.list())
        return {int(u.id): str(u.email) for u in users if u.id is not None}

    # --- the project -----------------------------------------------------------------------

    def find_project(self, title: str) -> int | None:
        """The id of the project with this title (the oldest when several have it)."""
        found = self._call("list projects", lambda: list(self._sdk.projects.list(title=title)))
        ids = sorted(int(p.id) for p in found if p.title == title and p.id is not None)
        return ids[0] if ids else None

    def ensure_project(self, title: str, label_config: str, maximum_annotations: int) -> int:
        """The project with this title, created or brought to this config."""
        pid = self.find_project(title)
        if pid is None:
            made = self._call(
                "create the project",
                lambda: self._sdk.projects.create(
                    title=title, label_config=label_config, maximum_annotations=maximum_annotations
                ),
            )
            return int(made.id)
        current = self._call("read the project", lambda: self._sdk.projects.get(id=pid))
        if (current.label_config, current.maximum_annotations) != (
            label_config,
            maximum_annotations,
        ):
            self._call(
                "update the project's labelling config",
                lambda: self._sdk.projects.update(
                    id=pid, label_config=label_config, maximum_annotations=maximum_annotations
                ),
            )
        return pid

    def ensure_view(self, project: int, title: str, hidden: list[str]) -> None:
        """A data manager tab ``title`` hiding the task data keys ``hidden`` (raw page URLs,
        docasset's JSON), created once (an operator's later changes to it are kept)."""
        views = self._call(
            "list the data manager's tabs", lambda: self._sdk.views.list(project=project)
        )
        if any((v.data or {}).get("title") == title for v in views):
            return
        columns = [f"tasks:data.{k}" for k in hidden]
        data = {
            "title": title,
            "type": "list",
            "target": "tasks",
            "hiddenColumns": {"explore": columns + LS_HIDDEN, "labeling": columns + LS_HIDDEN},
        }
        made = self._call(
            "add a data manager tab",
            lambda: self._sdk.views.create(project=project, data=cast(Any, data)),
        )
        order = [int(made.id)] + [int(v.id) for v in views if v.id is not None]
        self._call(
            "put the docasset tab first",
            lambda: self._sdk.views.update_order(ids=order, project=project),
        )

    def ensure_local_storage(self, project: int, paths: Iterable[Path]) -> None:
        """Local-files storages serving these directories to the project (never synced: their
        regex matches no file, so tasks come only from docasset's push)."""
        existing = self._call(
            "list the project's local storages",
            lambda: self._sdk.import_storage.local.list(project=project),
        )
        have = {str(s.path) for s in existing}
        for path in paths:
            if str(path) in have:
                continue
            self._call(
                f"add local-files storage {path} (Label Studio serves files only under its "
                "LOCAL_FILES_DOCUMENT_ROOT: start it for this home with `docasset --home "
                f"{path.parent} labelstudio start` (or DOCASSET_HOME={path.parent} "
                "./run.sh labelstudio), or with --document-root a parent of every home)",
                lambda path=path: self._sdk.import_storage.local.create(  # type: ignore[misc]
                    project=project,
                    path=str(path),
                    title=f"docasset pages: {path.name}",
                    regex_filter=NEVER_SYNC,
                    use_blob_urls=True,
                ),
            )

    # --- tasks -----------------------------------------------------------------------------

    def tasks(self, project: int, page_size: int, query: dict[str, Any] | None = None) -> list:
        """The project's tasks (with annotations and predictions) as JSON objects."""

        def fetch() -> list:
            pager = self._sdk.tasks.list(
                project=project,
                fields="all",
                page_size=page_size,
                resolve_uri=False,
                query=json.dumps(query) if query else None,
            )
            return [t.model_dump(mode="json", warnings=False) for t in pager]

        return self._call("list the project's tasks", fetch)

    def push(self, project: int, tasks: list[dict[str, Any]], page_size: int) -> list[Pushed]:
        """Create or update one task per ``data.doc_id``: a new document is imported with its
        prediction; a known one gets its data and prediction replaced when they changed.
        Tasks a concurrent push duplicated are deleted (the oldest is kept) unless annotated."""
        by_doc: dict[str, list[dict[str, Any]]] = {}
        for t in self.tasks(project, page_size):
            by_doc.setdefault(str((t.get("data") or {}).get("doc_id")), []).append(t)
        for dups in by_doc.values():
            dups.sort(key=lambda t: int(t["id"]))
            for extra in dups[1:]:
                if not extra.get("annotations"):
                    self._delete_task(int(extra["id"]))
        out: list[Pushed] = []
        new = [t for t in tasks if t["data"]["doc_id"] not in by_doc]
        if new:
            self._call(
                f"import {len(new)} tasks",
                lambda: self._sdk.projects.import_tasks(
                    id=project, request=cast(Any, new), return_task_ids=True
                ),
            )
            fresh = {
                str(t["data"].get("doc_id")): int(t["id"]) for t in self.tasks(project, page_size)
            }
            out += [Pushed(t["data"]["doc_id"], fresh[t["data"]["doc_id"]], "created") for t in new]
        for t in tasks:
            if t["data"]["doc_id"] not in by_doc:
                continue
            have = by_doc[t["data"]["doc_id"]][0]
            out.append(Pushed(t["data"]["doc_id"], int(have["id"]), self._update(have, t)))
        return out

    def _update(self, have: dict[str, Any], want: dict[str, Any]) -> str:
        tid = int(have["id"])
        changed = False
        if _canon(have.get("data")) != _canon(want["data"]):
            self._call(
                "update a task", lambda: self._sdk.tasks.update(id=str(tid), data=want["data"])
            )
            changed = True
        old = [
            (p.get("model_version"), _canon(p.get("result"))) for p in have.get("predictions") or []
        ]
        new = [(p["model_version"], _canon(p["result"])) for p in want.get("predictions") or []]
        if sorted(old, key=str) != sorted(new, key=str):
            for p in have.get("predictions") or []:
                self._delete_prediction(int(p["id"]))
            for p in want.get("predictions") or []:
                self._add_prediction(tid, p)
            changed = True
        return "updated" if changed else "unchanged"

    def _delete_task(self, tid: int) -> None:
        self._call("delete a duplicate task", lambda: self._sdk.tasks.delete(id=str(tid)))

    def _delete_prediction(self, pid: int) -> None:
        self._call("replace a prediction", lambda: self._sdk.predictions.delete(id=pid))

    def _add_prediction(self, tid: int, pred: dict[str, Any]) -> None:
        self._call("add a prediction", lambda: self._sdk.predictions.create(task=tid, **pred))

    # --- annotations -----------------------------------------------------------------------

    def annotated_since(
        self, project: int, after: datetime | None, seen: set[int], page_size: int
    ) -> list[dict[str, Any]]:
        """Tasks holding annotations updated after ``after`` (or at it but not in ``seen``),
        each with only those annotations, ``completed_by`` resolved to ``{id, email}``, and the
        results of its predictions (what the annotation checks compare a box's label to).

        An annotation's update bumps its task's ``updated_at`` (to a later time), so
        filtering tasks on it finds every annotation changed since ``after``."""
        query = None
        if after is not None:
            item = {
                "filter": "filter:tasks:updated_at",
                "operator": "greater",
                "type": "Datetime",
                "value": after.strftime(LS_TIME),
            }
            query = {"filters": {"conjunction": "and", "items": [item]}}
        out = []
        emails: dict[int, str] | None = None
        for task in self.tasks(project, page_size, query):
            anns = []
            for a in task.get("annotations") or []:
                at = parse_time(a["updated_at"])
                if after is not None and (at < after or (at == after and int(a["id"]) in seen)):
                    continue
                if emails is None:
                    emails = self.emails()
                who = a.get("completed_by")
                if isinstance(who, int):
                    a = {**a, "completed_by": {"id": who, "email": emails.get(who)}}
                anns.append(a)
            if anns:
                preds = [{"result": p.get("result")} for p in task.get("predictions") or []]
                out.append(
                    {
                        "id": task["id"],
                        "data": task["data"],
                        "annotations": anns,
                        "predictions": preds,
                    }
                )
        return out

    def task(self, tid: int) -> dict[str, Any]:
        """One task as a JSON object."""
        got = self._call("read a task", lambda: self._sdk.tasks.get(id=str(tid)))
        return got.model_dump(mode="json", warnings=False)

    def flag(self, tid: int, data: dict[str, Any], reopen: bool) -> None:
        """Replace a task's data (a rejection shown or cleared); ``reopen``: mark it not
        labelled, so the data manager lists it among the tasks to do (Label Studio marks it
        labelled again when the annotation is updated)."""
        if reopen:
            self._call(
                "reopen a task",
                lambda: self._sdk.tasks.update(id=str(tid), data=data, is_labeled=False),
            )
        else:
            self._call("flag a task", lambda: self._sdk.tasks.update(id=str(tid), data=data))
