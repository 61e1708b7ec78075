from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from docasset.core.evaluation.candidate import EvaluationReport, Latency
from docasset.core.evaluation.error_analysis import analyse, doc_errors, find_value
from docasset.core.evaluation.evaluate import GoldenScores, ModelEvaluation, evaluate_predictions
from docasset.core.evaluation.gate import (
    GateConfig,
    GateVerdict,
    evidence_change,
    regression_verdict,
)
from docasset.core.evaluation.metrics import FieldScore, automation_at_precision
from docasset.core.evaluation.report import build_report, write_report
from docasset.core.extraction.certify import certify
from docasset.core.extraction.fields import load_doctype
from docasset.core.extraction.routing import Blocker, DocPrediction, FieldPrediction
from docasset.core.reporting.blocks import to_markdown

RECEIPT = load_doctype("receipt")


def _scores(f1: dict[str, float], auto: float = 0.5, fields_accepted: float = 0.0) -> GoldenScores:
    """Scores of ten documents with these per-field F1 (a wrong value: a false positive and a
    false negative), touchless share and share of fields accepted."""
    fields = {}
    for name, value in f1.items():
        tp = round(value * 10)
        fields[name] = FieldScore(
            tp, 10 - tp, 10 - tp, n_truth=10, n=10, accepted=round(fields_accepted * 10)
        )
    return GoldenScores(fields, 10, round(auto * 10), round(auto * 10), 0.0)


def _eval(
    f1: dict[str, float], correct: dict[str, set[str]], auto: float = 0.5, p95: float = 0.01
) -> ModelEvaluation:
    return ModelEvaluation("v", _scores(f1, auto), 0.01, p95, 100.0, [], correct)


DOCS = {f"d{i}" for i in range(10)}
BASE = {k: 1.0 for k in RECEIPT.names}
ALL = {k: set(DOCS) for k in RECEIPT.names}


def test_first_model_passes() -> None:
    v = regression_verdict(RECEIPT, _eval(BASE, ALL), None, GateConfig())
    assert v.passed and v.first_model and not v.findings
    assert "no production model" in v.reasons[0]


def test_field_regression_blocks_when_several_documents_flip() -> None:
    cand = {**ALL, "total": DOCS - {"d1", "d2", "d3"}}
    v = regression_verdict(
        RECEIPT, _eval({**BASE, "total": 0.7}, cand), _eval(BASE, ALL), GateConfig()
    )
    assert not v.passed and v.reasons[0].startswith("total F1 dropped")
    assert "3 golden documents newly wrong" in v.reasons[0]
    [f] = v.findings  # the finding carries its numbers: nothing is parsed from the text
    assert (f.kind, f.field, f.production, f.candidate) == ("f1_drop", "total", 1.0, 0.7)
    assert f.limit == 1.0 - GateConfig().f1_tolerance


def test_a_single_flip_is_noise() -> None:
    cand = {**ALL, "total": DOCS - {"d1"}}
    v = regression_verdict(
        RECEIPT, _eval({**BASE, "total": 0.9}, cand), _eval(BASE, ALL), GateConfig()
    )
    assert v.passed and not v.first_model
    strict = GateConfig(min_net_docs=1)
    assert not regression_verdict(
        RECEIPT, _eval({**BASE, "total": 0.9}, cand), _eval(BASE, ALL), strict
    ).passed


def test_automation_and_latency_regressions_block() -> None:
    prod = _eval(BASE, ALL, auto=0.6, p95=0.04)
    auto = regression_verdict(RECEIPT, _eval(BASE, ALL, auto=0.4, p95=0.04), prod, GateConfig())
    assert not auto.passed and [f.kind for f in auto.findings] == ["automation_drop"]
    slow = regression_verdict(RECEIPT, _eval(BASE, ALL, auto=0.6, p95=0.5), prod, GateConfig())
    assert not slow.passed and "latency" in slow.reasons[0]
    assert [(f.kind, f.candidate) for f in slow.findings] == [("latency", 0.5)]


# ---- scores with intervals, automation at target, error analysis, the report -----------------


