"""The OCR engines' names and the default engine, importable without loading an engine (the
command line builds its ``--ocr-engine`` option from them on every start)."""

from __future__ import annotations

from typing import Literal, get_args

EngineName = Literal["tesseract", "rapidocr", "hybrid"]
ENGINE_NAMES: tuple[str, ...] = get_args(EngineName)
# Why hybrid: see OcrConfig.engine (docasset.core.ocr.tesseract).
DEFAULT_ENGINE: EngineName = "hybrid"
