"""Production simulation: replay a labelled folder as a weekly stream through the real graph.

    python -m evals.simulate --dataset DIR --bootstrap DIR --doc-type receipt --weeks N --out OUT

Week 0 trains the first model from the ``--bootstrap`` labelled folder: its documents go
through the inbox, operators type every document's fields, and the retrain job runs. Each
following week the next slice of ``--dataset`` (in folder order) arrives in the inbox; the
inbox sensor runs intake -> OCR -> predictions -> review queue; simulated operators work the
review queue from the ground truth: every queued document is answered (``review`` documents
corrected; the QA-sampled automated documents (``--sample-rate``) and those holding accepted
fields asked blind as QA (``settings.qa.qa_rate``) confirmed or corrected: the answers feed
the calibration store). The corrections sensor imports them (which also feeds the
correction memory), and the retraining sensor and the ``accuracy_regression`` gate decide on
a new production model. Every step is a real Dagster run on a temporary ``DAGSTER_HOME``;
nothing goes around the assets.

Writes ``learning_curve.csv`` (one row per week, see ``COLUMNS``), ``learning_curve.png``,
``learning_curve.md``, ``accepted_errors.csv`` (every accepted field that was wrong, with the
evidence that accepted them and whether the QA sample asked it) and ``predictions/weekNN.jsonl``
(the week's predictions as ``docasset extract`` JSON lines) to ``--out``; the working directory
of the run is ``OUT/work``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from docasset.core.datasets.labelled import LabelledDoc, read_labelled_folder
from docasset.core.evaluation.candidate import EvaluationReport
from docasset.core.evaluation.metrics import operator_seconds, outcome
from docasset.core.extraction.calibration_store import read_evidence, store_dir
from docasset.core.extraction.certify import CERTIFICATION_META, precision_interval
from docasset.core.extraction.extract import MODEL_META
from docasset.core.extraction.fields import DocType, strict_match, validate_field
from docasset.core.extraction.prediction_table import from_frame, to_json
from docasset.core.reporting import plots
from docasset.core.reporting.blocks import md_table
from docasset.core.validation.checked import qa_accuracy
from docasset.core.workdir import Workdir
from docasset.definitions import build_definitions
from docasset.defs.driver import LocalDriver
from docasset.defs.settings import Settings
from docasset.errors import DocassetError, LabelledDataError
from docasset.sim.operators import source_to_doc_ids, write_corrections

COLUMNS = {
    "week": "0 = bootstrap (the first model), then one row per production week",
    "documents": "documents that arrived that week",
    "automation_rate": "share of the week's documents routed auto (touchless)",
    "auto_accuracy": "share of auto documents with every required field right",
    "field_automation": "share of the week's fields accepted (no operator check)",
    "accepted_field_accuracy": "share of accepted fields that are right (None: none accepted)",
    "accepted_field_accuracy_low": "lower end of its 95 % Clopper-Pearson interval",
    "accepted_field_accuracy_high": "upper end of its 95 % Clopper-Pearson interval",
    "accepted_field_accuracy_strict": "share of accepted fields that are exactly right (strict)",
    "accepted_errors": "accepted fields that are wrong (under equivalence)",
    "silent_errors": "accepted fields that are wrong and nobody was asked (not in the QA sample)",
    "touchless_rate": "share of documents with no field to check (= automation_rate)",
    "touchless_accuracy": "share of touchless documents with every required field right",
    "operator_seconds_per_doc": "estimated operator seconds per document: 10 s per field to "
    "check that is wrong or missing (keyed), 2 s per field to check that is right (confirmed), "
    "0 s per accepted field; QA work counts: fields asked blind as QA and QA-sampled touchless "
    "documents are checked like any others",
    "micro_f1": "exact-match micro F1 of the week's predictions, before any correction",
    "memory_fields": "fields filled from the correction memory",
    "review_docs": "documents routed to review",
    "qa_sampled": "automated documents in the review queue's QA sample",
    "qa_fields": "accepted fields asked blind as QA that week (answered: in the store)",
    "qa_accuracy": "share of the week's QA-asked accepted fields found right (equivalence)",
    "qa_low": "lower end of its 95 % Clopper-Pearson interval",
    "qa_high": "upper end of its 95 % Clopper-Pearson interval",
    "auto_errors_found": "sampled automated documents found wrong (they become corrections)",
    "docs_corrected": "documents in the week's corrections file",
    "fields_corrected": "fields operators had to change (or type, in week 0)",
    "model_version": "production model that predicted the week",
    "retrain": "not triggered | trained | blocked by <check> | failed at <step>",
    "candidate_version": "model version trained this week",
    "gate": "accuracy_regression outcome: passed | blocked | not reached",
    "gate_reasons": "why the gate blocked (or the first-model note)",
    "production_version": "production model at the end of the week",
    "certified": "per field of the production model at the end of the week: certified "
    "threshold (or none) @ checked values behind it, lower bound; or what is missing",
    "evidence": "per field: checked values in the calibration store pooled for it",
}


# What accepted_errors.csv says of each accepted field that was wrong.
SILENT = ("doc_id", "field", "value", "confidence", "source", "history", "memory_entry")
# ... plus "truth" and "qa" (asked blind in the QA sample: found, not silent)


@dataclass(frozen=True)
class SimConfig:
    """How the simulated production behaves."""

    weeks: int
    doc_type: str = "receipt"
    sample_rate: float = 0.1  # QA sample of automated documents (settings.qa.auto_sample_rate)
    retrain_at: int = 20  # settings.retrain.min_corrections
    epochs: int = 40
    seed: int = 0
    min_golden: int = 5
    ocr_engine: str | None = None  # settings.ocr.engine (None: the default, hybrid)
    certainty: float | None = None  # settings.routing.certainty (None: the default, 0.95)


def _drop(docs: list[LabelledDoc], prefix: str, wd: Workdir) -> dict[str, LabelledDoc]:
    """Copy documents into the inbox under unique names; stem -> labelled document."""
    out = {}
    for d in docs:
        stem = f"{prefix}{d.id}"
        shutil.copy2(d.image, wd.inbox / f"{stem}{d.image.suffix.lower()}")
        out[stem] = d
    return out


def _frame(runs: list[dg.ExecuteInProcessResult], node: str) -> pl.DataFrame | None:
    frames = []
    for r in runs:
        try:
            frames.append(r.output_for_node(node))
        except dg.DagsterInvariantViolationError:
            continue  # the step did not run (an upstream step failed or a gate blocked)
    return pl.concat(frames, how="diagonal_relaxed") if frames else None


def week_figures(
    doctype: DocType,
    preds: pl.DataFrame,
    truth: dict[str, dict[str, str]],
    sampled: set[str] | None = None,
    qa_fields: set[tuple[str, str]] | None = None,
) -> tuple[dict[str, Any], dict[str, int], list[dict[str, Any]]]:
    """Field and document automation with their accuracy, micro F1, memory use and operator
    seconds of one week's predictions (before correction, SROIE protocol; ``sampled``: the
    touchless documents of the QA sample, which operators check whole; ``qa_fields``: the
    accepted (document, field) pairs asked blind as QA); per document the number of wrong
    fields; and the accepted fields that are wrong (``silent`` when nobody was asked)."""
    tp = fp = fn = n_auto = auto_ok = n_fields = accepted = accepted_ok = strict_ok = 0
    n_silent = 0
    seconds = 0.0
    wrong_fields: dict[str, int] = {}
    silent: list[dict[str, Any]] = []
    for (doc_id,), rows in preds.partition_by("doc_id", as_dict=True).items():
        t = truth.get(str(doc_id), {})
        wrong = wrong_required = 0
        checked_whole = str(doc_id) in (sampled or set())
        for r in rows.iter_rows(named=True):
            spec = doctype.spec(r["field"])
            c = outcome(spec, r["value"], t.get(r["field"]) or None)
            tp, fp, fn = tp + c[0], fp + c[1], fn + c[2]
            bad = c[1] + c[2] > 0
            wrong += bad
            wrong_required += bad and spec.required
            n_fields += 1
            status = r["field_status"]
            asked = checked_whole or (str(doc_id), r["field"]) in (qa_fields or set())
            if status == "accepted":
                accepted += 1
                accepted_ok += not bad
                strict_ok += strict_match(spec, r["value"], t.get(r["field"]) or None)
                if bad:
                    n_silent += not asked
                    silent.append(
                        {
                            **{k: r.get(k) for k in SILENT},
                            "truth": t.get(r["field"]),
                            "qa": asked,
                        }
                    )
            seconds += operator_seconds("to_check" if asked else status, not bad)
        wrong_fields[str(doc_id)] = wrong
        if rows["route"][0] == "auto":
            n_auto += 1
            auto_ok += wrong_required == 0
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    n = preds["doc_id"].n_unique()
    low, high = precision_interval(accepted_ok, accepted) or (None, None)
    figures = {
        "documents": n,
        "automation_rate": n_auto / n if n else None,
        "auto_accuracy": auto_ok / n_auto if n_auto else None,
        "field_automation": accepted / n_fields if n_fields else None,
        "accepted_field_accuracy": accepted_ok / accepted if accepted else None,
        "accepted_field_accuracy_low": low,
        "accepted_field_accuracy_high": high,
        "accepted_field_accuracy_strict": strict_ok / accepted if accepted else None,
        "accepted_errors": accepted - accepted_ok,
        "silent_errors": n_silent,
        "touchless_rate": n_auto / n if n else None,
        "touchless_accuracy": auto_ok / n_auto if n_auto else None,
        "operator_seconds_per_doc": round(seconds / n, 2) if n else None,
        "micro_f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0,
        "memory_fields": int(preds["memory_entry"].is_not_null().sum()),
        "review_docs": n - n_auto,
    }
    return figures, wrong_fields, silent


def retrain_outcome(runs: list[dg.ExecuteInProcessResult]) -> dict[str, Any]:
    """What the week's retrain run did: trained?, which candidate, and the gate's verdict."""
    out: dict[str, Any] = {
        "retrain": "not triggered",
        "candidate_version": None,
        "gate": None,
        "gate_reasons": None,
    }
    if not runs:
        return out
    run = runs[-1]
    checks = {e.asset_check_key.name: e for e in run.get_asset_check_evaluations()}
    failed = [e.step_key for e in run.get_step_failure_events() if e.step_key]
    blocked = [n for n, e in checks.items() if not e.passed and n != "accuracy_regression"]
    try:
        out["candidate_version"] = run.output_for_node("candidate_model")["version"]
        out["retrain"] = "trained"
    except dg.DagsterInvariantViolationError:
        out["retrain"] = (
            f"blocked by {', '.join(blocked)}" if blocked else f"failed at {', '.join(failed)}"
        )
    gate = checks.get("accuracy_regression")
    if gate is None:
        out["gate"] = "not reached" if out["candidate_version"] else None
        if failed and out["candidate_version"]:
            out["gate_reasons"] = f"failed at {', '.join(failed)}"
    else:
        out["gate"] = "passed" if gate.passed else "blocked"
        out["gate_reasons"] = gate.description or None
    return out


def _all_qa(queue: pl.DataFrame | None, doc_id: str) -> bool:
    """Whether every accepted field of a queued document is asked as QA (the document
    sample, checked whole)."""
    if queue is None or "qa" not in queue.columns:
        return True
    rows = queue.filter(pl.col("doc_id") == doc_id)
    return bool(rows.filter(pl.col("field_status") == "to_check").height == rows.height)


def _correction(
    doc_id: str, truth: dict[str, str], annotator: str, stamp: str, doctype: DocType
) -> dict | None:
    """The correction an operator returns from the ground truth. A truth value the import
    would refuse (a labelling hole: one SROIE key has an empty total, vrdu keys hold
    truncated dates such as '3/15/202') is left unanswered, as an operator who cannot key a
    value would: a refused value rejects the whole file (the week's every correction). A
    document with an empty key is ``irrelevant``; one whose every value is a hole gets no
    correction (None)."""
    fields = {
        k: v
        for k, v in truth.items()
        if k in doctype.names and not validate_field(doctype.spec(k), v)
    }
    if truth and not fields:
        return None
    return {
        "doc_id": doc_id,
        "fields": fields,
        "annotator": annotator,
        "timestamp": stamp,
        "verdict": None if truth else "irrelevant",
    }


class Simulation:
    """One simulated deployment: its working directory, definitions and driver."""

    def __init__(self, out: Path, cfg: SimConfig, instance: dg.DagsterInstance) -> None:
        self.cfg = cfg
        self.home = out / "work"
        self.wd = Workdir(self.home)
        self.settings = Settings(
            doc_type=cfg.doc_type,
            inbox={"settle_seconds": 0.0},
            retrain={"min_corrections": cfg.retrain_at},
            split={"min_golden": cfg.min_golden},
            qa={"auto_sample_rate": cfg.sample_rate},
            **({"ocr": {"engine": cfg.ocr_engine}} if cfg.ocr_engine else {}),
            **({"routing": {"certainty": cfg.certainty}} if cfg.certainty is not None else {}),
        )
        self.doctype = self.settings.doctype()
        self.defs = build_definitions(str(self.home), self.settings)
        self.driver = LocalDriver(instance, self.defs, self.home)
        self.registry = self.defs.resources["registry"].store()  # type: ignore[index]
        self.train_cfg = {
            "ops": {"candidate_model": {"config": {"epochs": cfg.epochs, "seed": cfg.seed}}}
        }
        self.runs: list[tuple[str, dg.ExecuteInProcessResult]] = []  # (sensor or job, run)
        self.reports: list[EvaluationReport] = []  # every evaluation report, in order
        self.silent: list[dict[str, Any]] = []  # accepted fields that were wrong, per week

    def _tick(self, sensor: str, run_config: dict | None = None) -> list[dg.ExecuteInProcessResult]:
        runs = self.driver.tick(sensor, run_config)
        self._keep(sensor, runs)
        return runs

    def _keep(self, label: str, runs: list[dg.ExecuteInProcessResult]) -> None:
        self.runs += [(label, r) for r in runs]
        for r in runs:
            try:
                self.reports.append(r.output_for_node("evaluation_report"))
            except dg.DagsterInvariantViolationError:
                continue  # the run stopped before the evaluation

    def production(self) -> str | None:
        mv = self.registry.resolve("production")
        return mv.version if mv else None

    def _submit(self, name: str, recs: list[dict]) -> None:
        if recs:
            write_corrections(self.wd.corrections_inbox / name, recs)
            self._tick("corrections_sensor")

    def bootstrap(self, docs: list[LabelledDoc]) -> dict[str, Any]:
        """Week 0: the bootstrap documents through the inbox, typed by operators, first model."""
        names = _drop(docs, "boot-", self.wd)
        self._tick("inbox_sensor")
        ids = source_to_doc_ids(self.wd)
        stamp = datetime.now(UTC).isoformat()
        answers = (
            _correction(ids[s], d.fields, "bootstrap", stamp, self.doctype)
            for s, d in names.items()
            if s in ids
        )
        recs = [r for r in answers if r is not None]
        self._submit("week00.jsonl", recs)
        # The sensor fires once enough documents are corrected; a bootstrap set smaller than
        # retrain_at gets its first training run launched by hand, as an operator would.
        runs = self._tick("retrain_sensor", self.train_cfg)
        if not runs:
            runs = [self.driver.run("retrain_job", None, self.train_cfg)]
            self._keep("retrain_job", runs)
        return {
            "week": 0,
            "documents": len(docs),
            "docs_corrected": len(recs),
            "fields_corrected": sum(len([v for v in r["fields"].values() if v]) for r in recs),
            "model_version": None,
            **retrain_outcome(runs),
            "production_version": self.production(),
        }

    def week(
        self,
        week: int,
        docs: list[LabelledDoc],
        train_cfg: dict | None = None,
        retrain_by_hand: bool = False,
    ) -> dict[str, Any]:
        """One production week: arrive, predict, work the review queue, maybe retrain
        (``train_cfg``: this week's retrain run config, default the simulation's;
        ``retrain_by_hand``: launch the retrain job when the sensor does not, as an engineer
        would from the launchpad)."""
        model = self.production()
        names = _drop(docs, f"w{week:02d}-", self.wd)
        intake = self._tick("inbox_sensor")
        preds, queue = _frame(intake, "predictions"), _frame(intake, "review_queue")
        if preds is None:
            raise DocassetError(f"week {week}: the intake run failed, no predictions")
        ids = source_to_doc_ids(self.wd)
        truth = {ids[s]: d.fields for s, d in names.items() if s in ids}
        routes = dict(preds.select("doc_id", "route").unique("doc_id").iter_rows())
        queued = {d: "review" for d, r in routes.items() if r == "review"}
        if queue is not None and "queue_reason" in queue.columns:  # plus the QA sample
            queued |= dict(queue.select("doc_id", "queue_reason").unique("doc_id").iter_rows())
        sampled = {d for d, why in queued.items() if why != "review"}
        qa_fields: set[tuple[str, str]] = set()
        if queue is not None and "qa" in queue.columns:
            qa_fields = set(queue.filter(pl.col("qa")).select("doc_id", "field").iter_rows())
        # Touchless documents of the document sample are checked whole; elsewhere only the
        # accepted fields asked as QA are (qa_fields).
        whole = {d for d in sampled if routes.get(d) == "auto" and _all_qa(queue, d)}
        figures, wrong, silent = week_figures(self.doctype, preds, truth, whole, qa_fields)
        self.silent += [{"week": week, **e} for e in silent]
        errors_found = {d for d in sampled if wrong.get(d, 0)}
        # Operators answer every queued document: corrections of reviewed documents, and the
        # QA documents' values (right ones confirmed: QA measures right as well as wrong).
        stamp = datetime.now(UTC).isoformat()
        answers = (
            _correction(d, truth[d], "operator", stamp, self.doctype)
            for d in sorted(queued)
            if d in truth
        )
        recs = [r for r in answers if r is not None]
        self._submit(f"week{week:02d}.jsonl", recs)
        self._write_predictions(week, preds, {v: k for k, v in ids.items()}, names)
        qa = self._qa_figures(set(truth))
        runs = self._tick("retrain_sensor", train_cfg or self.train_cfg)
        if not runs and retrain_by_hand:
            runs = [self.driver.run("retrain_job", None, train_cfg or self.train_cfg)]
            self._keep("retrain_job", runs)
        return {
            "week": week,
            **figures,
            "qa_sampled": len(sampled),
            "qa_fields": len(qa_fields),
            **qa,
            "auto_errors_found": len(errors_found),
            "docs_corrected": len(recs),
            "fields_corrected": sum(wrong.get(r["doc_id"], 0) for r in recs),
            "model_version": model,
            **retrain_outcome(runs),
            "production_version": self.production(),
            **self._certification(),
        }

    def _write_predictions(
        self,
        week: int,
        preds: pl.DataFrame,
        stems: dict[str, str],
        names: dict[str, LabelledDoc],
    ) -> None:
        """The week's predictions as ``docasset extract`` JSON lines (``doc`` is the labelled
        folder's id, so an outside scorer can score them), under ``predictions/``."""
        out = self.home.parent / "predictions"
        out.mkdir(parents=True, exist_ok=True)
        lines = []
        for pred in from_frame(preds):
            stem = stems.get(pred.doc_id)
            doc = names[stem].id if stem in names else pred.doc_id
            lines.append(json.dumps(to_json(self.doctype, pred, doc), ensure_ascii=False))
        (out / f"week{week:02d}.jsonl").write_text("".join(x + "\n" for x in lines), "utf-8")

    def _qa_figures(self, doc_ids: set[str]) -> dict[str, Any]:
        """The accepted-field accuracy the week's blind QA answers measured (from the
        calibration store, as production_health reads it)."""
        store, _ = read_evidence(store_dir(self.registry.root))
        mine = store.filter(pl.col("doc_id").is_in(sorted(doc_ids))) if store.height else store
        q = qa_accuracy(mine)
        low, high = q["interval"] or (None, None)
        return {"qa_accuracy": q["accuracy"], "qa_low": low, "qa_high": high}

    def _certification(self) -> dict[str, str | None]:
        """The production model's certified thresholds and evidence, one line per column."""
        mv = self.registry.resolve("production")
        if mv is None:
            return {"certified": None, "evidence": None}
        meta = json.loads((Path(mv.path) / MODEL_META).read_text("utf-8"))
        certs: dict[str, dict[str, Any]] = meta.get(CERTIFICATION_META) or {}
        cert = "; ".join(
            f"{f} {c['threshold']:.2f} @ {c['accepted']} (lb {c['lower_bound']:.3f})"
            if c["certified"]
            else f"{f} none ({c['accepted']} checked, {c['errors']} wrong: needs {c['missing']}"
            + (
                f"; top-scored error {c['top_error']:.2f})"
                if c.get("top_error") is not None and not c["accepted"]
                else ")"
            )
            for f, c in certs.items()
        )
        evidence = "; ".join(
            f"{f} {c['evidence']} "
            + "("
            + ", ".join(f"{k} {v}" for k, v in sorted(c["by_source"].items()))
            + ")"
            for f, c in certs.items()
        )
        return {"certified": cert or None, "evidence": evidence or None}


def simulate(
    dataset: Path, bootstrap: Path, out: Path, cfg: SimConfig, instance: dg.DagsterInstance
) -> pl.DataFrame:
    """Run the simulation; returns the learning curve (also written to ``out``)."""
    stream = read_labelled_folder(dataset)
    boot = read_labelled_folder(bootstrap)
    if cfg.weeks < 1 or len(stream) < cfg.weeks:
        raise LabelledDataError(f"{dataset}: {len(stream)} documents for {cfg.weeks} week(s)")
    sim = Simulation(out, cfg, instance)
    rows = [sim.bootstrap(boot)]
    print(json.dumps(rows[-1]), flush=True)
    size, extra = divmod(len(stream), cfg.weeks)
    start = 0
    for week in range(1, cfg.weeks + 1):
        end = start + size + (week <= extra)  # contiguous slices: the folder order is arrival
        rows.append(sim.week(week, stream[start:end]))
        start = end
        print(json.dumps(rows[-1]), flush=True)
    curve = pl.DataFrame([{c: r.get(c) for c in COLUMNS} for r in rows], infer_schema_length=None)
    write_curve(curve, out, sim.settings.routing_config().target_precision)
    schema: dict[str, type[pl.DataType]] = {"week": pl.Int64}
    schema |= {c: pl.String for c in (*SILENT, "truth")}
    schema |= {"confidence": pl.Float64, "qa": pl.Boolean}
    pl.DataFrame(sim.silent, schema=schema).write_csv(out / "accepted_errors.csv")
    return curve


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def write_curve(curve: pl.DataFrame, out: Path, target: float) -> None:
    """``learning_curve.csv``, ``.png`` and ``.md`` (table, plot, reading notes)."""
    out.mkdir(parents=True, exist_ok=True)
    curve.write_csv(out / "learning_curve.csv")
    rows = list(curve.iter_rows(named=True))
    (out / "learning_curve.png").write_bytes(plots.learning_curve(rows, target))
    weeks = [r for r in rows if r["week"] > 0]
    notes = []
    if weeks:
        first, last = weeks[0], weeks[-1]
        accs = [r["auto_accuracy"] for r in weeks if r["auto_accuracy"] is not None]
        notes = [
            f"- field automation: week {first['week']} {_pct(first['field_automation'])} -> "
            f"week {last['week']} {_pct(last['field_automation'])}, accepted-field accuracy "
            + ", ".join(_pct(r["accepted_field_accuracy"]) for r in weeks),
            f"- automation rate: week {first['week']} {first['automation_rate']:.2f} -> "
            f"week {last['week']} {last['automation_rate']:.2f}",
            "- operator seconds per document: "
            + ", ".join(str(r["operator_seconds_per_doc"]) for r in weeks),
            f"- lowest weekly accuracy of auto documents: {min(accs):.3f} (target {target:.2f})"
            if accs
            else "- no document was automated",
            f"- models promoted: {sum(r['gate'] == 'passed' for r in rows)}; "
            f"blocked by the gate: {sum(r['gate'] == 'blocked' for r in rows)}",
            f"- fields corrected by people per week: "
            f"{', '.join(str(r['fields_corrected']) for r in weeks)}",
        ]
    md = [
        "# Learning curve",
        "",
        *notes,
        "",
        md_table(rows, list(curve.columns)),
        "",
        "![learning curve](learning_curve.png)",
        "",
        "Columns:",
        "",
        *(f"- `{c}`: {d}" for c, d in COLUMNS.items()),
        "",
    ]
    (out / "learning_curve.md").write_text("\n".join(md), "utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.simulate", description=__doc__)
    p.add_argument("--dataset", required=True, help="labelled folder replayed as the stream")
    p.add_argument("--bootstrap", required=True, help="labelled folder for the first model")
    p.add_argument("--doc-type", default="receipt")
    p.add_argument("--weeks", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--sample-rate", type=float, default=0.1, help="QA sample of auto documents")
    p.add_argument("--retrain-at", type=int, default=20, help="corrections per retraining")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-golden", type=int, default=5, help="golden documents before freezing")
    p.add_argument("--ocr-engine", help="settings.ocr.engine (default: the settings' default)")
    p.add_argument(
        "--certainty",
        type=float,
        help="settings.routing.certainty (default 0.95; 0: uncertified point estimates)",
    )
    a = p.parse_args(argv)
    for name in ("dataset", "bootstrap"):
        if not (Path(getattr(a, name)) / "img").is_dir():
            print(
                f"--{name} {getattr(a, name)}: not a labelled folder (no img/); for the SROIE "
                "receipts pass ../shared/sroie-dev or a split of it",
                file=sys.stderr,
            )
            return 2
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = SimConfig(
        a.weeks,
        a.doc_type,
        a.sample_rate,
        a.retrain_at,
        a.epochs,
        a.seed,
        a.min_golden,
        a.ocr_engine,
        a.certainty,
    )
    with tempfile.TemporaryDirectory(prefix="docasset-sim-") as dh:
        (Path(dh) / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        with dg.DagsterInstance.from_config(dh) as instance:
            try:
                curve = simulate(Path(a.dataset), Path(a.bootstrap), out, cfg, instance)
            except DocassetError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
    print(md_table(curve.iter_rows(named=True), curve.columns))
    written = ", ".join(str(out / f"learning_curve.{ext}") for ext in ("csv", "png", "md"))
    print(f"\nwritten: {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