def _pred(doc_id: str, values: dict[str, tuple[str | None, float]], text: str) -> DocPrediction:
    fields = {}
    for name in RECEIPT.names:
        value, conf = values.get(name, (None, 0.0))
        start = text.find(value) if value else 0
        fields[name] = FieldPrediction(
            value, max(start, 0), max(start, 0) + len(value or ""), "model", "b", conf
        )
    blockers = [Blocker("missing", n) for n in RECEIPT.required if fields[n].value is None]
    return DocPrediction(doc_id, fields, "review" if blockers else "auto", blockers, "v1")


TEXT = "ACME SDN BHD\nNO 1 JALAN SATU\n01/02/2019\nTOTAL RM 9.00\n"
TRUTH = {
    "company": "ACME SDN BHD",
    "address": "NO 1 JALAN SATU",
    "date": "01/02/2019",
    "total": "9.00",
}
RIGHT = {k: (v, 0.99) for k, v in TRUTH.items()}


def _golden() -> tuple[list[DocPrediction], dict[str, str], dict[str, dict[str, str]]]:
    """Eight right documents, one with the address taken for the company (confidently, so
    automated: a silent error), one with the total missing."""
    preds = [_pred(f"ok{i}", RIGHT, TEXT) for i in range(8)]
    preds.append(_pred("swap", {**RIGHT, "company": ("NO 1 JALAN SATU", 0.995)}, TEXT))
    preds.append(_pred("miss", {k: v for k, v in RIGHT.items() if k != "total"}, TEXT))
    ids = [p.doc_id for p in preds]
    return preds, dict.fromkeys(ids, TEXT), dict.fromkeys(ids, TRUTH)


def test_bootstrap_intervals_bracket_the_scores_and_are_reproducible() -> None:
    preds, texts, truths = _golden()
    ev = evaluate_predictions(RECEIPT, "v1", preds, [0.01] * 10, texts, truths, n_bootstrap=500)
    ci = ev.scores.ci
    assert ci["date"]["f1"] == [1.0, 1.0]  # never wrong: no uncertainty left
    for name in ("company", "total", "micro"):
        value = ev.scores.f1(name)
        lo, hi = ci[name]["f1"]
        assert lo < value <= hi <= 1.0, (name, lo, value, hi)
    again = evaluate_predictions(RECEIPT, "v1", preds, [0.01] * 10, texts, truths, n_bootstrap=500)
    assert again.scores.ci == ci


def test_automation_at_target_precision() -> None:
    # Ranked by confidence: 8 right, then a wrong one (0.5), then a right one.
    docs = [(0.9, True)] * 8 + [(0.5, False), (0.4, True)]
    assert automation_at_precision(docs, 0.98) == (0.8, 0.9)
    assert automation_at_precision(docs, 0.85)[0] == 1.0  # 9 right of 10 >= 0.85
    assert automation_at_precision([(0.9, False)], 0.98) == (0.0, 1.01)
    assert automation_at_precision([(0.0, True)], 0.5) == (0.0, 1.01)  # never automatable
    preds, texts, truths = _golden()
    ev = evaluate_predictions(RECEIPT, "v1", preds, [0.01] * 10, texts, truths)
    # The swapped company has the highest confidence: nothing reaches 98 % before it.
    assert ev.scores.automation_at_target == 0.0
    assert ev.scores.automation_rate == 0.9 and ev.scores.auto_accuracy == 8 / 9


def test_error_analysis_shows_ocr_context_and_confusions() -> None:
    preds, texts, truths = _golden()
    docs, fields = analyse(RECEIPT, preds, texts, truths, n_worst=5, chars=10)
    assert [d.doc_id for d in docs] == ["swap", "miss"]  # the silent (automated) error first
    [err] = docs[0].errors
    assert (err.field, err.kind, err.predicted) == ("company", "wrong", "NO 1 JALAN SATU")
    assert err.truth_context == "⟦ACME SDN BHD⟧ ⏎ NO 1 JALA…"
    assert err.predicted_context == "…E SDN BHD ⏎ ⟦NO 1 JALAN SATU⟧ ⏎ 01/02/201…"
    assert docs[1].errors[0].kind == "missed"
    by_field = {c.field: c for c in fields}
    assert by_field["company"].took_value_of == {"address": 1}
    assert (by_field["total"].missed, by_field["total"].errors) == (1, 1)
    assert find_value("a  Acme\nSdn BHD b", "ACME SDN BHD") == (3, 15)
    assert find_value("nothing here", "ACME") is None


