"""Choose the hybrid engine's escalation policy from cached Tesseract and RapidOCR runs.

    python -m evals.escalation --dataset ../shared/sroie-dev \\
        --tesseract-cache T.json --rapidocr-cache R.json --ids 000-099 [--f1 POLICY ...]

The caches are ``evals.ocr_quality --engine ... --ocr-cache`` runs (their word tables, one
per engine, each page read once). For every policy of a grid (``min_page_conf``,
``on_missing_fields``, ``min_field_strength``) the hybrid decision is replayed on the chosen
receipts with the functions the engine itself uses (``page_is_hard``, ``document_is_hard``,
``combine_pages``): the share of pages re-read, the estimated OCR CPU per page (Tesseract's
per page plus RapidOCR's per re-read page, both measured by the caches' runs) and its ratio to
Tesseract's, the key values found and the CER. ``review_share`` says how many documents a
model trained on the first 60 % of the ids (Tesseract text) would route to review among the
others: the cost of the ``on_review`` evidence.

With ``--f1`` (policies named ``conf=70,fields=1,strength=0``) a model is trained per policy
on the first 60 % of the ids with the hybrid texts (``evals.run``'s protocol: dev fraction
0.4, 40 epochs, seed 0) and scored on the rest: micro F1 and automation. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from docasset.core.datasets.labelled import LabelledDoc, read_labelled_folder
from docasset.core.datasets.offline import train_labelled
from docasset.core.evaluation.metrics import score
from docasset.core.extraction.extract import predict_documents
from docasset.core.extraction.fields import load_doctype
from docasset.core.extraction.ocr_escalation import document_is_hard
from docasset.core.intake.scans import PageQuality
from docasset.core.ocr.hybrid import EscalationConfig, combine_pages, page_is_hard
from docasset.core.ocr.text import document_text
from docasset.core.training.train import TrainConfig
from evals.ocr_quality import load_receipts, normalise, score_texts

RECEIPT = load_doctype("receipt")
CONFS = (0.0, 60.0, 65.0, 70.0, 75.0, 80.0, 85.0, 101.0)
STRENGTHS = (0.0, 0.5, 0.75, 1.0)
# SROIE pages are photographs of receipts, none blank: the page measure only says so.
NOT_BLANK = PageQuality(None, None, 100.0, 0.5, 0.0, 0.1, 10, False)


def _words(cache: Path) -> dict[str, pl.DataFrame]:
    words = pl.read_parquet(cache.with_name(cache.name + ".words.parquet"))
    return {str(k[0]): g.drop("key") for k, g in words.partition_by("key", as_dict=True).items()}


def _policy(spec: str) -> EscalationConfig:
    parts = dict(p.split("=") for p in spec.split(","))
    return EscalationConfig(
        min_page_conf=float(parts.get("conf", 70)),
        on_missing_fields=parts.get("fields", "1") == "1",
        min_field_strength=float(parts.get("strength", 0)),
    )


def _name(c: EscalationConfig) -> str:
    fields = int(c.on_missing_fields)
    return f"conf={c.min_page_conf:g},fields={fields},strength={c.min_field_strength:g}"


def hybrid_texts(
    ids: list[str],
    tess: dict[str, pl.DataFrame],
    rapid: dict[str, pl.DataFrame],
    config: EscalationConfig,
) -> tuple[dict[str, str], int, int]:
    """Replay the hybrid decision: texts, pages re-read, pages."""
    texts: dict[str, str] = {}
    reread = pages = 0
    empty = pl.DataFrame(schema=next(iter(tess.values())).schema)
    for rid in ids:
        t, r = tess.get(rid, empty), rapid.get(rid, empty)
        page_ids = sorted(set(t["page"].to_list()) | set(r["page"].to_list())) or [0]
        t_pages = {p: t.filter(pl.col("page") == p) for p in page_ids}
        r_pages = {p: r.filter(pl.col("page") == p) for p in page_ids}
        chosen = {p for p in page_ids if page_is_hard(t_pages[p], NOT_BLANK, config)}
        doc_id = (t if t.height else r)["doc_id"][0] if (t.height or r.height) else rid
        text = document_text(combine_pages(t_pages, {p: r_pages[p] for p in chosen}), doc_id)
        rest = [p for p in page_ids if p not in chosen]
        if rest and document_is_hard(RECEIPT, text, config):
            chosen |= set(rest)
        words = combine_pages(t_pages, {p: r_pages[p] for p in chosen})
        texts[rid] = document_text(words, doc_id)
        reread += len(chosen)
        pages += len(page_ids)
    return texts, reread, pages


def _key_found(docs: list[LabelledDoc], texts: dict[str, str]) -> dict[str, float]:
    def squash(s: str) -> str:
        return "".join(s.split()).lower()

    out: dict[str, float] = {}
    hits_all: list[bool] = []
    for spec in RECEIPT.fields:
        hits = [
            squash(d.fields[spec.name]) in squash(texts.get(d.id, ""))
            for d in docs
            if d.fields.get(spec.name, "").strip()
        ]
        out[spec.name] = round(sum(hits) / len(hits), 4) if hits else 0.0
        hits_all += hits
    out["all"] = round(sum(hits_all) / len(hits_all), 4) if hits_all else 0.0
    return out


def _train_score(
    train: list[LabelledDoc], test: list[LabelledDoc], texts: dict[str, str], name: str
) -> dict[str, Any]:
    model = train_labelled(
        train, texts, RECEIPT, TrainConfig(epochs=40, seed=0), 0.4, {"engine": name}, "sim"
    )
    preds = predict_documents(model.bundle, RECEIPT, {d.id: texts[d.id] for d in test})
    s = score(RECEIPT, preds, {d.id: d.fields for d in test})
    return {
        "micro_f1": round(s.micro.f1, 4),
        "f1": {k: round(v.f1, 4) for k, v in s.fields.items()},
        "automation_rate": round(s.automation_rate, 4),
        "routed_to_review": sum(p.route == "review" for p in preds),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.escalation", description=__doc__)
    p.add_argument("--dataset", type=Path, default=Path("../shared/sroie-dev"))
    p.add_argument("--tesseract-cache", type=Path, required=True)
    p.add_argument("--rapidocr-cache", type=Path, required=True)
    p.add_argument("--ids", default="000-099", help="id range FIRST-LAST (the training half)")
    p.add_argument("--f1", nargs="*", default=[], help="policies to train and score")
    args = p.parse_args(argv)
    if not (args.dataset / "img").is_dir():
        print(f"{args.dataset}: not a labelled folder", file=sys.stderr)
        return 2
    lo, hi = args.ids.split("-")
    docs = [d for d in read_labelled_folder(args.dataset) if lo <= d.id <= hi]
    ids = [d.id for d in docs]
    receipts = [r for r in load_receipts(args.dataset, None) if r.rid in set(ids)]
    tess, rapid = _words(args.tesseract_cache), _words(args.rapidocr_cache)
    costs = {
        e: json.loads(c.read_text("utf-8"))["cost"]["cpu_s_per_page"]
        for e, c in (("tesseract", args.tesseract_cache), ("rapidocr", args.rapidocr_cache))
    }
    grid: list[dict[str, Any]] = []
    policies = [EscalationConfig(min_page_conf=c, on_missing_fields=False) for c in CONFS]
    policies += [
        EscalationConfig(min_page_conf=c, min_field_strength=s) for c in CONFS for s in STRENGTHS
    ]
    for config in policies:
        texts, reread, pages = hybrid_texts(ids, tess, rapid, config)
        share = reread / pages
        cpu = costs["tesseract"] + share * costs["rapidocr"]
        norm = {k: normalise(t.splitlines()) for k, t in texts.items()}
        grid.append(
            {
                "policy": _name(config),
                "reread_share": round(share, 3),
                "cpu_s_per_page": round(cpu, 3),
                "cpu_vs_tesseract": round(cpu / costs["tesseract"], 2),
                "key_found": _key_found(docs, texts),
                "cer_ci_mean": score_texts("", 0, receipts, norm, 0, 0.0, 0.0).cer_ci_mean,
            }
        )
    cut = round(len(ids) * 0.6)
    train, test = docs[:cut], docs[cut:]
    tess_texts = {rid: document_text(w, w["doc_id"][0]) for rid, w in tess.items()}
    baseline = _train_score(train, test, tess_texts, "tesseract")
    f1 = {}
    for spec in args.f1:
        config = _policy(spec)
        texts, _, _ = hybrid_texts(ids, tess, rapid, replace(config))
        f1[_name(config)] = _train_score(train, test, texts, "hybrid")
    out = {
        "ids": args.ids,
        "cpu_s_per_page_measured": costs,
        "review_share": round(baseline["routed_to_review"] / len(test), 3),
        "tesseract_model": baseline,
        "grid": grid,
        "f1": f1,
    }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
