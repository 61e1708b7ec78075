"""Operators validate in a real Label Studio 1.23 server (issue 14).

Label Studio runs from ``.venv-labelstudio/`` (``run.sh`` installs it) on 127.0.0.1, on a free
port, with a temporary data directory copied from a migrated template (built once per
machine under ``.docasset/``: migrations take 30-50 s, a copy starts in seconds), and is
stopped by pid. A real batch of synthetic receipts goes through the Dagster graph (intake,
OCR, a rules-only production model, review queue) and is pushed by ``label_studio_tasks``; an
operator who signed up through the invite link checks the pages and annotates four documents
through the API as the UI would; ``label_studio_sensor`` pulls, ``corrections_sensor``
imports. The admin's path runs with a home that is not the demo's, from another working
directory, through the CLI (``docasset labelstudio start``, the printed settings,
``docasset ingest`` pushing and pulling): an operator's slip is refused and shown back on the
task, and the fix is stored.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import polars as pl
import pytest
import spacy

from docasset.core.extraction.extract import LAYOUT_META, Calibration, ModelBundle
from docasset.core.extraction.fields import collapse, load_doctype
from docasset.core.ocr.text import document_text
from docasset.core.training.curate import SplitConfig, curate
from docasset.core.training.registry import Registry
from docasset.core.validation import ls_server
from docasset.core.validation.corrections import import_file, latest_per_document, read_store
from docasset.core.validation.ls_client import LabelStudioClient
from docasset.core.validation.memory import CorrectionMemory
from docasset.core.workdir import Workdir
from docasset.definitions import build_definitions
from docasset.defs.driver import LocalDriver
from docasset.defs.label_studio import ROOT_ENV, TOKEN_ENV, URL_ENV, LabelStudio
from docasset.defs.settings import Settings
from docasset.errors import CorrectionsError, LabelStudioAuthError
from docasset.sim.operators import write_corrections
from docasset.sim.synthetic.generate import generate

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
RECEIPT = load_doctype("receipt")
ADMIN = ("admin@docasset.test", "admin-Pass-1234")
OPERATOR = ("operator@docasset.test", "operator-Pass-1234")
TYPED_TOTAL, RETYPED_TOTAL = "97.24", "97.42"  # as if OCR garbled the printed amount
SLIP, FIXED = "71.00No.J-G-02", "71.00"  # a total that ran into the next printed text


def _template() -> Path:
    """The migrated template data directory, per Label Studio version and admin account."""
    pins = (ROOT / "constraints-labelstudio.txt").read_bytes() + json.dumps(ADMIN).encode()
    state = Path(os.environ.get("DOCASSET_STATE") or ROOT / ".docasset")
    return state / f"labelstudio-template-{hashlib.sha256(pins).hexdigest()[:12]}"


@dataclass
class Flow:
    url: str
    home: Path
    wd: Workdir
    admin_token: str
    operator_token: str
    operator_session: httpx.Client
    driver: LocalDriver
    defs: dg.Definitions
    batch: str
    model_version: str
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # role -> task as pushed
    expected: dict[str, dict[str, Any]] = field(default_factory=dict)  # role -> correction
    runs: dict[str, Any] = field(default_factory=dict)
    pulled: dict[str, list[str]] = field(default_factory=dict)  # pull -> files it wrote


def _rules_only_model(wd: Workdir) -> str:
    """A production model with no trained NER: rules and layout candidates only (predicted
    values with boxes, all routed to review: no thresholds)."""
    bundle = ModelBundle(
        spacy.blank("en"),
        RECEIPT,
        Calibration(base={"company": 0.6, "date": 0.7, "address": 0.5, "total": 0.8}),
        {},
        meta={LAYOUT_META: True},
    )
    reg = Registry(wd.models)
    mv = reg.register(bundle, {"training_set_version": "rules-only"})
    reg.set_alias("production", mv.version, "integration test: rules only")
    return mv.version


def _regions(result: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Region id -> {label, text} of a prediction's result."""
    out: dict[str, dict[str, Any]] = {}
    for r in result:
        reg = out.setdefault(r["id"], {})
        if r["type"] == "rectanglelabels":
            reg["label"] = r["value"]["rectanglelabels"][0]
        elif r["type"] == "textarea":
            reg["text"] = r["value"]["text"][0]
    return out


