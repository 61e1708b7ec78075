"""The engine names the command line offers are the engines OcrConfig accepts, and reading
them loads no engine."""

from __future__ import annotations

import subprocess
import sys
import typing

from docasset.core.ocr.names import DEFAULT_ENGINE, ENGINE_NAMES
from docasset.core.ocr.tesseract import OcrConfig


def test_the_names_are_ocr_configs_engines_and_its_default() -> None:
    hint = typing.get_type_hints(OcrConfig)["engine"]
    assert typing.get_args(hint) == ENGINE_NAMES
    assert OcrConfig().engine == DEFAULT_ENGINE


def test_building_the_command_line_loads_no_ocr_engine() -> None:
    code = (
        "import sys; from docasset.cli import build_parser; build_parser(); "
        "print(sorted(m for m in sys.modules if m.startswith(('docasset.core.ocr.', 'spacy', "
        "'pandera'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['docasset.core.ocr.names']", out.stdout
