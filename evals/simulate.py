"""Production simulation: replay a labelled folder as a weekly stream through the real graph.

    python -m evals.simulate --dataset DIR --bootstrap DIR --doc-type receipt --weeks N --out OUT

Week 0 trains the first model from the ``--bootstrap`` labelled folder (its documents go through
the inbox, are corrected from their keys, and the retrain job runs). Each following week a
batch of ``--dataset`` arrives in the inbox, the inbox sensor runs intake/OCR/predictions,
simulated operators correct every ``review`` document and a sample of ``auto`` documents
(errors found become corrections), the corrections sensor imports them, and the retraining
sensor and the accuracy gate decide on a new production model. Every step is a real Dagster
run on a temporary ``DAGSTER_HOME``; nothing goes around the assets.

Writes ``learning_curve.csv``, ``learning_curve.png`` and ``learning_curve.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from docasset.core.fields import DocType, values_match
from docasset.core.intake import Workdir
from docasset.core.labelled import LabelledDoc, read_labelled_folder
from docasset.core.markdown import table
from docasset.core.operators import source_to_doc_ids, write_corrections
from docasset.definitions import build_definitions
from docasset.defs.driver import LocalDriver
from docasset.defs.resources import Settings
from docasset.errors import LabelledDataError


@dataclass(frozen=True)
class SimConfig:
    """How the simulated production behaves."""

    weeks: int
    doc_type: str = "receipt"
    sample_rate: float = 0.1  # share of auto documents an operator double-checks
    retrain_at: int = 20
    epochs: int = 40
    seed: int = 0


def _drop(docs: list[LabelledDoc], prefix: str, wd: Workdir) -> dict[str, LabelledDoc]:
    """Copy documents into the inbox under unique names; stem -> labelled document."""
    out = {}
    for d in docs:
        stem = f"{prefix}{d.id}"
        shutil.copy2(d.image, wd.inbox / f"{stem}{d.image.suffix.lower()}")
        out[stem] = d
    return out


def _week_figures(
    doctype: DocType, preds: pl.DataFrame, truth: dict[str, dict[str, str]]
) -> tuple[dict[str, Any], set[str], dict[str, int]]:
    """Automation, auto accuracy and micro F1 of one week's predictions (before correction);
    the ids of wrong auto documents and per-document counts of wrong fields."""
    tp = fp = fn = 0
    n_auto = auto_ok = 0
    wrong_auto: set[str] = set()
    wrong_fields: dict[str, int] = {}
    for (doc_id,), rows in preds.partition_by("doc_id", as_dict=True).items():
        t = truth.get(str(doc_id), {})
        wrong = 0
        for r in rows.iter_rows(named=True):
            spec = doctype.spec(r["field"])
            tv = t.get(r["field"]) or None
            ok = values_match(spec, r["value"], tv)
            tp += bool(ok and tv is not None)
            fp += bool(r["value"] is not None and not ok)
            fn += bool(tv is not None and not ok)
            wrong += not ok
        wrong_fields[str(doc_id)] = wrong
        if rows["route"][0] == "auto":
            n_auto += 1
            auto_ok += wrong == 0
            if wrong:
                wrong_auto.add(str(doc_id))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    n = preds["doc_id"].n_unique()
    figures = {
        "documents": n,
        "automation_rate": n_auto / n if n else 0.0,
        "auto_accuracy": auto_ok / n_auto if n_auto else None,
        "micro_f1": 2 * p * r / (p + r) if p + r else 0.0,
    }
    return figures, wrong_auto, wrong_fields


def _retrain_outcome(runs: list[dg.ExecuteInProcessResult]) -> str:
    if not runs:
        return "not triggered"
    run = runs[-1]
    failed = [e.asset_check_key.name for e in run.get_asset_check_evaluations() if not e.passed]
    if run.success:
        return "promoted"
    return f"blocked by {', '.join(failed)}" if failed else "failed"


def simulate(
    dataset: Path, bootstrap: Path, out: Path, cfg: SimConfig, instance: dg.DagsterInstance
) -> pl.DataFrame:
    """Run the simulation; returns the learning curve (also written to ``out``)."""
    stream = read_labelled_folder(dataset)
    boot = read_labelled_folder(bootstrap)
    home = out / "work"
    wd = Workdir(home)
    settings = Settings(
        doc_type=cfg.doc_type, inbox_settle_seconds=0.0, retrain_min_corrections=cfg.retrain_at
    )
    doctype = settings.doctype()
    defs = build_definitions(str(home), settings)
    driver = LocalDriver(instance, defs, home)
    registry = defs.resources["home"].registry()  # type: ignore[attr-defined]
    train_cfg = {"ops": {"candidate_model": {"config": {"epochs": cfg.epochs, "seed": cfg.seed}}}}
    rng = random.Random(cfg.seed)
    rows: list[dict[str, Any]] = []

    # Week 0: the first model, trained from the bootstrap folder through the graph.
    names = _drop(boot, "boot-", wd)
    driver.tick("inbox_sensor")
    ids = source_to_doc_ids(wd)
    stamp = datetime.now(UTC).isoformat()
    recs = [
        {
            "doc_id": ids[s],
            "fields": d.fields,
            "annotator": "bootstrap",
            "timestamp": stamp,
            "verdict": None if d.fields else "irrelevant",
        }
        for s, d in names.items()
        if s in ids
    ]
    write_corrections(wd.corrections_inbox / "week00.jsonl", recs)
    driver.tick("corrections_sensor")
    runs = driver.tick("retrain_sensor", train_cfg) or [driver.run("retrain_job", None, train_cfg)]
    prod = registry.resolve("production")
    rows.append(
        {
            "week": 0,
            "documents": len(recs),
            "automation_rate": None,
            "auto_accuracy": None,
            "micro_f1": None,
            "fields_corrected": sum(len(r["fields"]) for r in recs),
            "production_version": prod.version if prod else None,
            "retrain": _retrain_outcome(runs),
        }
    )

    chunks = [stream[i :: cfg.weeks] for i in range(cfg.weeks)]
    for week, docs in enumerate(chunks, start=1):
        names = _drop(docs, f"w{week:02d}-", wd)
        [intake] = driver.tick("inbox_sensor")
        preds = intake.output_for_node("predictions")
        ids = source_to_doc_ids(wd)
        by_id = {ids[s]: d for s, d in names.items() if s in ids}
        truth = {i: d.fields for i, d in by_id.items()}
        figures, wrong_auto, wrong_fields = _week_figures(doctype, preds, truth)
        routes = dict(preds.select("doc_id", "route").unique().iter_rows())
        review = {i for i, r in routes.items() if r == "review"}
        auto = sorted(i for i, r in routes.items() if r == "auto")
        sampled = {i for i in auto if rng.random() < cfg.sample_rate}
        to_correct = review | (sampled & wrong_auto)
        stamp = datetime.now(UTC).isoformat()
        recs = [
            {
                "doc_id": i,
                "fields": by_id[i].fields,
                "annotator": "operator",
                "timestamp": stamp,
                "verdict": None if by_id[i].fields else "irrelevant",
            }
            for i in sorted(to_correct)
            if i in by_id
        ]
        if recs:
            write_corrections(wd.corrections_inbox / f"week{week:02d}.jsonl", recs)
            driver.tick("corrections_sensor")
        runs = driver.tick("retrain_sensor", train_cfg)
        prod = registry.resolve("production")
        rows.append(
            {
                "week": week,
                **figures,
                "fields_corrected": sum(wrong_fields.get(r["doc_id"], 0) for r in recs),
                "production_version": prod.version if prod else None,
                "retrain": _retrain_outcome(runs),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    curve = pl.DataFrame(rows, infer_schema_length=None)
    _write(curve, out)
    return curve


def _write(curve: pl.DataFrame, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve.write_csv(out / "learning_curve.csv")
    weeks = curve.filter(pl.col("week") > 0)
    fig, ax = plt.subplots(figsize=(7, 4))
    for col, label in (
        ("automation_rate", "automation rate"),
        ("auto_accuracy", "accuracy of auto docs"),
        ("micro_f1", "micro F1 before correction"),
    ):
        ax.plot(weeks["week"].to_list(), weeks[col].to_list(), marker="o", label=label)
    ax.set_xlabel("week")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("docasset production simulation")
    fig.tight_layout()
    fig.savefig(out / "learning_curve.png", dpi=110)
    plt.close(fig)
    md = [
        "# Learning curve",
        "",
        table(curve.iter_rows(named=True), curve.columns),
        "",
        "![learning curve](learning_curve.png)",
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
    p.add_argument("--sample-rate", type=float, default=0.1)
    p.add_argument("--retrain-at", type=int, default=20)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
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
    cfg = SimConfig(a.weeks, a.doc_type, a.sample_rate, a.retrain_at, a.epochs, a.seed)
    with tempfile.TemporaryDirectory(prefix="docasset-sim-") as dh:
        (Path(dh) / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        with dg.DagsterInstance.from_config(dh) as instance:
            try:
                curve = simulate(Path(a.dataset), Path(a.bootstrap), out, cfg, instance)
            except LabelledDataError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
    print(table(curve.iter_rows(named=True), curve.columns))
    written = ", ".join(str(out / f"learning_curve.{ext}") for ext in ("csv", "png", "md"))
    print(f"\nwritten: {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
