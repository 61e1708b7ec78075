"""Quantize the PP-OCRv6 small det/rec models to int8 (run in the tool venv, see README.md).

    python evals/ppocr_int8/quantize.py --models DIR --calib DIR --out docasset/ocr_models

``--models`` is the ``rapidocr/models`` folder of the project's venv (the fp32 models).
"""

from __future__ import annotations

import argparse
import glob
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import version_converter
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process


class Tensors(CalibrationDataReader):
    """The captured input tensors of one model, one per call."""

    def __init__(self, model: Path, files: list[str]) -> None:
        self.name = onnx.load(model).graph.input[0].name
        self.files = iter(files)

    def get_next(self) -> dict[str, np.ndarray] | None:
        f = next(self.files, None)
        return None if f is None else {self.name: np.load(f)}


def quantize(src: Path, calib: list[str], dst: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        op17, pre = Path(tmp) / "op17.onnx", Path(tmp) / "pre.onnx"
        onnx.save(version_converter.convert_version(onnx.load(src), 17), op17)
        quant_pre_process(str(op17), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre),
            str(dst),
            Tensors(src, calib),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
    model, original = onnx.load(dst), onnx.load(src)
    del model.metadata_props[:]
    model.metadata_props.extend(original.metadata_props)  # the recogniser's character list
    onnx.save(model, dst)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--models", type=Path, required=True)
    p.add_argument("--calib", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    for kind in ("det", "rec"):
        files = sorted(glob.glob(str(a.calib / f"{kind}_*.npy")))
        if not files:
            raise SystemExit(f"no {kind}_*.npy in {a.calib}: run evals.ppocr_int8.capture first")
        dst = a.out / f"PP-OCRv6_{kind}_small.int8.onnx"
        quantize(a.models / f"PP-OCRv6_{kind}_small.onnx", files[:120], dst)
        print(dst)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
