"""Measure "never the same mistake twice": after an operator corrects one document of a vendor,
does the vendor's next scan get those fields right (through the correction memory, before any
retraining)?

A model is trained on the documents of a few vendors; every other vendor of the fixture
catalogue is held out. Per held-out vendor and pair: document A is corrected (ground truth, as
an operator would type it), the memory learns from it, and document B - a new scan of the same
vendor - is predicted by the same model without and with the memory. Reported per field
(company, address, total): how often the memory recalled a value for B and how often that value
was right (independent of the model), the share of B documents right before and after, and how
many wrong fields the memory fixed or broke. A weak model (``--train 6 --epochs 3``) shows the
fixes; the default model shows that the memory does not break what was already right.

    python -m evals.never_twice --pairs 2 --train 16 --out never-twice.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from docasset.core.datasets.labelled import read_labelled_folder
from docasset.core.datasets.offline import ocr_files, split_docs, training_docs
from docasset.core.extraction.extract import predict_documents
from docasset.core.extraction.fields import load_doctype, values_match
from docasset.core.training.train import TrainConfig, train_model
from docasset.core.validation.corrections import import_file, read_store
from docasset.core.validation.memory import CorrectionMemory, vendor_history
from docasset.sim.synthetic.generate import generate, vendor_catalogue

FIELDS = ("company", "address", "total")


def measure(
    work: Path, n_train: int, train_vendors: int, pairs: int, epochs: int, seed: int
) -> dict:
    """Train, correct A, predict B without/with memory; the per-field counts."""
    doctype = load_doctype("receipt")
    vendors = vendor_catalogue()
    known, held_out = vendors[:train_vendors], vendors[train_vendors:]
    generate(work / "train", n_train, seed=seed, vendors=known, prefix="t-")
    labelled = read_labelled_folder(work / "train")
    ocr = ocr_files([(d.id, d.image) for d in labelled])
    docs, _ = training_docs(labelled, ocr.texts, doctype)
    train, dev = split_docs(docs, 0.25)
    bundle, _ = train_model(train, dev, doctype, TrainConfig(epochs=epochs, seed=seed))

    pair_docs = []
    for i, vendor in enumerate(held_out):
        for p in range(pairs):
            a, b = generate(
                work / "pairs",
                2,
                seed=seed + 1000 + 10 * i + p,
                vendors=[vendor],
                prefix=f"v{i}p{p}-",
            )
            pair_docs.append((vendor, a, b))
    texts = ocr_files([(d.id, d.image_path) for _, a, b in pair_docs for d in (a, b)]).texts

    counts = {
        f: {
            "n": 0,
            "memory_hits": 0,
            "memory_right": 0,
            "right_before": 0,
            "right_after": 0,
            "fixed": 0,
            "broken": 0,
        }
        for f in FIELDS
    }
    per_vendor: dict[str, dict[str, int]] = {}
    for k, (vendor, a, b) in enumerate(pair_docs):
        if a.id not in texts or b.id not in texts:
            continue
        root = work / f"mem{k}"
        corr = root / "c.jsonl"
        root.mkdir()
        corr.write_text(
            json.dumps(
                {
                    "doc_id": a.id,
                    "fields": a.fields,
                    "annotator": "eval",
                    "timestamp": "2026-01-01T00:00:00Z",
                }
            )
            + "\n"
        )
        import_file(corr, root / "store", doctype, {a.id})
        memory = CorrectionMemory(root / "memory")
        memory.learn(read_store(root / "store"), {a.id: texts[a.id]})
        history = vendor_history(texts[b.id], memory.entries())
        hits = {f: (h.value, h.start, h.end) for f, h in (history.hits if history else {}).items()}
        [before] = predict_documents(bundle, doctype, {b.id: texts[b.id]})
        [after] = predict_documents(
            bundle, doctype, {b.id: texts[b.id]}, None, {b.id: history} if history else None
        )
        v = per_vendor.setdefault(vendor, {"pairs": 0, "fields_fixed": 0, "fields_wrong_after": 0})
        v["pairs"] += 1
        for f in FIELDS:
            truth = b.fields.get(f)
            ok0 = values_match(doctype.spec(f), before.fields[f].value, truth)
            ok1 = values_match(doctype.spec(f), after.fields[f].value, truth)
            c = counts[f]
            c["n"] += 1
            if f in hits:
                c["memory_hits"] += 1
                c["memory_right"] += values_match(doctype.spec(f), hits[f][0], truth)
            c["right_before"] += ok0
            c["right_after"] += ok1
            c["fixed"] += ok1 and not ok0
            c["broken"] += ok0 and not ok1
            v["fields_fixed"] += ok1 and not ok0
            v["fields_wrong_after"] += not ok1
    for c in counts.values():
        c["share_before"] = round(c["right_before"] / c["n"], 3) if c["n"] else None
        c["share_after"] = round(c["right_after"] / c["n"], 3) if c["n"] else None
    return {
        "train_vendors": known,
        "held_out_vendors": held_out,
        "pairs": len(pair_docs),
        "fields": counts,
        "per_vendor": per_vendor,
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--train", type=int, default=16, help="training documents")
    p.add_argument("--train-vendors", type=int, default=5)
    p.add_argument("--pairs", type=int, default=2, help="(A, B) pairs per held-out vendor")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        res = measure(Path(tmp), a.train, a.train_vendors, a.pairs, a.epochs, a.seed)
    text = json.dumps(res, indent=1)
    if a.out:
        a.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