def _fields(result: list[dict[str, Any]]) -> dict[str, str]:
    """Field -> value of a result's boxes (whitespace collapsed, as stored)."""
    boxes = [r for r in _regions(result).values() if "label" in r]
    return {RECEIPT.labels[r["label"]]: collapse(r["text"]) for r in boxes}


def _with_total(result: list[dict[str, Any]], total: str) -> list[dict[str, Any]]:
    """The result with the TOTAL box's text replaced (a box added if none was predicted)."""
    rid = next((k for k, r in _regions(result).items() if r.get("label") == "TOTAL"), None)
    if rid is None:
        rid = "typed-total"
        geo = {"x": 50.0, "y": 80.0, "width": 20.0, "height": 3.0, "rotation": 0}
        base = {"id": rid, "to_name": "page", "original_width": 1000, "original_height": 1400}
        return [
            *result,
            {
                **base,
                "from_name": "field",
                "type": "rectanglelabels",
                "value": {**geo, "rectanglelabels": ["TOTAL"]},
            },
            {**base, "from_name": "value", "type": "textarea", "value": {**geo, "text": [total]}},
        ]
    return [
        {**r, "value": {**r["value"], "text": [total]}}
        if r["id"] == rid and r["type"] == "textarea"
        else r
        for r in result
    ]


def _choice(control: str, *choices: str) -> dict[str, Any]:
    return {
        "id": f"{control}-0",
        "from_name": control,
        "to_name": "page",
        "type": "choices",
        "value": {"choices": list(choices)},
    }


def _filed(wd: Workdir) -> set[str]:
    """The names of the corrections files imported (archived as ``<sha>-<name>``) or rejected."""
    archived = {p.name.split("-", 1)[1] for p in wd.corrections_archive.iterdir()}
    rejected = {p.name for p in wd.corrections_rejected.iterdir()}
    return archived | {n for n in rejected if not n.endswith(".reasons.txt")}