def test_report_renders_markdown_with_plots_and_standalone_html(tmp_path: Path) -> None:
    preds, texts, truths = _golden()
    cand = evaluate_predictions(RECEIPT, "v2", preds, [0.01] * 10, texts, truths)
    prod = evaluate_predictions(
        RECEIPT, "v1", [_pred(p.doc_id, RIGHT, TEXT) for p in preds], [0.01] * 10, texts, truths
    )
    v = regression_verdict(RECEIPT, cand, prod, GateConfig(min_net_docs=1))
    passed, reasons = v.passed, v.reasons
    assert not passed
    analysis = analyse(RECEIPT, cand.predictions, texts, truths)
    blocks = build_report(
        RECEIPT, cand, prod, passed, reasons, analysis, True, v.findings, GateConfig()
    )
    md = to_markdown(blocks)
    assert md.startswith("# Evaluation: candidate v2 vs production v1")
    assert "**BLOCKED**" in md and "total F1 dropped" in md
    assert md.count("](data:image/png;base64,") == 3  # F1, automation, calibration
    assert md.splitlines()[2].startswith("**Decision: keep v1** (v2 is blocked")
    assert "Next step: open the error analysis below for company, total" in md
    assert "| company | yes | 0.900 (9/10) [0.60, 0.98] |" in md  # precision, Wilson interval
    # 10 golden documents cannot show a 5-point drop with 2 net flips: said, with the rule.
    assert "**Warning: 10 golden documents are too few for this decision** (minimum 40)" in md
    assert "| accuracy of accepted fields | no accepted fields | no accepted fields |  |" in md
    assert "Most confused fields" in md and "address (1)" in md
    assert "| `p. 1: ACME SDN BHD ⏎ ⟦NO 1 JALAN SATU⟧ ⏎ 01/02/2019" in md
    paths = write_report(tmp_path / "v2", blocks, {"passed": passed}, "evaluation v2")
    on_disk = paths["md"].read_text()
    assert "![per-field F1](f1.png)" in on_disk and (tmp_path / "v2" / "f1.png").is_file()
    page = paths["html"].read_text()
    assert page.startswith("<!doctype html>") and page.count('src="data:image/png;base64,') == 3
    assert "<b>BLOCKED</b>" in page and "<table>" in page and "http" not in page  # standalone
    assert json.loads(paths["json"].read_text()) == {"passed": False}


def test_error_analysis_names_the_page() -> None:
    from docasset.core.ocr.text import page_of

    text = "ORDER KXYZ\nContract 1\n\nGross Total $10.00\nNet $8.50"
    assert [page_of(text, text.index(s)) for s in ("ORDER", "Contract", "Gross", "Net")] == [
        0,
        0,
        1,
        1,
    ]
    preds, _, _ = _golden()
    one = preds[0]
    fields = dict(one.fields)
    total = fields["total"]
    start = text.index("8.50")
    fields["total"] = dataclasses.replace(total, value="8.50", start=start, end=start + 4)
    pred = dataclasses.replace(one, fields=fields)
    assert isinstance(pred, DocPrediction)
    errors = doc_errors(RECEIPT, pred, text, {"total": "10.00"}, chars=5)
    [err] = [e for e in errors if e.field == "total"]
    assert (err.truth_page, err.predicted_page) == (1, 1)


def test_a_promoted_candidate_on_six_documents_gets_honest_intervals() -> None:
    from docasset.core.evaluation.intervals import min_documents, proportion, wilson

    lo, hi = wilson(6, 6)  # type: ignore[misc]
    assert 0.60 < lo < 0.62 and hi == 1.0  # never [1.00, 1.00]
    assert wilson(0, 0) is None and proportion(0, 0, "no accepted fields") == "no accepted fields"
    assert proportion(5, 6, "-") == "0.833 (5/6) [0.44, 0.97]"
    assert min_documents(2, 0.05) == 40
    preds, texts, truths = _golden()
    right = [_pred(p.doc_id, RIGHT, TEXT) for p in preds][:6]
    cand = evaluate_predictions(RECEIPT, "v3", right, [0.01] * 6, texts, truths)
    prod = evaluate_predictions(RECEIPT, "v2", right, [0.01] * 6, texts, truths)
    v = regression_verdict(RECEIPT, cand, prod, GateConfig())
    assert v.passed
    md = to_markdown(build_report(RECEIPT, cand, prod, True, v.reasons, ([], []), True, v.findings))
    assert md.splitlines()[2].startswith("**Decision: promote v3** (production moves from v2")
    assert "too few for this decision** (minimum 40)" in md
    assert "[1.00, 1.00]" not in md and "1.000 (6/6) [0.61, 1.00]" in md


