"""Threshold hold-out splits: every accepted error is listed and counted."""

from __future__ import annotations

import spacy

from docasset.core.extraction.fields import load_doctype
from docasset.core.extraction.routing import RoutingConfig
from docasset.core.training.train import make_training_doc
from evals.calibration_splits import split_scores
from tests.core.training.test_train_extract import synth

RECEIPT = load_doctype("receipt")


def test_split_scores_count_what_the_thresholds_accepted_on_unseen_documents() -> None:
    nlp = spacy.blank("en")
    docs = [make_training_doc(nlp, RECEIPT, f"c{i}", *synth(500 + i))[0] for i in range(40)]
    # The gold entities stand in for a cross-fitted parse; one total is made wrong.
    parsed = {d.user_data["doc_id"]: d for d in docs}
    docs[0].user_data["fields"] = {**docs[0].user_data["fields"], "total": "0.01"}
    # 24 calibration documents cannot certify 99 % (299 checked values): the point estimate
    # (certainty 0) is what this counting test needs.
    out = split_scores(RECEIPT, docs, parsed, splits=3, folds=5, routing=RoutingConfig(certainty=0))
    assert out["documents"] == 40 and out["splits"] == 3
    per = out["per_field"]
    accepted = sum(f["accepted"] for f in per.values())
    assert accepted > 0 and out["field_automation"] == round(accepted / (3 * 16 * 4), 4)
    assert out["accepted_errors"] == len(out["errors"])
    assert all(e["doc"] == "c0" and e["field"] == "total" for e in out["errors"])