def _pull(st: Flow) -> list[str]:
    """Tick the pull sensor (it writes the pulled files and requests their import run), then
    the corrections sensor (nothing left to import); the files the pull wrote."""
    before = _filed(st.wd)
    for run in st.driver.tick("label_studio_sensor"):
        assert run.success
    assert st.driver.tick("corrections_sensor") == []  # one import per inbox state
    return sorted(_filed(st.wd) - before)


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    from label_studio_sdk.client import LabelStudio as Sdk

    template = ls_server.build_template(_template(), *ADMIN)
    root = tmp_path_factory.mktemp("label-studio")
    home = root / "work"
    wd = Workdir(home)
    ls_server.prepare_data_dir(root / "ls-data", template)
    server = ls_server.start(root / "ls-data", home, ls_server.free_port(), *ADMIN, root / "ls.log")
    (root / "dagster_home").mkdir()
    try:
        with dg.instance_for_test(temp_dir=str(root / "dagster_home")) as instance:
            admin = ls_server.login(server.url, *ADMIN)
            admin_token = ls_server.personal_token(admin)
            # A new operator signs up through the organization's invite link.
            operator = ls_server.sign_up(ls_server.invite_url(admin), *OPERATOR)
            operator_token = ls_server.personal_token(operator)
            version = _rules_only_model(wd)
            resource = LabelStudio(url=server.url, token=admin_token)
            defs = build_definitions(str(home), Settings(inbox={"settle_seconds": 0.0}), resource)
            driver = LocalDriver(instance, defs, home)
            for d in generate(root / "receipts", 4, seed=5, prefix="ls-"):
                shutil.copy(d.image_path, wd.inbox / d.image_path.name)
            runs = driver.tick("inbox_sensor")
            [intake] = runs
            batch = intake.dagster_run.tags["dagster/partition"]
            st = Flow(
                server.url,
                home,
                wd,
                admin_token,
                operator_token,
                operator,
                driver,
                defs,
                batch,
                version,
                runs={"intake": intake},
            )
            # A re-run of the push changes nothing; new box padding updates every task.
            st.runs["push_again"] = dg.materialize(
                list(defs.assets),  # type: ignore[arg-type]
                selection=["label_studio_tasks"],
                partition_key=batch,
                instance=instance,
                resources=defs.resources,
            )
            padded = build_definitions(
                str(home),
                Settings(inbox={"settle_seconds": 0.0}, label_studio={"box_padding": 9}),
                resource,
            )
            st.runs["push_padded"] = dg.materialize(
                list(padded.assets),  # type: ignore[arg-type]
                selection=["label_studio_tasks"],
                partition_key=batch,
                instance=instance,
                resources=padded.resources,
            )
            client = LabelStudioClient(server.url, admin_token, "test")
            project = client.find_project("docasset review")
            assert project is not None
            pushed = sorted(client.tasks(project, 100), key=lambda t: t["data"]["doc_id"])
            roles = ["accept", "typed_total", "irrelevant", "absent"]
            st.tasks = dict(zip(roles, pushed, strict=True))

            # The operator annotates through the API, as the labelling UI submits.
            op = Sdk(base_url=server.url, api_key=operator_token)
            result = {k: t["predictions"][0]["result"] for k, t in st.tasks.items()}
            posts = {
                "accept": result["accept"],
                "typed_total": _with_total(result["typed_total"], TYPED_TOTAL),
                "irrelevant": [*result["irrelevant"], _choice("verdict", "irrelevant")],
                "absent": [
                    *(r for r in result["absent"] if r["id"] != "address"),
                    _choice("absent", "ADDRESS"),
                ],
            }
            for role, res in posts.items():
                ann = op.annotations.create(id=st.tasks[role]["id"], result=res, lead_time=4.0)
                st.tasks[role]["annotation_id"] = ann.id
            st.expected = {
                "accept": {"fields": _fields(result["accept"]), "verdict": None},
                "typed_total": {"fields": _fields(posts["typed_total"]), "verdict": None},
                "irrelevant": {"fields": {}, "verdict": "irrelevant"},
                "absent": {
                    "fields": {**_fields(posts["absent"]), "address": None},
                    "verdict": None,
                },
            }
            st.pulled["first"] = _pull(st)
            # The operator re-types the total: one updated annotation, pulled by the cursor.
            op.annotations.update(
                id=st.tasks["typed_total"]["annotation_id"],
                result=_with_total(result["typed_total"], RETYPED_TOTAL),
            )
            st.pulled["update"] = _pull(st)
            st.pulled["nothing"] = _pull(st)
            yield st
    finally:
        ls_server.stop(server.pid)
        assert not ls_server.is_running(server.pid)


def _meta(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    [mat] = result.asset_materializations_for_node(asset)
    return {k: v.value for k, v in mat.metadata.items()}


def test_every_review_document_is_one_task_with_served_pages_and_predictions(flow: Flow) -> None:
    client = LabelStudioClient(flow.url, flow.admin_token, "test")
    tasks = client.tasks(client.find_project("docasset review"), 100)  # type: ignore[arg-type]
    intake = flow.runs["intake"]
    queue = intake.output_for_node("review_queue")
    # One task per document, after the first push and two re-runs.
    assert sorted(t["data"]["doc_id"] for t in tasks) == sorted(set(queue["doc_id"]))
    assert len(tasks) == 4
    preds = intake.output_for_node("predictions")
    shown = {(r["doc_id"], r["field"]): r["value"] for r in preds.iter_rows(named=True)}
    anonymous = httpx.Client(base_url=flow.url)
    for t in tasks:
        for url in t["data"]["pages"]:
            page = flow.operator_session.get(url)
            assert page.status_code == 200 and page.headers["content-type"].startswith("image/")
            assert len(page.content) > 10_000
            assert anonymous.get(url).status_code == 401  # only logged-in users see pages
        [pred] = t["predictions"]
        assert pred["model_version"] == flow.model_version
        values = _fields(pred["result"])
        assert values, "the rules-only model pre-annotates values"
        # The value docasset shows, each box scored with its calibrated confidence.
        assert values == {f: collapse(shown[(t["data"]["doc_id"], f)]) for f in values}
        assert all(0.0 < r["score"] <= 1.0 for r in pred["result"])
        boxes = [r["value"] for r in pred["result"] if r["type"] == "rectanglelabels"]
        assert all(0 <= b["x"] < 100 and 0 < b["width"] <= 100 - b["x"] for b in boxes)


def test_pushing_again_changes_nothing_and_an_update_never_duplicates(flow: Flow) -> None:
    first = _meta(flow.runs["intake"], "label_studio_tasks")
    assert (first["created"], first["updated"], first["unchanged"]) == (4, 0, 0)
    again = _meta(flow.runs["push_again"], "label_studio_tasks")
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 4)
    padded = _meta(flow.runs["push_padded"], "label_studio_tasks")
    assert (padded["created"], padded["updated"], padded["unchanged"]) == (0, 4, 0)