# ---- certified thresholds in the gate and the report ------------------------------------------


def _certs(evidence: dict[str, int]) -> dict[str, dict]:
    return {
        name: certify(name, [(0.95, True)] * n, 0.99, 0.95, by_source={"fold": n}).as_dict()
        for name, n in evidence.items()
    }


def test_a_drop_in_fields_accepted_names_the_evidence_that_shrank() -> None:
    prod_scores = _scores(BASE, auto=0.2, fields_accepted=0.4)
    cand_scores = _scores(BASE, auto=0.2, fields_accepted=0.1)
    prod = ModelEvaluation("v1", prod_scores, 0.01, 0.01, 1.0, [], ALL)
    cand = ModelEvaluation("v2", cand_scores, 0.01, 0.01, 1.0, [], ALL)
    before, after = _certs({"date": 320, "total": 40}), _certs({"date": 120, "total": 60})
    v = regression_verdict(RECEIPT, cand, prod, GateConfig(), after, before)
    assert [f.kind for f in v.findings] == ["field_automation_drop"]
    assert (
        "evidence that shrank: date 320 -> 120 checked values (certified -> none)" in v.reasons[0]
    )
    assert "total" not in v.reasons[0]  # its evidence grew


def test_a_threshold_lost_with_more_evidence_is_not_called_shrinking() -> None:
    """The demo's typo (routing.min_support 1000): more checked values, no threshold."""
    before = _certs({"date": 320})
    after = {"date": {**_certs({"date": 330})["date"], "certified": False}}
    text = evidence_change(after, before)
    assert "shrank" not in text
    assert "thresholds lost with as much evidence or more: date 320 -> 330" in text


def test_report_shows_certified_thresholds_and_what_is_missing() -> None:
    preds, texts, truths = _golden()
    cand = evaluate_predictions(RECEIPT, "v2", preds, [0.01] * 10, texts, truths)
    analysis = analyse(RECEIPT, cand.predictions, texts, truths)
    certs = _certs({"company": 0, "address": 10, "date": 300, "total": 250})
    md = to_markdown(
        build_report(RECEIPT, cand, None, True, [], analysis, True, certification=certs)
    )
    assert "## Certified thresholds" in md
    assert "| date | 0.950 | 300 |" in md and "300 (0 wrong) | 0.9901" in md
    assert "needs 49 more checked values with no error" in md  # total: 250 of 299
    assert "needs 299 more checked values with no error" in md  # company: nothing yet
    wrong_on_top = {"date": certify("date", [(0.99, False)] + [(0.9, True)] * 50, 0.99, 0.95)}
    certs = {**certs, **{k: c.as_dict() for k, c in wrong_on_top.items()}}
    md = to_markdown(
        build_report(RECEIPT, cand, None, True, [], analysis, True, certification=certs)
    )
    assert "the most confident value (score 0.99) is wrong: a cut above it needs 299" in md
    assert "Certified thresholds" not in to_markdown(
        build_report(RECEIPT, cand, None, True, [], analysis, True)
    )  # a model trained before certification


def test_report_shows_production_qa_accuracy_with_its_interval() -> None:
    preds, texts, truths = _golden()
    cand = evaluate_predictions(RECEIPT, "v2", preds, [0.01] * 10, texts, truths)
    analysis = analyse(RECEIPT, cand.predictions, texts, truths)
    qa = {
        "version": "v1",
        "n": 40,
        "right": 39,
        "accuracy": 39 / 40,
        "interval": (0.868, 0.999),
        "strict_accuracy": 0.9,
    }
    md = to_markdown(build_report(RECEIPT, cand, None, True, [], analysis, True, production_qa=qa))
    assert "39 of 40 right (97.5%, 95 % interval 0.868-0.999; strict 90.0%)" in md
    none = {**qa, "n": 0}
    md = to_markdown(
        build_report(RECEIPT, cand, None, True, [], analysis, True, production_qa=none)
    )
    assert "QA-measured accuracy of production v1: no QA answer yet." in md


