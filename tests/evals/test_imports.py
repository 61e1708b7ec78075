"""Every evaluation script still imports: most are run by hand, so a renamed or moved name in
docasset would otherwise break one silently (``ppocr_int8`` runs in its own tool environment,
see evals/ppocr_int8/README.md, and is not imported here)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

EVALS = Path(__file__).parents[2] / "evals"
SCRIPTS = sorted(p.stem for p in EVALS.glob("*.py") if p.stem != "__init__")


def test_the_scripts_are_found() -> None:
    assert {"run", "bench_ocr", "bench_text_layer", "vendor_ids"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_evaluation_script_imports_and_has_a_main(name: str) -> None:
    module = importlib.import_module(f"evals.{name}")
    assert callable(getattr(module, "main", None)), f"evals/{name}.py has no main()"