def test_pulled_annotations_are_exactly_the_operators_corrections(flow: Flow) -> None:
    assert len(flow.pulled["first"]) == 4 and all(
        n.startswith("label-studio-") for n in flow.pulled["first"]
    )
    assert len(flow.pulled["update"]) == 1  # only the updated annotation
    assert flow.pulled["nothing"] == []
    store = read_store(flow.wd.corrections_store)
    assert store.height == 5 and set(store["annotator"]) == {OPERATOR[0]}
    role = {t["data"]["doc_id"]: r for r, t in flow.tasks.items()}
    latest = latest_per_document(store)
    assert not latest["conflict"].any()
    assert {role[d] for d in latest["doc_id"]} == set(flow.expected)
    for row in latest.iter_rows(named=True):
        want = flow.expected[role[row["doc_id"]]]
        fields = json.loads(row["fields_json"])
        if role[row["doc_id"]] == "typed_total":
            assert fields == {**want["fields"], "total": RETYPED_TOTAL}
        else:
            assert fields == want["fields"]
        assert row["verdict"] == want["verdict"]
    typed = store.filter(store["doc_id"] == flow.tasks["typed_total"]["data"]["doc_id"])
    assert [json.loads(f)["total"] for f in typed.sort("timestamp")["fields_json"]] == [
        TYPED_TOTAL,
        RETYPED_TOTAL,
    ]


def test_a_typed_value_absent_from_the_ocr_text_is_learned_and_curated_openly(
    flow: Flow, tmp_path: Path
) -> None:
    doc = flow.tasks["typed_total"]["data"]["doc_id"]
    words = flow.runs["intake"].output_for_node("ocr_text")
    text = document_text(words, doc)
    assert RETYPED_TOTAL not in text
    store = read_store(flow.wd.corrections_store)
    latest = {r["doc_id"]: r for r in latest_per_document(store).iter_rows(named=True)}
    learned = [
        e
        for e in CorrectionMemory(flow.wd.memory).entries()
        if e.source_correction in set(store.filter(pl.col("doc_id") == doc)["correction_id"])
    ]
    fields = json.loads(latest[doc]["fields_json"])
    assert {(e.field, e.value) for e in learned if e.kind == "value"} >= {
        (f, fields[f]) for f in ("company", "address") if fields.get(f)
    }
    texts = {d: document_text(words, d) for d in latest}
    cur = curate(RECEIPT, store, texts, set(), {}, tmp_path / "golden.json", SplitConfig())
    [rec] = cur.records.filter(cur.records["doc_id"] == doc).iter_rows(named=True)
    total = [a for a in json.loads(rec["alignment"]) if a["field"] == "total"]
    said = json.loads(rec["issues"]) + cur.qa.get(doc, [])
    # Either placed fuzzily in the text, or named in the gate's issues / the QA list.
    assert (total and total[0]["method"] != "none") or any(s.startswith("total:") for s in said)
    assert rec["reason"] in (None, "unalignable")


