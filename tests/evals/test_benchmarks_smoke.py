"""Smoke tests of the benchmark entry points on 3 pages: they run and print the JSON keys.

No timing assertions: the numbers depend on the machine and its load.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals import bench_generate, bench_intake, bench_ocr, bench_quality


def _json(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, "a benchmark prints exactly one JSON object on stdout"
    return json.loads(out[0])


def test_tag_png_keeps_pixels_and_changes_bytes(receipts_dir: Path, tmp_path: Path) -> None:
    from PIL import Image

    src = sorted((receipts_dir / "img").glob("*.png"))[0]
    [a] = bench_intake.write_pages([src], tmp_path / "a", 1, "x")
    [b] = bench_intake.write_pages([src], tmp_path / "b", 1, "y")
    assert a.read_bytes() != b.read_bytes()
    with Image.open(a) as ia, Image.open(src) as io:
        assert ia.tobytes() == io.tobytes() and ia.info["dpi"] == io.info["dpi"]


def test_bench_ocr_prints_throughputs_and_ratio(
    receipts_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = tmp_path / "img"
    images.mkdir()
    for p in sorted((receipts_dir / "img").glob("*.png"))[:3]:
        (images / p.name).write_bytes(p.read_bytes())
    assert bench_ocr.main(["--images", str(images), "--workers", "2"]) == 0
    out = _json(capsys)
    assert out["pages"] == 3 and out["pipeline_failed_documents"] == 0
    for key in ("pipeline_cpu_s_per_page", "raw_cpu_s_per_page", "cpu_ratio", "wall", "loadavg"):
        assert key in out
    ratio = out["cpu_ratio"]
    assert ratio["min"] <= ratio["median"] <= ratio["max"]  # type: ignore[index]
    assert out["peak_rss_mb"] > 0  # type: ignore[operator]
    assert "deskew" in out["preprocessing"]["applied"]  # type: ignore[index]
    assert len(out["cpu_ratios"]) == 1  # type: ignore[arg-type]  # paired, one per repetition
    assert "key_values_found" not in out  # only with --dataset


def test_bench_ocr_runs_rapidocr_bare_and_in_the_pipeline(
    receipts_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--images", str(receipts_dir), "--engine", "rapidocr", "--limit", "1"]
    assert bench_ocr.main([*argv, "--workers", "1", "--repeat", "2"]) == 0
    out = _json(capsys)
    assert out["engine"]["engine"] == "rapidocr" and out["pages_by_rapidocr"] == 1  # type: ignore[index]
    assert len(out["cpu_ratios"]) == 2 and out["pipeline_words"] > 0  # type: ignore[arg-type,operator]


def test_bench_ocr_tables_engines_with_the_key_values_they_read(
    sroie_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two engines, one process each, on 2 SROIE receipts: the table pairs each engine's CPU
    per page with the key values found in its text (counts and interval)."""
    argv = ["--dataset", str(sroie_dir), "--engine", "tesseract,rapidocr", "--limit", "2"]
    assert bench_ocr.main([*argv, "--workers", "1"]) == 0
    out = _json(capsys)
    table = {row["engine"]: row for row in out["table"]}  # type: ignore[attr-defined]
    assert set(table) == {"tesseract", "rapidocr"}
    for name, row in table.items():
        kv = out["engines"][name]["key_values_found"]  # type: ignore[index]
        assert kv["receipts"] == 2 and 0 < kv["of"] <= 8 and 0 <= kv["found"] <= kv["of"]
        low, high = kv["interval95"]
        assert low <= kv["found"] / kv["of"] <= high
        assert row["key_values_found"] == kv["share"] and row["peak_rss_mb"] > 0
        assert row["pipeline_cpu_s_per_page"] > 0 and row["raw_cpu_s_per_page"] > 0


def test_bench_intake_memory_then_incremental(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = tmp_path / "work"
    assert bench_intake.main(["memory", "--pages", "3", "--work", str(work)]) == 0
    mem = _json(capsys)
    assert mem["peak_rss_mb"]["3"] > 0  # type: ignore[index]
    assert {"ratio_max_over_min", "runs", "sizes"} <= set(mem)
    # Reuses the memory run's 3-page working directory as the base.
    argv = ["incremental", "--base", "3", "--new", "1", "--work", str(work)]
    assert bench_intake.main(argv) == 0
    inc = _json(capsys)
    for key in ("on_base_s", "on_empty_s", "ratio_base_over_empty", "intake_total_reads"):
        assert key in inc
    assert inc["ocr_pages_on_base"] == 1 and inc["ocr_only_new_docs"] is True
    assert inc["old_data_files_read_atime"] == [] and inc["old_data_files_opened"] == []
    assert inc["old_files_modified"] == []


def test_bench_quality_prints_cpu_time_against_its_budget(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench_quality.main(["--reps", "2"]) == 0
    out = _json(capsys)
    assert out["reps"] == 2 and out["page_px"] == [1000, 2000]
    assert 0 < out["cpu_s_median"] <= out["cpu_s_max"]  # type: ignore[operator]
    assert out["within_budget"] == (out["cpu_s_median"] <= out["budget_s"])  # type: ignore[operator]


def test_bench_generate_prints_its_timings(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_generate.main(["--n", "3", "--repeat", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["receipts"] == 3 and len(out["wall_s"]) == len(out["cpu_s"]) == 2
    assert out["median_wall_s"] > 0 and out["receipts_per_s"] > 0


def test_tree_cpu_seconds_counts_live_children(tmp_path: Path) -> None:
    # bench_run_cost --server-pid: the Postgres backends' CPU is counted through /proc.
    import os
    import subprocess
    import sys

    from evals.bench_run_cost import tree_cpu_seconds

    busy = (
        "import sys, time\n"
        "while time.process_time() < 0.5: pass\n"
        "print('done', flush=True)\n"
        "sys.stdin.read()\n"  # stay alive (a live child) until the test has read /proc
    )
    before = tree_cpu_seconds(os.getpid())
    child = subprocess.Popen(
        [sys.executable, "-c", busy], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "done"
        assert tree_cpu_seconds(os.getpid()) - before >= 0.45
    finally:
        child.communicate("")
    assert tree_cpu_seconds(-1) == 0.0  # no such process: nothing counted