# ---- typed scores: a dict only at the serialisation boundary ------------------------------------


def test_scores_read_back_from_their_json_form_unchanged() -> None:
    preds, texts, truths = _golden()
    ev = evaluate_predictions(RECEIPT, "v2", preds, [0.01] * 10, texts, truths, n_bootstrap=50)
    stored = json.loads(json.dumps(ev.scores.as_dict()))
    back = GoldenScores.from_dict(stored)
    assert back.as_dict() == stored  # the JSON shape survives the round trip
    assert back.fields["company"].tp == ev.scores.fields["company"].tp
    assert back.micro.similarity == ev.scores.micro.similarity
    assert back.touchless_accuracy == 8 / 9 and back.ci == ev.scores.ci
    assert {"micro", "fields", "ci", "automation_at_target", "n_auto"} <= set(stored)
    assert stored["fields"]["total"]["fn"] == 1  # the missed total


def test_a_report_pickled_with_dict_scores_reads_as_typed_scores() -> None:
    import pickle

    preds, texts, truths = _golden()
    ev = evaluate_predictions(RECEIPT, "v2", preds, [0.01] * 10, texts, truths, n_bootstrap=50)
    report = EvaluationReport(
        "v2",
        None,
        GateVerdict(True, (), first_model=True),
        10,
        True,
        None,
        ev.scores,
        None,
        Latency(0.01, 0.01, 100.0, None, None, None),
        {},
    )
    as_json = report.to_dict()
    assert as_json["candidate_scores"] == ev.scores.as_dict()
    assert as_json["production_scores"] is None
    # A report stored before the scores were typed: its scores were the JSON dicts.
    old = object.__new__(EvaluationReport)
    object.__setattr__(
        old, "__dict__", {**report.__dict__, "candidate_scores": ev.scores.as_dict()}
    )
    loaded = pickle.loads(pickle.dumps(old))
    assert isinstance(loaded.candidate_scores, GoldenScores)
    assert loaded.candidate_scores.as_dict() == ev.scores.as_dict()


def test_two_models_are_timed_on_each_document_back_to_back_in_rotating_order(
    monkeypatch,
) -> None:
    """The gate compares the candidate's p95 latency with production's: a burst of load
    during one model's whole pass used to block a candidate with production's own weights."""
    import types

    import spacy

    from docasset.core.evaluation import evaluate

    calls: list[tuple[str, str]] = []
    clock = iter(float(t) for t in range(1000))
    slow = {"d3"}  # the machine is busy while d3 is predicted, whichever model predicts it

    def fake_predict(bundle, doc_id: str, text: str, words=None) -> DocPrediction:
        calls.append((bundle.version, doc_id))
        if doc_id in slow:  # the clock jumps: this call took long
            for _ in range(50):
                next(clock)
        return _pred(doc_id, {}, text)

    monkeypatch.setattr(evaluate, "predict_text", fake_predict)
    monkeypatch.setattr(evaluate.time, "perf_counter", lambda: next(clock))
    nlp = spacy.blank("en")
    docs = []
    for i in range(6):
        d = nlp.make_doc("TOTAL 1.00")
        d.user_data.update(doc_id=f"d{i}", fields={n: "" for n in RECEIPT.names})
        docs.append(d)
    a, b = (types.SimpleNamespace(doctype=RECEIPT, version=v) for v in ("cand", "prod"))
    ev_a, ev_b = evaluate.evaluate_models([a, b], docs, n_bootstrap=10)  # type: ignore[list-item]
    # Each document by both models, back to back; who goes first alternates.
    assert [doc for _, doc in calls] == [f"d{i}" for i in range(6) for _ in range(2)]
    assert [calls[2 * i][0] for i in range(6)] == ["cand", "prod"] * 3
    assert (ev_a.version, ev_b.version) == ("cand", "prod")
    assert len(ev_a.predictions) == len(ev_b.predictions) == 6
    # The slow document is slow for both: their latency tails agree.
    assert ev_a.latency_p95 == ev_b.latency_p95 > 10 * ev_a.latency_p50