def test_the_same_verdict_from_a_jsonl_file_is_no_conflict(flow: Flow, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(flow.wd.corrections_store, store)
    doc = flow.tasks["irrelevant"]["data"]["doc_id"]
    jsonl = {
        "doc_id": doc,
        "fields": {},
        "annotator": "alice",
        "verdict": "irrelevant",
        "timestamp": "2026-11-30T10:00:00Z",
    }
    write_corrections(tmp_path / "alice.jsonl", [jsonl])
    assert import_file(tmp_path / "alice.jsonl", store, RECEIPT, {doc}).stored == 1
    row = latest_per_document(read_store(store)).filter(pl.col("doc_id") == doc).row(0, named=True)
    assert row["n_corrections"] == 2 and not row["conflict"]


def test_file_exports_still_import_and_json_min_and_csv_are_refused(
    flow: Flow, tmp_path: Path
) -> None:
    from label_studio_sdk.client import LabelStudio as Sdk

    sdk = Sdk(base_url=flow.url, api_key=flow.admin_token)
    project = LabelStudioClient(flow.url, flow.admin_token, "test").find_project("docasset review")
    known = {t["data"]["doc_id"] for t in flow.tasks.values()}
    for kind, hint in [("JSON_MIN", "a JSON-MIN export"), ("CSV", "this is a CSV export")]:
        path = tmp_path / f"export-{kind}.json"
        path.write_bytes(b"".join(sdk.projects.exports.download_sync(id=project, export_type=kind)))
        with pytest.raises(CorrectionsError, match=f"{hint}.*export the project .* as JSON"):
            import_file(path, tmp_path / "store", RECEIPT, known)
    path = tmp_path / "export.json"
    path.write_bytes(b"".join(sdk.projects.exports.download_sync(id=project, export_type="JSON")))
    res = import_file(path, tmp_path / "store", RECEIPT, known)
    assert res.stored == 4  # offline: the file holds user ids, not emails
    assert set(read_store(tmp_path / "store")["annotator"]) == {"label-studio-user-2"}


def test_a_refused_token_names_the_setting_and_legacy_tokens_work(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = flow.admin_token[:-6] + "AAAAAA"
    with pytest.raises(LabelStudioAuthError, match=r"401.*resources\.label_studio\.config\.token"):
        LabelStudio(url=flow.url, token=wrong).client().whoami()
    monkeypatch.setenv("DOCASSET_LABEL_STUDIO_TOKEN", "0" * 40)
    from docasset.defs.label_studio import label_studio_sensor
    from docasset.defs.resources import DocassetHome

    context = dg.build_sensor_context(
        resources={
            "home": DocassetHome(root=str(flow.home)),
            "settings": Settings(),
            "label_studio": LabelStudio(url=flow.url),
        }
    )
    with pytest.raises(LabelStudioAuthError, match="DOCASSET_LABEL_STUDIO_TOKEN"):
        label_studio_sensor(context)
    legacy = ls_server.legacy_token(ls_server.login(flow.url, *ADMIN))
    assert LabelStudioClient(flow.url, legacy, "test").whoami() == ADMIN[0]


def test_docasset_labelstudio_starts_sets_up_the_project_and_stops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from docasset.cli import main
    from docasset.core import files

    modes: dict[str, int] = {}  # each file's mode when its content became visible
    real_replace = os.replace

    def spy(src: str, dst: object) -> None:
        modes[Path(str(dst)).name] = os.stat(src).st_mode & 0o777
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", spy)

    state, home = tmp_path / "state", tmp_path / "work"
    ls_server.prepare_data_dir(state / "data", ls_server.build_template(_template(), *ADMIN))
    state.joinpath("credentials.json").write_text(
        json.dumps({"admin_email": ADMIN[0], "admin_password": ADMIN[1]})
    )
    port = str(ls_server.free_port())
    args = ["--home", str(home), "labelstudio", "--state", str(state), "--port", port]
    try:
        assert main([*args, "start"]) == 0
        out = capsys.readouterr().out
        assert f"running at http://127.0.0.1:{port}" in out and "/user/signup/?token=" in out
        creds = json.loads((state / "credentials.json").read_text())
        assert oct((state / "credentials.json").stat().st_mode & 0o777) == "0o600"
        # Owner-only from the start (issue 23 defect 7: 0644 until a chmod after the rename).
        assert modes["credentials.json"] == modes["docasset.env"] == 0o600
        client = LabelStudioClient(creds["url"], creds["token"], "test")
        assert client.whoami() == ADMIN[0] and client.find_project("docasset review") == 1
        assert main([*args, "start"]) == 0  # again: already running, nothing created twice
        assert client.find_project("docasset review") == 1
        assert (
            f"DOCASSET_LABEL_STUDIO_TOKEN={creds['token']}" in (state / "docasset.env").read_text()
        )
        assert main([*args, "status"]) == 0
    finally:
        assert main([*args, "stop"]) == 0
    assert main([*args, "status"]) == 1 and "not running" in capsys.readouterr().out


def test_a_duplicate_from_a_concurrent_push_is_removed_by_the_next_push(flow: Flow) -> None:
    from label_studio_sdk.client import LabelStudio as Sdk

    client = LabelStudioClient(flow.url, flow.admin_token, "test")
    project = client.find_project("docasset review")
    assert project is not None
    offline = flow.home / "review" / flow.batch / "label-studio-tasks.json"
    doc = flow.tasks["accept"]["data"]["doc_id"]
    [task] = [t for t in json.loads(offline.read_text()) if t["data"]["doc_id"] == doc]
    Sdk(base_url=flow.url, api_key=flow.admin_token).projects.import_tasks(
        id=project, request=[task]
    )
    assert len(client.tasks(project, 100)) == 5  # what two pushes racing could leave
    [pushed] = client.push(project, [task], 100)
    tasks = client.tasks(project, 100)
    assert len(tasks) == 4 and pushed.task_id == flow.tasks["accept"]["id"]
    # The operator's annotation is on the task that was kept.
    [kept] = [t for t in tasks if t["data"]["doc_id"] == doc]
    assert [a["id"] for a in kept["annotations"]] == [flow.tasks["accept"]["annotation_id"]]


def _latest_check(dagster_home: Path, name: str) -> tuple[bool, dict[str, Any]]:
    """(passed, metadata) of the latest evaluation of a check on ``corrections``."""
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        key = dg.AssetCheckKey(dg.AssetKey("corrections"), name)
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
        assert record.event is not None
        evaluation = record.event.asset_check_evaluation
        assert evaluation is not None
        return evaluation.passed, {k: v.value for k, v in evaluation.metadata.items()}


def test_the_admins_path_with_any_home_sends_a_slip_back_to_label_studio_and_stores_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from label_studio_sdk.client import LabelStudio as Sdk

    from docasset.cli import main

    home = tmp_path / "srv" / "receipts-home"  # not the demo's .docasset/work
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for k in (URL_ENV, TOKEN_ENV, ROOT_ENV, "DOCASSET_HOME"):
        monkeypatch.delenv(k, raising=False)
    dagster_home = tmp_path / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    state = home / "labelstudio"  # the default --state: under the home, whatever the cwd
    ls_server.prepare_data_dir(state / "data", ls_server.build_template(_template(), *ADMIN))
    state.joinpath("credentials.json").write_text(
        json.dumps({"admin_email": ADMIN[0], "admin_password": ADMIN[1]})
    )
    args = ["--home", str(home), "labelstudio", "--port", str(ls_server.free_port())]
    try:
        assert main([*args, "start"]) == 0
        invite = re.search(r"sign up at (\S+)", capsys.readouterr().out)
        assert invite is not None
        # The admin loads the printed settings; DOCASSET_HOME comes with them.
        lines = (state / "docasset.env").read_text().splitlines()
        env = dict(ln.removeprefix("export ").split("=", 1) for ln in lines)
        assert env["DOCASSET_HOME"] == env[ROOT_ENV] == str(home.resolve())
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        wd = Workdir(home)
        _rules_only_model(wd)
        for d in generate(tmp_path / "receipts", 2, seed=7, prefix="adm-"):
            shutil.copy(d.image_path, wd.inbox / d.image_path.name)
        assert main(["ingest"]) == 0  # pushes the review documents
        client = LabelStudioClient(env[URL_ENV], env[TOKEN_ENV], "test")
        project = client.find_project("docasset review")
        assert project is not None
        tasks = client.tasks(project, 100)
        assert len(tasks) == 2 and all(t["data"]["status"] == "to check" for t in tasks)

        # An operator signs up with the printed link and slips: the total runs on.
        operator = ls_server.sign_up(invite.group(1), *OPERATOR)
        op = Sdk(base_url=env[URL_ENV], api_key=ls_server.personal_token(operator))
        task = tasks[0]
        result = task["predictions"][0]["result"]
        ann = op.annotations.create(id=task["id"], result=_with_total(result, SLIP), lead_time=3.0)
        capsys.readouterr()
        assert main(["ingest"]) == 0  # pulls: refused, sent back, nothing stored
        assert "1 Label Studio annotation(s) refused" in capsys.readouterr().err
        seen = op.tasks.get(id=str(task["id"]))  # what the operator's Label Studio shows
        assert seen.data is not None and seen.data["status"].startswith("rejected")
        assert f"total: not an amount ({SLIP!r})" in seen.data["rejection"]
        assert seen.is_labeled is False  # back among the tasks to do
        assert read_store(wd.corrections_store).height == 0
        assert len(list(wd.corrections_rejected.glob("label-studio-*.json"))) == 1
        passed, meta = _latest_check(dagster_home, "label_studio_rejections")
        assert not passed and meta["open_rejections"] == 1
        # Another import run (a JSONL file for the other document): the refusal still counts.
        other = {
            "doc_id": tasks[1]["data"]["doc_id"],
            "fields": {"total": "12.00"},
            "annotator": "alice",
            "timestamp": "2026-12-01T10:00:00Z",
        }
        write_corrections(wd.corrections_inbox / "alice.jsonl", [other])
        assert main(["ingest"]) == 0
        assert read_store(wd.corrections_store).height == 1
        passed, meta = _latest_check(dagster_home, "label_studio_rejections")
        assert not passed and meta["open_rejections"] == 1

        # The operator fixes the value and presses Update: pulled, checked, stored.
        op.annotations.update(id=ann.id, result=_with_total(result, FIXED))
        assert main(["ingest"]) == 0
        store = read_store(wd.corrections_store)
        [row] = store.filter(pl.col("doc_id") == task["data"]["doc_id"]).iter_rows(named=True)
        assert row["annotator"] == OPERATOR[0]
        assert json.loads(row["fields_json"])["total"] == FIXED
        seen = op.tasks.get(id=str(task["id"]))
        assert seen.data is not None and (seen.data["status"], seen.data["rejection"]) == (
            "corrected",
            "",
        )
        assert _latest_check(dagster_home, "label_studio_rejections") == (
            True,
            {"open_rejections": 0, "rejections": {}},
        )
    finally:
        assert main([*args, "stop"]) == 0


def test_a_running_label_studio_that_cannot_serve_a_home_says_how_to_get_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from docasset.cli import main

    state = tmp_path / "state"
    ls_server.prepare_data_dir(state / "data", ls_server.build_template(_template(), *ADMIN))
    state.joinpath("credentials.json").write_text(
        json.dumps({"admin_email": ADMIN[0], "admin_password": ADMIN[1]})
    )
    port = str(ls_server.free_port())
    first = ["--home", str(tmp_path / "a"), "labelstudio", "--state", str(state), "--port", port]
    other = ["--home", str(tmp_path / "b"), "labelstudio", "--state", str(state), "--port", port]
    try:
        assert main([*first, "start"]) == 0
        capsys.readouterr()
        assert main([*other, "start"]) == 1
        err = capsys.readouterr().err
        assert f"serves files under {tmp_path / 'a'}" in err and "stop it" in err
        assert "--document-root" in err
    finally:
        assert main([*first, "stop"]) == 0
