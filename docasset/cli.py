"""The ``docasset`` command line: demo, ingest, train, extract, corrections import, model
registry, correction memory, vendor registry, a local Label Studio."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from docasset.errors import DocassetError

if TYPE_CHECKING:
    import dagster as dg

    from docasset.core.extraction.fields import DocType
    from docasset.core.ocr.engine import Engine
    from docasset.defs.settings import Settings

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def _home(args: argparse.Namespace) -> Path:
    from docasset.core.workdir import default_home

    return Path(args.home) if args.home else default_home()


# The instance the commands create. ``python_log_level: INFO``: the IO managers' DEBUG lines
# ("Loading partition ...", "Writing file at ...": 28 of a one-document ingest run's 104
# events) are not stored in the event log; Dagster's own events are stored at every level.
INSTANCE_YAML = "telemetry:\n  enabled: false\npython_logs:\n  python_log_level: INFO\n"


def _use_instance(default: Path) -> Path:
    """Point ``DAGSTER_HOME`` at the configured instance: the environment's, else ``default``
    (embedded defaults: SQLite storage in that directory, no telemetry, :data:`INSTANCE_YAML`)."""
    dagster_home = Path(os.environ.get("DAGSTER_HOME") or default)
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_YAML, "utf-8")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    return dagster_home


def cmd_demo(args: argparse.Namespace) -> int:
    from docasset.core.files import locked

    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    # Two demos in one directory would share (and --fresh would delete) each other's inbox,
    # corrections and models: the second one refuses instead.
    try:
        with locked(workdir / ".demo.lock", wait=False):
            return _demo(args, workdir)
    except BlockingIOError:
        print(
            f"docasset: error: another docasset demo is running in {workdir}; wait for it or "
            "use another --workdir",
            file=sys.stderr,
        )
        return EXIT_ERROR


def _demo(args: argparse.Namespace, workdir: Path) -> int:
    import logging
    import warnings

    import dagster as dg

    from docasset.demo import print_summary, run_demo

    # The demo's output is its report: deepchecks' calls into scikit-learn 1.5 warn about an
    # API scikit-learn deprecated (deepchecks 0.19.1 is the last release; nothing to act on).
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"sklearn\.")
    if not args.verbose:
        # Dagster's console logger logs at DEBUG when a sensor loads a stored asset value
        # ("Loading file from ..."; its log level is not configurable there): below INFO is
        # dropped in every logger of this process. Warnings and errors still print.
        logging.disable(logging.DEBUG)

    if args.fresh:
        import shutil

        for sub in ("work", "fixtures", "dagster_home", "learning-curve"):
            shutil.rmtree(workdir / sub, ignore_errors=True)
    dagster_home = _use_instance(workdir / "dagster_home")
    with dg.DagsterInstance.get() as instance:
        result = run_demo(
            workdir,
            instance,
            n_bootstrap=args.n_bootstrap,
            n_stream=args.n_stream,
            epochs=args.epochs,
            seed=args.seed,
        )
    print_summary(result)
    print(
        # The venv activated: dg warns when the active venv is not the project's.
        f"\nDagster UI over these runs (from the repo root): source .venv/bin/activate && "
        f"DAGSTER_HOME={dagster_home} DOCASSET_HOME={workdir / 'work'} dg dev"
    )
    return EXIT_OK if result.all_runs_ok and result.reports else EXIT_ERROR


def ingest_definitions(home: Path, settings: Settings) -> dg.Definitions:
    """The definitions ``docasset ingest`` runs: the working directory ``home``, and Label
    Studio configured from the environment (``DOCASSET_LABEL_STUDIO_URL``/``_TOKEN``, through
    ``dg.EnvVar``) as the deployed definitions have it, so review batches are pushed."""
    from docasset.definitions import build_definitions
    from docasset.defs.label_studio import LabelStudio

    return build_definitions(str(home), settings, LabelStudio.from_env())


def cmd_ingest(args: argparse.Namespace) -> int:
    """Claim the inbox now and run its ingest runs in-process (new batches, and earlier ones
    whose run failed or died); one JSON object per entry. With Label Studio configured
    (``DOCASSET_LABEL_STUDIO_URL``), review documents are pushed as tasks and, as the daemon's
    sensors do, new annotations are then pulled (a refused one is sent back to its task) and
    the corrections inbox imported.

    Exit 0 when every run completed (quarantined files are outcomes), 1 when one failed or
    the scan-quality gate held a batch (each said on stderr, with what to do)."""
    import dagster as dg

    from docasset.core.progress import to_stderr
    from docasset.core.validation.ls_review import RejectionLedger
    from docasset.core.workdir import Workdir
    from docasset.defs.driver import LocalDriver, ingest, pull_once
    from docasset.defs.label_studio import LabelStudio
    from docasset.defs.settings import Settings

    to_stderr()  # per batch, and the OCR of each batch, on stderr (stdout: JSON lines)
    home = _home(args).resolve()
    wd = Workdir(home)
    # The demo's layout: <dir>/work is the home, <dir>/dagster_home its instance.
    _use_instance(home.parent / "dagster_home")
    settings = Settings()
    inbox = settings.inbox_config()
    label_studio = LabelStudio.from_env()
    with dg.DagsterInstance.get() as instance:
        # Step failures are reported below, one line per batch, not as Dagster tracebacks.
        defs = ingest_definitions(home, settings)
        driver = LocalDriver(instance, defs, home, log_level="CRITICAL")
        res = ingest(driver, wd, inbox.batch_max_files, inbox)
        pulled = pull_once(driver) if label_studio.configured() else True
    for o in res.outcomes:
        print(json.dumps(o), flush=True)
    for note in res.notes:
        print(f"docasset: {note}", file=sys.stderr)
    if label_studio.configured() and (refused := RejectionLedger(wd.root / "corrections").open()):
        print(
            f"docasset: {len(refused)} Label Studio annotation(s) refused, shown on their "
            f"tasks for the operators to fix: {', '.join(sorted(refused))}",
            file=sys.stderr,
        )
    if not pulled:
        print(
            "docasset: error: importing the annotations pulled from Label Studio failed (see "
            "the corrections run)",
            file=sys.stderr,
        )
    if not res.ok:
        print(
            "docasset: error: not every batch completed (above); `docasset status` lists "
            "what is left and what to do",
            file=sys.stderr,
        )
    return EXIT_OK if res.ok and pulled else EXIT_ERROR


def cmd_status(args: argparse.Namespace) -> int:
    """Batches, runs, stranded work and what to do (``--json``: one JSON object)."""
    import dagster as dg

    from docasset.core.workdir import Workdir
    from docasset.defs.settings import Settings
    from docasset.defs.status import render, status

    home = _home(args).resolve()
    _use_instance(home.parent / "dagster_home")
    with dg.DagsterInstance.get() as instance:
        s = status(instance, Workdir(home), Settings().inbox_config())
    print(json.dumps(s, indent=1) if args.json else render(s))
    return EXIT_OK


def cmd_release(args: argparse.Namespace) -> int:
    """Release a batch the scan-quality gate holds (or one recovery gave up on): the next
    ``docasset ingest`` / inbox_sensor tick runs it again, the gate passing for it."""
    import dagster as dg

    from docasset.core.recovery import held, release
    from docasset.core.workdir import Workdir
    from docasset.defs.recovery import plan_batches
    from docasset.defs.settings import Settings

    home = _home(args).resolve()
    wd = Workdir(home)
    _use_instance(home.parent / "dagster_home")
    with dg.DagsterInstance.get() as instance:
        plans = {p.batch_id: p for p in plan_batches(instance, wd, Settings().inbox_config())}
    plan = plans.get(args.batch)
    if plan is None or plan.step.action not in ("held", "give_up"):
        state = (
            "not claimed"
            if not (wd.batches / f"{args.batch}.json").is_file()
            else (f"not held (its state: {plan.step.action})" if plan else "complete")
        )
        print(
            f"docasset: error: batch {args.batch} is {state}: nothing to release", file=sys.stderr
        )
        return EXIT_ERROR
    gate = held(wd, args.batch) is not None
    release(wd, args.batch, args.reason, os.environ.get("USER", "cli"), list(plan.failed_runs))
    what = (
        "the scan_quality gate now passes for it (recorded with your reason)"
        if gate
        else f"its {len(plan.failed_runs)} failed run(s) no longer count against the retries"
    )
    print(
        f"released batch {args.batch}: {what}; the next `docasset ingest` (or inbox_sensor "
        "tick) OCRs, predicts and queues its documents for review"
    )
    return EXIT_OK


def _engine(args: argparse.Namespace, doctype: DocType) -> Engine:
    from docasset.core.extraction.ocr_escalation import default_engine

    return default_engine(doctype, args.ocr_engine)


def cmd_train(args: argparse.Namespace) -> int:
    from docasset.core.progress import to_stderr

    to_stderr()  # OCR and training progress lines
    from docasset.core.datasets.labelled import read_labelled_folder
    from docasset.core.datasets.offline import ocr_files, train_labelled
    from docasset.core.extraction.fields import load_doctype
    from docasset.core.training.train import TrainConfig

    doctype = load_doctype(args.doc_type)
    docs = read_labelled_folder(Path(args.dataset))
    ocr = ocr_files([(d.id, d.image) for d in docs], _engine(args, doctype), workers=args.workers)
    for key, why in sorted(ocr.failures.items()):
        print(f"skipped {key}: {why}", file=sys.stderr)
    trained = train_labelled(
        docs,
        ocr.texts,
        doctype,
        TrainConfig(epochs=args.epochs, seed=args.seed),
        args.dev_fraction,
        ocr.engine,
        str(args.dataset),
        ocr.word_conf,
    )
    bundle, report = trained.bundle, trained.report
    out = Path(args.out or f"{doctype.name}-model")
    bundle.save(out)
    print(
        json.dumps(
            {
                "out": str(out),
                "n_train": report.n_train,
                "n_dev": report.n_dev,
                "ocr_engine": ocr.engine["engine"],
                "ocr_pages_by_engine": ocr.page_engines,
                "ocr_pages_by_reason": ocr.page_reasons,
                "ocr_failures": len(ocr.failures),
                "documents_with_unaligned_values": len(trained.unaligned),
                # Per field: labelled values not found in the document's text (a label the
                # keywords/types cannot place, or a noisy annotation): the first thing to read.
                "unaligned_by_field": {
                    f: sum(f in v for v in trained.unaligned.values()) for f in doctype.names
                },
                "best_epoch": report.best_epoch,
                "dev_accuracy": report.best_dev_accuracy,
                "seconds": report.seconds,
                "thresholds": bundle.thresholds,
            }
        )
    )
    return EXIT_OK


def _with_learned_customers(args: argparse.Namespace, doctype: DocType) -> DocType:
    """``doctype`` with the customer spellings the working directory's vendor registry
    learned from corrections (``customers`` in the JSON); unchanged without a registry."""
    from docasset.core.validation.vendor_store import VendorStore
    from docasset.core.workdir import Workdir

    root = Workdir(_home(args)).vendors
    return VendorStore(root).customer_aliases(doctype) if root.is_dir() else doctype


def cmd_extract(args: argparse.Namespace) -> int:
    from docasset.core.progress import to_stderr

    to_stderr()  # OCR and training progress lines
    from docasset.core.datasets.offline import expand_inputs, input_keys, ocr_files
    from docasset.core.extraction.dates import DateContext
    from docasset.core.extraction.extract import EXTRACTION_FAILED, ModelBundle, predict_documents
    from docasset.core.extraction.prediction_table import to_json
    from docasset.core.ocr.engine import OCR_META, engine_mismatch

    bundle = ModelBundle.load(Path(args.model))
    keyed = input_keys(expand_inputs(Path(p) for p in args.inputs))
    ocr = ocr_files(keyed, _engine(args, bundle.doctype), workers=args.workers)
    warning = engine_mismatch(bundle.meta.get(OCR_META), ocr.engine)
    if warning:
        print(f"docasset: warning: {warning}", file=sys.stderr)
    failures = dict(ocr.failures)
    for key, _ in keyed:  # every input is accounted for: written, or failed with a reason
        if key not in ocr.texts and key not in failures:
            failures[key] = "no OCR result"
    # Pages two OCR engines read: their dates and amounts are checked against both readings.
    second = {k: DateContext(other_reading=t) for k, t in ocr.second_texts.items()}
    preds = predict_documents(
        bundle, bundle.doctype, dict(sorted(ocr.texts.items())), words=ocr.word_conf, dates=second
    )
    written = 0
    doctype = _with_learned_customers(args, bundle.doctype)
    with open(args.out, "w", encoding="utf-8") as fh:
        for p in preds:
            failed = [b.text for b in p.blockers if b.kind == EXTRACTION_FAILED]
            if failed:
                failures[p.doc_id] = failed[0]
                continue
            fh.write(json.dumps(to_json(doctype, p), ensure_ascii=False) + "\n")
            written += 1
    for key, why in sorted(failures.items()):
        print(f"not extracted {key}: {why}", file=sys.stderr)
    print(
        json.dumps(
            {
                "out": args.out,
                "inputs": len(keyed),
                "documents": written,
                "failed": len(failures),
                "auto": sum(p.route == "auto" for p in preds if p.doc_id not in failures),
                "ocr_engine": ocr.engine["engine"],
                "ocr_engine_warning": warning,
            }
        )
    )
    return EXIT_OK if not failures else EXIT_ERROR


def cmd_corrections_import(args: argparse.Namespace) -> int:
    """Import one corrections file (project JSONL or Label Studio JSON export), all or nothing.

    Exit 0: stored (or already imported: a no-op); 1: rejected whole, nothing stored (each
    reason on stderr, the file copied to ``corrections/rejected/`` with its reasons)."""
    from docasset.core.extraction.fields import load_doctype
    from docasset.core.files import clean_text
    from docasset.core.intake.ledger import known_doc_ids
    from docasset.core.validation.corrections import import_file, latest_per_document, read_store
    from docasset.core.validation.corrections_inbox import archive, reject
    from docasset.core.workdir import Workdir
    from docasset.errors import CorrectionsError

    wd = Workdir(_home(args))
    src = Path(args.file)
    if not os.path.lexists(src):
        print(f"docasset: error: {src}: no such file, nothing stored", file=sys.stderr)
        return EXIT_ERROR
    before = set(latest_per_document(read_store(wd.corrections_store)).filter("conflict")["doc_id"])
    try:
        res = import_file(src, wd.corrections_store, load_doctype(args.doc_type), known_doc_ids(wd))
    except CorrectionsError as exc:
        dst = reject(wd, src, exc.problems, move=False)
        print(
            f"docasset: error: {src} rejected, nothing stored (reasons: {dst}.reasons.txt)",
            file=sys.stderr,
        )
        # Reasons quote the file's content: shown, never run by the terminal.
        sys.stderr.write("".join(f"line {n}: {clean_text(why, None)}\n" for n, why in exc.problems))
        return EXIT_ERROR
    archived = archive(wd, src, res, move=False)
    if res.already_imported:
        print(f"{src}: already imported (segment {res.segment}); nothing stored (no-op)")
        return EXIT_OK
    print(
        f"{src}: stored {res.stored} correction(s), {res.skipped} already stored; "
        f"segment {res.segment}; original archived to {archived}"
    )
    latest = latest_per_document(read_store(wd.corrections_store))
    flagged = sorted(set(latest.filter("conflict")["doc_id"]) - before)
    if flagged:
        print(
            f"{len(flagged)} document(s) now in annotator conflict, kept both and flagged "
            f"for QA: {', '.join(flagged)}"
        )
    return EXIT_OK


def cmd_model(args: argparse.Namespace) -> int:
    from docasset.core.files import clean_text
    from docasset.core.training.registry import Registry
    from docasset.core.workdir import Workdir

    reg = Registry(Workdir(_home(args)).models)
    actor = os.environ.get("USER", "cli")
    if args.model_cmd == "list":
        aliases = reg.aliases()
        rows = [("version", "created", "parent", "training set", "golden F1", "auto", "aliases")]
        for mv in reg.versions():
            if mv.problem:
                rows.append((mv.version, "UNUSABLE", "-", "-", "-", "-", mv.problem))
                continue
            m = mv.info.get("metrics") or {}
            rows.append(
                (
                    mv.version,
                    str(mv.info.get("created_at", ""))[:19],
                    str(mv.info.get("parent") or "-"),
                    str(mv.info.get("training_set_version") or "-"),
                    "-" if m.get("micro_f1") is None else f"{m['micro_f1']:.3f}",
                    "-" if m.get("automation_rate") is None else f"{m['automation_rate']:.2f}",
                    " ".join(a for a, v in aliases.items() if v == mv.version),
                )
            )
        shown = [[clean_text(c, None) for c in r] for r in rows]  # stored text, shown
        widths = [max(len(r[i]) for r in shown) for i in range(len(shown[0]))]
        for r in shown:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    elif args.model_cmd == "promote":
        reg.set_alias("production", args.version, f"manual: {args.reason}", actor, kind="manual")
        print(f"production -> {args.version} (manual override recorded: {args.reason})")
    elif args.model_cmd == "rollback":
        print(f"production -> {reg.rollback(args.reason, actor)}")
    return EXIT_OK


def cmd_memory(args: argparse.Namespace) -> int:
    from docasset.core.files import clean_text as c
    from docasset.core.validation.memory import CorrectionMemory
    from docasset.core.workdir import Workdir

    mem = CorrectionMemory(Workdir(_home(args)).memory)
    if args.memory_cmd == "list":
        # Every value came from an operator or a document: shown, never run by the terminal.
        for e in mem.entries():
            print(
                f"{c(e.id)}  {c(repr(e.vendor))}  {c(e.field)} = {c(repr(e.value))}  "
                f"(by {c(e.annotator)}, correction {c(e.source_correction)}, {c(e.created_at)})"
            )
    else:
        mem.remove(args.entry, args.reason, actor=os.environ.get("USER", "cli"))
        print(f"removed {args.entry}")
    return EXIT_OK


def cmd_vendors(args: argparse.Namespace) -> int:
    """``docasset vendors list|show|import|export`` (``docs/vendors.md``)."""
    from docasset.core.validation.vendor_store import VendorStore
    from docasset.core.workdir import Workdir

    store = VendorStore(Workdir(_home(args)).vendors)
    if args.vendors_cmd == "import":
        result = store.import_file(Path(args.file), os.environ.get("USER", "cli"))
        print(f"imported {result.vendors} vendor(s) from {args.file}")
        for c in result.conflicts:
            print(f"conflict {c.kind} {c.key}: {c.detail}")
        # Conflicts are stored and reported, never resolved here: exit 1 says to look.
        return EXIT_ERROR if result.conflicts else EXIT_OK
    if args.vendors_cmd == "export":
        n = store.export(Path(args.file))
        print(f"exported {n} vendor(s) to {args.file}")
        return EXIT_OK
    reg = store.registry()
    if args.vendors_cmd == "show":
        want = args.vendor.upper()
        hits = [v for v in reg.vendors.values() if want in (v.id.upper(), v.name.upper())]
        hits = hits or [v for v in reg.vendors.values() if want in v.name.upper()]
        if not hits:
            print(f"docasset: error: no vendor {args.vendor!r}", file=sys.stderr)
            return EXIT_ERROR
        for v in hits:
            mine = [c for c in reg.conflicts if v.id in c.vendors]
            print(json.dumps({**v.as_dict(), "conflicts": [c.__dict__ for c in mine]}, indent=1))
        return EXIT_OK
    if args.conflicts:
        for c in reg.conflicts:
            print(f"{c.kind}  {c.key}  {' '.join(c.vendors)}  {c.detail}")
        return EXIT_OK
    for v in reg.vendors.values():
        keys = ", ".join(k for k in sorted(v.keys, key=lambda k: k.startswith("phone:")))
        print(
            f"{v.id}  {v.name!r}  confirmations {v.confirmations}  branches {len(v.branches)}"
            f"  [{'+'.join(sorted(v.sources))}]  {keys[:120]}"
        )
    if reg.conflicts:
        print(f"{len(reg.conflicts)} conflict(s): docasset vendors list --conflicts")
    return EXIT_OK


ADMIN_EMAIL = "admin@docasset.local"


def cmd_labelstudio(args: argparse.Namespace) -> int:
    """Start, stop or show the local Label Studio of ``./run.sh labelstudio`` (state: data
    dir, log, pid and credentials under ``--state``)."""
    import secrets

    import httpx

    from docasset.core.extraction.fields import load_doctype
    from docasset.core.files import PRIVATE_MODE, atomic_write
    from docasset.core.validation import ls_server
    from docasset.core.validation.ls_client import LabelStudioClient
    from docasset.core.validation.ls_config import LabelStudioConfig, labelling_config
    from docasset.core.validation.ls_tasks import HIDDEN_DATA, VIEW_TITLE, served_dirs
    from docasset.core.workdir import Workdir
    from docasset.errors import LabelStudioError

    home = _home(args).resolve()
    state = Path(args.state).resolve() if args.state else home / "labelstudio"
    pidfile, creds_file = state / "label-studio.pid", state / "credentials.json"
    pid = int(pidfile.read_text()) if pidfile.is_file() else None
    running = pid is not None and ls_server.is_running(pid)
    if args.action == "stop":
        if running:
            ls_server.stop(pid)  # type: ignore[arg-type]
            print(f"stopped Label Studio (pid {pid})")
        else:
            print("Label Studio is not running")
        pidfile.unlink(missing_ok=True)
        return EXIT_OK
    creds = json.loads(creds_file.read_text("utf-8")) if creds_file.is_file() else {}
    if args.action == "status":
        print(f"running at {creds.get('url')} (pid {pid})" if running else "not running")
        return EXIT_OK if running else EXIT_ERROR
    state.mkdir(parents=True, exist_ok=True)
    wd = Workdir(home)
    root = Path(args.document_root).resolve() if args.document_root else home
    if not home.is_relative_to(root):
        raise LabelStudioError(
            f"--document-root {root} must be docasset's home {home} or a parent of it: Label "
            "Studio serves the page images from there"
        )
    if not creds:
        creds = {"admin_email": ADMIN_EMAIL, "admin_password": secrets.token_urlsafe(12)}
    served = Path(creds.get("document_root") or home)
    if running and not home.is_relative_to(served):
        raise LabelStudioError(
            f"the Label Studio running at {creds.get('url')} (pid {pid}) serves files under "
            f"{served}, and docasset's home {home} is not under it: stop it (docasset "
            f"labelstudio stop --state {state}) and start it again with this home, or with "
            "--document-root set to a directory holding every home it serves"
        )
    if not running:
        print("starting Label Studio (the first start migrates its database: about a minute)")
        server = ls_server.start(
            state / "data",
            root,
            args.port,
            creds["admin_email"],
            creds["admin_password"],
            state / "label-studio.log",
        )
        atomic_write(pidfile, f"{server.pid}\n".encode())
        creds["url"], pid, creds["document_root"] = server.url, server.pid, str(root)
    url = creds["url"]
    session = ls_server.login(url, creds["admin_email"], creds["admin_password"])
    if not creds.get("token"):
        creds["token"] = ls_server.personal_token(session)
    # Secrets: owner-only from the temp file's creation on, never readable by others.
    atomic_write(creds_file, json.dumps(creds, indent=1).encode(), mode=PRIVATE_MODE)
    client = LabelStudioClient(url, creds["token"], f"the token in {creds_file}")
    doctype = load_doctype(args.doc_type)
    project = client.ensure_project(
        args.project, labelling_config(doctype), LabelStudioConfig().annotations_per_task
    )
    client.ensure_local_storage(project, served_dirs(wd))
    client.ensure_view(project, VIEW_TITLE, list(HIDDEN_DATA))
    env = (
        f"export DOCASSET_HOME={home}\n"
        f"export DOCASSET_LABEL_STUDIO_URL={url}\n"
        f"export DOCASSET_LABEL_STUDIO_TOKEN={creds['token']}\n"
        f"export DOCASSET_LABEL_STUDIO_DOCUMENT_ROOT={creds.get('document_root') or home}\n"
    )
    atomic_write(state / "docasset.env", env.encode(), mode=PRIVATE_MODE)
    release = httpx.get(f"{url}/api/version", timeout=10).json().get("release", "?")
    print(
        f"Label Studio {release} is running at {url} (pid {pid}; data {state / 'data'}, "
        f"log {state / 'label-studio.log'})\n"
        f"  admin login   {creds['admin_email']} / {creds['admin_password']}\n"
        f"  project       {args.project!r}: {url}/projects/{project}\n"
        f"  page images   served from {home} (local-files storages: archive/, review/; "
        f"document root {creds.get('document_root') or home})\n"
        f"  operators     sign up at {ls_server.invite_url(session)}\n"
        f"  token         {creds['token']}\n"
        "For docasset to push review batches and pull annotations (e.g. before ./run.sh ui):\n"
        f"  . {state / 'docasset.env'}\n"
        "Stop it with ./run.sh labelstudio stop"
    )
    return EXIT_OK


def _ocr_engine_option(p: argparse.ArgumentParser) -> None:
    # The names module, not the engines: the parser is built on every start (0.9 s).
    from docasset.core.ocr.names import DEFAULT_ENGINE as default
    from docasset.core.ocr.names import ENGINE_NAMES

    p.add_argument(
        "--ocr-engine",
        choices=ENGINE_NAMES,
        default=default,
        help=f"OCR engine (default: {default}, the Settings.ocr.engine default)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="docasset", description=__doc__)
    p.add_argument("--home", help="working directory (default: $DOCASSET_HOME or .docasset/work)")
    sub = p.add_subparsers(dest="cmd", required=True)

    ing = sub.add_parser(
        "ingest",
        help="claim the inbox now and run its ingest runs in-process (what the daemon would "
        "do, once); one JSON object per inbox entry on stdout; exit 1 when a run failed",
    )
    # SUPPRESS: a --home given before the subcommand is not reset by this one's default.
    ing.add_argument("--home", default=argparse.SUPPRESS, help="working directory")
    ing.set_defaults(fn=cmd_ingest)

    st = sub.add_parser(
        "status", help="batches, runs, stranded work (held, failed, dead) and what to do"
    )
    st.add_argument("--home", default=argparse.SUPPRESS, help="working directory")
    st.add_argument("--json", action="store_true", help="one JSON object instead of text")
    st.set_defaults(fn=cmd_status)
    rel = sub.add_parser(
        "release",
        help="release a batch the scan_quality gate holds (or that failed every retry): the "
        "next ingest OCRs and predicts it; the release is recorded with --reason",
    )
    rel.add_argument("batch")
    rel.add_argument("--reason", required=True, help="why (kept with the release)")
    rel.add_argument("--home", default=argparse.SUPPRESS, help="working directory")
    rel.set_defaults(fn=cmd_release)

    d = sub.add_parser("demo", help="run the end-to-end demo through the Dagster graph")
    d.add_argument("--workdir", default=".docasset")
    d.add_argument("--n-bootstrap", type=int, default=16)
    d.add_argument("--n-stream", type=int, default=60, help="production documents, over 3 weeks")
    d.add_argument("--epochs", type=int, default=30)
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--fresh", action="store_true", help="start from an empty working directory")
    d.add_argument("--verbose", action="store_true", help="also print Dagster's DEBUG lines")
    d.set_defaults(fn=cmd_demo)

    t = sub.add_parser("train", help="train a pipeline from a labelled folder (OCR included)")
    t.add_argument("--dataset", required=True)
    t.add_argument("--doc-type", default="receipt")
    t.add_argument("--out", help="model directory (default: ./<doc-type>-model)")
    t.add_argument("--epochs", type=int, default=40)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--dev-fraction", type=float, default=0.2)
    t.add_argument("--workers", type=int, default=None)
    _ocr_engine_option(t)
    t.set_defaults(fn=cmd_train)

    e = sub.add_parser("extract", help="extract fields from files or directories")
    e.add_argument("--model", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--workers", type=int, default=None)
    _ocr_engine_option(e)
    e.add_argument("inputs", nargs="+")
    e.set_defaults(fn=cmd_extract)

    c = sub.add_parser("corrections", help="the corrections store")
    csub = c.add_subparsers(dest="corrections_cmd", required=True)
    ci = csub.add_parser(
        "import",
        help="import a corrections file, project JSONL or Label Studio JSON export (all or "
        "nothing; exit 0 stored or already imported, 1 rejected)",
    )
    ci.add_argument("file")
    ci.add_argument("--doc-type", default="receipt")
    ci.set_defaults(fn=cmd_corrections_import)

    m = sub.add_parser("model", help="the model registry")
    msub = m.add_subparsers(dest="model_cmd", required=True)
    msub.add_parser("list").set_defaults(fn=cmd_model)
    mp = msub.add_parser("promote")
    mp.add_argument("version")
    mp.add_argument("--reason", required=True)
    mp.set_defaults(fn=cmd_model)
    mr = msub.add_parser("rollback")
    mr.add_argument("--reason", default="rollback")
    mr.set_defaults(fn=cmd_model)
    mem = sub.add_parser("memory", help="the correction memory (vendor-scoped fixes)")
    memsub = mem.add_subparsers(dest="memory_cmd", required=True)
    memsub.add_parser("list").set_defaults(fn=cmd_memory)
    mrm = memsub.add_parser("remove")
    mrm.add_argument("entry")
    mrm.add_argument("--reason", required=True)
    mrm.set_defaults(fn=cmd_memory)
    ven = sub.add_parser("vendors", help="the vendor registry (master data: keys, branches)")
    vsub = ven.add_subparsers(dest="vendors_cmd", required=True)
    vl = vsub.add_parser("list", help="vendors with keys, confirmations and sources")
    vl.add_argument("--conflicts", action="store_true", help="list the conflicts instead")
    vl.set_defaults(fn=cmd_vendors)
    vs = vsub.add_parser("show", help="one vendor (id or name) with provenance as JSON")
    vs.add_argument("vendor")
    vs.set_defaults(fn=cmd_vendors)
    vi = vsub.add_parser(
        "import",
        help="import vendors from CSV or JSON (all or nothing; exit 1 when it creates conflicts)",
    )
    vi.add_argument("file")
    vi.set_defaults(fn=cmd_vendors)
    ve = vsub.add_parser("export", help="export the registry as CSV or JSON (by suffix)")
    ve.add_argument("file")
    ve.set_defaults(fn=cmd_vendors)
    ls = sub.add_parser(
        "labelstudio", help="a local Label Studio for operators (start | stop | status)"
    )
    ls.add_argument("action", choices=["start", "stop", "status"], nargs="?", default="start")
    ls.add_argument(
        "--state",
        default=None,
        help="data, log, credentials (default: <home>/labelstudio; ./run.sh labelstudio: "
        ".docasset/labelstudio)",
    )
    ls.add_argument(
        "--document-root",
        default=None,
        help="Label Studio's LOCAL_FILES_DOCUMENT_ROOT: docasset's home (default) or a parent "
        "(several homes; then set resources.label_studio.config.document_root to it)",
    )
    ls.add_argument("--port", type=int, default=8080)
    ls.add_argument("--project", default="docasset review")
    ls.add_argument("--doc-type", default="receipt")
    ls.set_defaults(fn=cmd_labelstudio)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except DocassetError as exc:
        print(f"docasset: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:  # a file the user named, or the working directory: say which
        print(f"docasset: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
