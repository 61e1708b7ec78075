"""Shadow evaluation: the checked documents production never trained on, compared paired."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import spacy

from docasset.core.evaluation.candidate import shadow_documents, shadow_summary
from docasset.core.evaluation.evaluate import GoldenScores, ModelEvaluation
from docasset.core.evaluation.metrics import FieldScore
from docasset.core.evaluation.report import shadow_blocks
from docasset.core.extraction.fields import load_doctype
from docasset.core.reporting.blocks import to_markdown

RECEIPT = load_doctype("receipt")


@dataclass
class _Version:
    info: dict[str, Any]


@dataclass
class _Registry:  # the registry's one call used here; real registries run in tests/defs
    infos: dict[str, dict[str, Any]] = field(default_factory=dict)

    def get(self, version: str) -> _Version:
        return _Version(self.infos[version])


@dataclass
class _Bundle:
    version: str | None


def _doc(doc_id: str):
    d = spacy.blank("en").make_doc("x")
    d.user_data["doc_id"] = doc_id
    return d


def test_shadow_documents_are_the_ones_production_never_trained_on() -> None:
    docs = [_doc(i) for i in ("a", "b", "c")]
    reg = _Registry({"v1": {"training_set": {"doc_ids": ["a"]}}, "v0": {}})
    got = shadow_documents(docs, reg, _Bundle("v1"))  # type: ignore[arg-type]
    assert [d.user_data["doc_id"] for d in got] == ["b", "c"]
    assert shadow_documents(docs, reg, None) == []  # no production model
    assert shadow_documents(docs, reg, _Bundle("v0")) == []  # type: ignore[arg-type]


def _scores(f1: float, accepted: float) -> GoldenScores:
    """Ten documents of one field: micro F1 ``f1``, ``accepted`` of them accepted, all right."""
    tp, acc = round(f1 * 10), round(accepted * 10)
    one = FieldScore(tp, 10 - tp, 10 - tp, n_truth=10, n=10, accepted=acc, accepted_right=acc)
    return GoldenScores({"total": one}, 10, 0, 0, 0.0)


def _ev(version: str, correct: dict[str, set[str]], accepted: float) -> ModelEvaluation:
    scores = _scores(0.8, accepted)
    truths = {d: {} for d in ("a", "b", "c")}
    return ModelEvaluation(version, scores, 0.0, 0.0, 1.0, [], correct, {}, truths)


def test_shadow_summary_pairs_documents_and_the_report_says_what_it_rests_on() -> None:
    cand = _ev("v2", {"company": {"a", "b"}, "total": {"a", "b", "c"}}, 0.5)
    prod = _ev("v1", {"company": {"a"}, "total": {"a", "b"}, "date": {"c"}}, 0.4)
    s = shadow_summary(RECEIPT, cand, prod)
    assert (s["n_docs"], s["docs_better"], s["docs_worse"]) == (3, 1, 0)  # b better; c even
    scores = _scores(0.9, 0.3)
    md = to_markdown(shadow_blocks(6, scores, scores, s))
    assert "| golden (frozen) | 6 |" in md
    assert "| shadow (checked since production, never trained on) | 3 |" in md
    assert "1 better / 0 worse" in md and "0.500 / 0.400" in md
    assert shadow_blocks(6, scores, None, s) == []  # no production: nothing to compare
