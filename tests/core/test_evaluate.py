from __future__ import annotations

from docasset.core.evaluate import GateConfig, ModelEvaluation, regression_verdict
from docasset.core.fields import load_doctype

RECEIPT = load_doctype("receipt")


def _eval(
    f1: dict[str, float], correct: dict[str, set[str]], auto: float = 0.5, p95: float = 0.01
) -> ModelEvaluation:
    scores = {"fields": {k: {"f1": v} for k, v in f1.items()}, "automation_rate": auto}
    return ModelEvaluation("v", scores, 0.01, p95, 100.0, [], correct)


DOCS = {f"d{i}" for i in range(10)}
BASE = {k: 1.0 for k in RECEIPT.names}
ALL = {k: set(DOCS) for k in RECEIPT.names}


def test_first_model_passes() -> None:
    ok, reasons = regression_verdict(RECEIPT, _eval(BASE, ALL), None, GateConfig())
    assert ok and "no production model" in reasons[0]


def test_field_regression_blocks_when_several_documents_flip() -> None:
    cand = {**ALL, "total": DOCS - {"d1", "d2", "d3"}}
    ok, reasons = regression_verdict(
        RECEIPT, _eval({**BASE, "total": 0.7}, cand), _eval(BASE, ALL), GateConfig()
    )
    assert (
        not ok
        and reasons[0].startswith("total F1 dropped")
        and "3 golden documents newly wrong" in reasons[0]
    )


def test_a_single_flip_is_noise() -> None:
    cand = {**ALL, "total": DOCS - {"d1"}}
    ok, _ = regression_verdict(
        RECEIPT, _eval({**BASE, "total": 0.9}, cand), _eval(BASE, ALL), GateConfig()
    )
    assert ok
    strict = GateConfig(min_net_docs=1)
    assert not regression_verdict(
        RECEIPT, _eval({**BASE, "total": 0.9}, cand), _eval(BASE, ALL), strict
    )[0]


def test_automation_and_latency_regressions_block() -> None:
    prod = _eval(BASE, ALL, auto=0.6, p95=0.04)
    assert not regression_verdict(
        RECEIPT, _eval(BASE, ALL, auto=0.4, p95=0.04), prod, GateConfig()
    )[0]
    ok, reasons = regression_verdict(
        RECEIPT, _eval(BASE, ALL, auto=0.6, p95=0.5), prod, GateConfig()
    )
    assert not ok and "latency" in reasons[0]
