"""Atomic writes: all or nothing, and files the team can read (not mkstemp's 0600)."""

from __future__ import annotations

from pathlib import Path

from docasset.core.files import REPORT_MODE, atomic_write


def test_atomic_write_makes_group_readable_files_by_default(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    atomic_write(path, b"<p>hi</p>")
    assert path.read_bytes() == b"<p>hi</p>"
    assert path.stat().st_mode & 0o777 == REPORT_MODE == 0o644
    atomic_write(path, b"again")  # replacing keeps the mode
    assert path.read_bytes() == b"again" and path.stat().st_mode & 0o777 == 0o644


def test_atomic_write_honours_an_explicit_mode_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.json"
    atomic_write(path, b"{}", mode=0o600)
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret.json"]
