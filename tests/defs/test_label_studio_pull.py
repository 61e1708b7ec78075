"""One odd Label Studio task never stops a pull (issue 23 defect 3).

The pull against a real Label Studio is tested in ``tests/integration/test_label_studio.py``;
here the server is a stand-in that returns the tasks a hostile or buggy project would hold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg

from docasset.core.validation.ls_annotations import pulled_file
from docasset.core.workdir import Workdir
from docasset.defs.label_studio import LabelStudio, label_studio_sensor
from docasset.defs.resources import DocassetHome
from docasset.defs.settings import Settings


def _task(tid: int, doc_id: object, when: str) -> dict[str, Any]:
    ann = {"id": 100 + tid, "updated_at": when, "result": [], "completed_by": 1}
    return {"id": tid, "data": {"doc_id": doc_id}, "annotations": [ann]}


TASKS = [
    _task(1, "aaaa000000000001", "2026-11-24T10:00:00Z"),
    _task(2, "../../etc/passwd", "2026-11-24T10:00:01Z"),
    _task(3, "x" * 300, "2026-11-24T10:00:02Z"),
    _task(4, "aaaa000000000002", "2026-11-24T10:00:03Z"),
]


class _Server:
    url = "http://stand-in"

    def find_project(self, title: str) -> int:
        return 7

    def annotated_since(self, project: int, after: object, seen: object, page: int) -> list:
        return TASKS

    def flag(self, task_id: int, data: object, reopen: bool) -> None:
        """A refused annotation goes back to its task (recorded by the real client)."""


class _StandIn(LabelStudio):
    def client(self) -> Any:
        return _Server()


def test_tasks_with_a_slash_or_a_huge_doc_id_are_reported_and_the_others_pulled(
    tmp_path: Path,
) -> None:
    wd = Workdir(tmp_path / "work")
    context = dg.build_sensor_context(
        resources={
            "home": DocassetHome(root=str(wd.root)),
            "settings": Settings(),
            "label_studio": _StandIn(url="http://stand-in"),
        }
    )
    res = label_studio_sensor(context)
    # The cursor advanced past every task (before: the sensor failed on every tick).
    assert json.loads(res.cursor)["updated_at"].startswith("2026-11-24T10:00:03")
    files = sorted(p.name for p in wd.corrections_inbox.iterdir())
    assert len(files) == 4 and all(len(f.encode()) < 200 and "/" not in f for f in files)
    written = [json.loads((wd.corrections_inbox / f).read_text())[0]["id"] for f in files]
    assert sorted(written) == [1, 2, 3, 4]  # the odd ones too: the import rejects them, saying why
    [event] = res.asset_events  # the pull is recorded, the odd tasks with it
    assert event.metadata["odd_tasks"].value == 2
    odd = event.metadata["odd"].value
    assert [o.split(":")[0] for o in odd] == ["task 2", "task 3"]
    assert len(res.run_requests) == 1  # the import of what was pulled is requested
    assert not list(tmp_path.glob("etc*")) and not (tmp_path / "etc").exists()


def test_pulled_file_names_are_safe_for_any_task() -> None:
    good, problem = pulled_file(7, TASKS[0])
    assert problem is None and good.startswith("label-studio-p7-aaaa000000000001-")
    for task in (TASKS[1], TASKS[2], {"id": 9}, {"data": "nope"}, [1, 2]):
        name, problem = pulled_file(7, task)
        assert problem and "/" not in name and len(name.encode()) < 120
    assert pulled_file(7, TASKS[1])[0] != pulled_file(7, _task(2, "../../etc/shadow", "x"))[0]
